// postern_main.cpp: the `postern` command: global options (-c FILE, --help), then one
// subcommand from the table in commands.cpp.
#include <cstring>

#include "commands.h"
#include "paths.h"

using namespace postern::cli;

namespace {

// Says what was wrong with the command line, then how to use it; EX_USAGE.
int usageError(const std::string& message) {
    printError(message);
    printUsage(stderr);
    return kExitUsage;
}

bool asksForHelp(const CommandArgs& args) {
    for (const auto& arg : args) {
        if (arg == "--") return false;
        if (arg == "--help") return true;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    CommandContext context;
    int next = 1;
    for (; next < argc && argv[next][0] == '-'; ++next) {
        std::string option = argv[next];
        if (option == "--help" || option == "-h") {
            printUsage(stdout);
            return kExitOk;
        }
        if (option == "-c") {
            if (next + 1 >= argc) return usageError("-c needs a FILE");
            context.configPath = argv[++next];
            context.configPathGiven = true;
        } else {
            return usageError("unknown option \"" + option + "\"");
        }
    }
    if (next >= argc) return usageError("no command given");
    const Command* command = findCommand(argv[next]);
    if (command == nullptr)
        return usageError(std::string("unknown command \"") + argv[next] + "\"");
    CommandArgs args(argv + next + 1, argv + argc);
    if (asksForHelp(args)) {
        printCommandUsage(*command, stdout);
        return kExitOk;
    }
    if (!context.configPathGiven) context.configPath = postern::defaultConfigPath();
    return command->run(context, args);
}
