// check_command.cpp: `postern check`: loads and validates the configuration, checks that
// the files it names exist, that each certificate matches its key and has not expired
// (and warns about one that expires within 30 days), and that the queue directory has the
// modes and owner the daemons need; nothing is started. Problems go to stderr as
// "postern: FILE:LINE: message", warnings as "postern: warning: ..."; exit 0 means no
// problem.
#include "check_runtime.h"
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
    // Certificates that are missing were reported above; read only the others.
    if (problems.empty()) {
        CheckReport certificates = checkCertificates(*config, context.configPath);
        problems.insert(problems.end(), certificates.problems.begin(),
                        certificates.problems.end());
        for (const auto& warning : certificates.warnings) printError("warning: " + warning);
    }
    auto owner = expectedQueueOwner(*config);
    if (!owner) {
        problems.push_back(context.configPath + ": mail_owner: " + owner.error());
    } else {
        CheckReport queue = checkQueuePermissions(*config, owner.value());
        problems.insert(problems.end(), queue.problems.begin(), queue.problems.end());
    }
    for (const auto& problem : problems) printError(problem);
    return problems.empty() ? kExitOk : kExitFailure;
}

}  // namespace postern::cli
