// commands.cpp: the table of `postern` subcommands and the helpers they share (usage
// text, loading the configuration with errors on stderr). See commands.h.
#include "commands.h"

#include <sstream>

namespace postern::cli {

const std::vector<Command>& commandTable() {
    static const std::vector<Command> table = {
        {"check", "", "validate the configuration file",
         "Reads and validates the configuration, and checks that the files it names exist,\n"
         "that each certificate (smtpd.tls.cert_file, a route's tls.cert_file) matches its\n"
         "key and has not expired, and that the queue directory's folders and files have\n"
         "the modes and owner (mail_owner when run as root) the daemons need. Prints each\n"
         "problem as FILE:LINE: message and warns about certificates that expire within\n"
         "30 days; exits 0 when there is no problem.\n",
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
        {"queue", "[--json] | VERB [ID...]",
         "list, show and manage the mail queue",
         "  postern queue [--json] [-q|--queue QUEUE]... [--sender ADDR] [--domain DOMAIN]\n"
         "      lists the queue like Postfix's mailq (ID* active, ID! on hold), or as\n"
         "      postqueue -j JSON Lines; QUEUE is incoming, active, deferred, hold or corrupt;\n"
         "      --sender MAILER-DAEMON matches the null sender; --domain .example.com\n"
         "      matches the domains below example.com\n"
         "  postern queue show ID [--envelope] [--headers] [--body]\n"
         "      the envelope with each recipient's state and reason, the header, the body\n"
         "      (all three unless some are chosen)\n"
         "  postern queue delete|hold|release|requeue ID... | ALL | -\n"
         "      removes, holds, releases, or requeues (re-routes) messages; - reads IDs\n"
         "      from standard input; logged like Postfix's postsuper\n"
         "  postern queue flush [ID...]\n"
         "      makes deferred mail (or the named messages) due now\n"
         "While postern runs, management goes through its queue manager, which cancels a\n"
         "delivery in flight before it answers; while it is stopped, the command changes the\n"
         "queue files itself, holding the master lock.\n",
         runQueueCommand},
        {"cert", "create | show ...",
         "create a key and certificate, or show a certificate file",
         "  postern cert create --cn HOST [--bits 2048|3072|4096] [--days N | --years N]\n"
         "          [--org O] [--ou OU] [--locality L] [--state ST] [--country CC]\n"
         "          [--email ADDR] [--san NAME...] --out DIR [--force]\n"
         "      writes DIR/key.pem (mode 0600) and DIR/cert.pem, a self-signed certificate\n"
         "      for HOST (365 days and 2048 bits unless told); --san adds names or IP\n"
         "      addresses to the subjectAltName (HOST is always one); existing files are\n"
         "      kept unless --force\n"
         "  postern cert show FILE [--key KEYFILE]\n"
         "      each certificate of FILE in order (subject, issuer, validity, names,\n"
         "      SHA-256 fingerprint, self-signed or not), whether the chain is in order and\n"
         "      complete (up to a self-signed root or a CA the system trusts), and whether\n"
         "      KEYFILE is the key of the first certificate; exits 1 when the chain is out\n"
         "      of order or the key does not match\n",
         runCertCommand},
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
