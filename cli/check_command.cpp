// check_command.cpp: `postern check`: loads and validates the configuration and checks
// that the files it names exist, without starting anything. Problems go to stderr as
// "postern: FILE:LINE: message"; exit 0 means none.
#include "commands.h"
#include "config_check.h"

namespace postern::cli {

int runCheckCommand(const CommandContext& context, const CommandArgs& args) {
    if (!args.empty()) {
        printCommandUsage(*findCommand("check"), stderr);
        return kExitUsage;
    }
    auto config = loadConfigOrReport(context);
    if (!config) return kExitFailure;
    auto problems = checkConfigFiles(*config, context.configPath);
    for (const auto& problem : problems) printError(problem);
    return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace postern::cli
