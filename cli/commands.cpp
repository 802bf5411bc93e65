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
        {"start", "[--foreground]", "start the mail system",
         "Checks the configuration, then starts master, which binds the listening sockets\n"
         "and starts the services. Without --foreground, master runs detached and this\n"
         "command returns once it runs (printing its PID) or says why it could not start.\n"
         "With --foreground, this process becomes master (make run, systemd); SIGTERM or\n"
         "Ctrl-C stops it.\n",
         runStartCommand},
        {"stop", "", "stop the mail system",
         "Tells master to stop (SIGTERM): it stops accepting, lets sessions and deliveries\n"
         "in progress finish (for a bounded time), then exits. Waits until it has stopped.\n",
         runStopCommand},
        {"reload", "", "re-read the configuration",
         "Checks the configuration first (a broken file is reported and nothing changes),\n"
         "then tells master (SIGHUP) to re-read it: new processes start with it while the\n"
         "old ones finish their sessions and deliveries.\n",
         runReloadCommand},
        {"status", "", "say whether the mail system runs",
         "Prints the PID of the running master and exits 0; exits 1 when it is not running.\n",
         runStatusCommand},
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
