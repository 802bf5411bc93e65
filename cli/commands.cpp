// commands.cpp: the table of `postern` subcommands and the helpers they share (usage
// text, loading the configuration with errors on stderr). See commands.h.
#include "commands.h"

#include <sstream>

namespace postern::cli {

const std::vector<Command>& commandTable() {
    static const std::vector<Command> table = {
        {"check", "", "validate the configuration file",
         "Reads and validates the configuration, and checks that the files it names exist.\n"
         "Prints each problem as FILE:LINE: message; exits 0 when there is none.\n",
         runCheckCommand},
        {"config", "[-n | -d] [NAME...]", "print configuration parameters",
         "Prints `name = value` lines, sorted by name: the effective values, or\n"
         "  -n  only the parameters the file sets\n"
         "  -d  the default values (the file is not read)\n"
         "With NAMEs, only those parameters.\n",
         runConfigCommand},
        {"queue", "[--json] [-q QUEUE] [--sender ADDR] [--domain DOMAIN]",
         "list, show and manage the mail queue",
         "  postern queue [--json] [-q|--queue QUEUE]... [--sender ADDR] [--domain DOMAIN]\n"
         "      lists the queue like Postfix's mailq (ID* active, ID! on hold), or as\n"
         "      postqueue -j JSON Lines; QUEUE is incoming, active, deferred, hold or corrupt;\n"
         "      --sender MAILER-DAEMON matches the null sender; --domain .example.com\n"
         "      matches the domains below example.com\n"
         "  postern queue show ID [--headers] [--body]\n"
         "      the envelope, each recipient's state and reason, the header and the body\n"
         "  postern queue delete|hold|release|requeue ID... | ALL | -\n"
         "      removes, holds, releases, or requeues (re-routes) messages; - reads IDs\n"
         "      from standard input; logged like Postfix's postsuper\n"
         "  postern queue flush [ID...]\n"
         "      makes deferred mail (or the named messages) due now\n"
         "While postern runs, management goes through its queue manager, which cancels a\n"
         "delivery in flight before it answers; while it is stopped, the command changes the\n"
         "queue files itself, holding the master lock.\n",
         runQueueCommand},
    };
    return table;
}

const Command* findCommand(std::string_view name) {
    for (const auto& command : commandTable()) {
        if (name == command.name) return &command;
    }
    return nullptr;
}

void printUsage(std::FILE* out) {
    std::fprintf(out,
                 "usage: postern [-c FILE] COMMAND [ARGS...]\n"
                 "       postern COMMAND --help\n\n"
                 "  -c FILE  the configuration file (default: $POSTERN_CONF, conf/postern.conf\n"
                 "           or /etc/postern/postern.conf)\n\ncommands:\n");
    for (const auto& command : commandTable()) {
        std::string call = std::string(command.name) + " " + command.synopsis;
        std::fprintf(out, "  %-28s %s\n", call.c_str(), command.summary);
    }
}

void printCommandUsage(const Command& command, std::FILE* out) {
    std::fprintf(out, "usage: postern [-c FILE] %s %s\n\n%s\n%s", command.name, command.synopsis,
                 command.summary, command.details);
}

void printError(const std::string& message) {
    std::fprintf(stderr, "postern: %s\n", message.c_str());
}

std::optional<Config> loadConfigOrReport(const CommandContext& context) {
    auto config = loadConfig(context.configPath);
    if (config) return std::move(config.value());
    std::istringstream lines(config.error());
    for (std::string line; std::getline(lines, line);) printError(line);
    return std::nullopt;
}

}  // namespace postern::cli
