// sendmail_command.cpp: the `sendmail` and `mailq` compatibility commands. sendmail reads
// a message on standard input and submits it over SMTP to smtpd on QUEUE/public/submit
// (smtpd knows the user from the socket); -bs relays an SMTP session from stdin/stdout
// there; -bp lists the queue and -q flushes it like `postern queue`. Errors read
// "sendmail: fatal: ..." and exit with a sysexits status.
#include "sendmail_command.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "address.h"
#include "commands.h"
#include "paths.h"
#include "sendmail_message.h"
#include "sendmail_options.h"
#include "smtp_relay.h"
#include "smtp_submit.h"

namespace postern::cli {

namespace {

constexpr std::chrono::seconds kSubmitTimeout(300);  // smtpd's own timeout is as long
constexpr int kExConfig = 78;                        // EX_CONFIG

constexpr const char* kSendmailUsage =
    "usage: sendmail [-t] [-i|-oi] [-f sender] [-F name] [-N dsn] [-R full|hdrs] [-V envid]\n"
    "                [-B 7BIT|8BITMIME] [-C file] [-v] [recipient...]\n"
    "       sendmail -bs | -bp | -q | -qI<id>\n"
    "  reads a message on standard input and submits it to postern (public/submit)\n"
    "  -t       recipients also from To:, Cc: and Bcc: (Bcc: is removed)\n"
    "  -i, -oi  a line with a lone \".\" does not end the message\n"
    "  -f, -r   the envelope sender (-f '<>' for the null sender); default: you@myorigin\n"
    "  -F       the full name for the From: header added when there is none\n"
    "  -N       DSN NOTIFY: never, or success,failure,delay   -R  DSN RET   -V  DSN ENVID\n"
    "  -bs      SMTP on standard input and output   -bp  list the queue (mailq)\n"
    "  -q       deliver deferred mail now            -C   the configuration file\n"
    "Other Sendmail options are accepted and ignored. Exit status per sysexits.h.\n";

int fatal(int status, const std::string& message) {
    std::fprintf(stderr, "sendmail: fatal: %s\n", message.c_str());
    return status;
}

std::string submitSocketPath(const Config& config) {
    return config.queue_directory + "/public/submit";
}

Result<TimedSocket> connectToPostern(const Config& config) {
    auto socket = TimedSocket::connectUnix(submitSocketPath(config), kSubmitTimeout);
    if (!socket) return fail("postern is not running (" + socket.error() + ")");
    return socket;
}

// The invoking user's address: login name @ myorigin.
std::string defaultSender(const Config& config) {
    const passwd* user = ::getpwuid(::getuid());
    std::string name = user && user->pw_name ? user->pw_name : "nobody";
    return qualifyAddress(name, config.myorigin);
}

// -F, else $NAME, else the first field of the user's GECOS.
std::string fullName(const SendmailOptions& options) {
    if (options.fullName) return *options.fullName;
    if (const char* name = std::getenv("NAME"); name && *name) return name;
    const passwd* user = ::getpwuid(::getuid());
    std::string gecos = user && user->pw_gecos ? user->pw_gecos : "";
    return gecos.substr(0, gecos.find(','));
}

// Checks an address's syntax as an SMTP path; the error names it.
Status checkAddress(const std::string& address, PathType type, const char* role) {
    AddressOptions options;
    options.smtputf8 = true;
    options.lenientLength = true;
    auto parsed = parsePath("<" + address + ">", type, options);
    if (!parsed) return fail(std::string("bad ") + role + " address syntax: <" + address + ">");
    return {};
}

// Command-line and -t recipients, each completed with @myorigin, without repeats.
std::vector<std::string> collectRecipients(const SendmailOptions& options,
                                           const std::vector<std::string>& fromHeaders,
                                           const Config& config) {
    std::vector<std::string> all;
    for (const auto& argument : options.recipients)
        for (const auto& address : parseAddressList(argument)) all.push_back(address);
    all.insert(all.end(), fromHeaders.begin(), fromHeaders.end());
    std::vector<std::string> unique;
    for (const auto& address : all) {
        std::string qualified = qualifyAddress(address, config.myorigin);
        if (std::find(unique.begin(), unique.end(), qualified) == unique.end())
            unique.push_back(qualified);
    }
    return unique;
}

int deliver(const SendmailOptions& options, const Config& config) {
    std::string sender = options.sender ? qualifyAddress(*options.sender, config.myorigin)
                                        : defaultSender(config);
    if (auto checked = checkAddress(sender, PathType::reverse, "sender"); !checked)
        return fatal(kExDataErr, checked.error());
    // Beyond the size limit smtpd would refuse it anyway: stop reading rather than hoard it.
    uint64_t limit = static_cast<uint64_t>(std::max<int64_t>(config.message_size_limit, 0));
    auto input = readMessage(STDIN_FILENO, options.ignoreDots, limit);
    if (!input && input.error() == kMessageTooBig)
        return fatal(kExDataErr, "message too big: over message_size_limit (" +
                                     std::to_string(limit) + " bytes)");
    if (!input) return fatal(kExTempFail, input.error());
    PreparedMessage message = prepareMessage(
        std::move(input.value()), {options.extractRecipients, sender, fullName(options)});
    auto recipients = collectRecipients(options, message.headerRecipients, config);
    if (recipients.empty()) {
        return fatal(kExitUsage, options.extractRecipients
                                     ? "no recipient addresses found in message header"
                                     : "no recipients specified");
    }
    for (const auto& recipient : recipients) {
        if (auto checked = checkAddress(recipient, PathType::forward, "recipient"); !checked)
            return fatal(kExDataErr, checked.error());
    }
    auto socket = connectToPostern(config);
    if (!socket) return fatal(kExTempFail, socket.error());
    Submission submission{config.myhostname, sender, recipients, options.notify, options.ret,
                          options.envid, options.bodyType, std::move(message.content)};
    SubmitOutcome outcome = submitMessage(socket.value(), submission);
    for (const auto& problem : outcome.problems)
        std::fprintf(stderr, "sendmail: %s\n", problem.c_str());
    if (outcome.status != 0) return fatal(outcome.status, "message not sent");
    if (options.verbose && !outcome.queueId.empty())
        std::fprintf(stderr, "sendmail: queued as %s\n", outcome.queueId.c_str());
    return kExitOk;
}

// -bs: relays an SMTP session between stdin/stdout and smtpd.
int relaySmtp(const Config& config) {
    auto socket = connectToPostern(config);
    if (!socket) {
        std::printf("421 4.3.0 postern is not running\r\n");
        return fatal(kExTempFail, socket.error());
    }
    return relaySmtpSession(socket.value(), STDIN_FILENO, STDOUT_FILENO);
}

}  // namespace

int runSendmail(const std::vector<std::string>& args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::printf("%s", kSendmailUsage);
        return kExitOk;
    }
    auto options = parseSendmailOptions(args);
    if (!options) {
        fatal(kExitUsage, options.error());
        std::fprintf(stderr, "%s", kSendmailUsage);
        return kExitUsage;
    }
    if (options->verbose)
        for (const auto& note : options->notes) std::fprintf(stderr, "sendmail: %s\n", note.c_str());
    CommandContext context;
    context.configPathGiven = options->configFile.has_value();
    context.configPath = options->configFile.value_or(defaultConfigPath());
    if (options->mode == SendmailMode::ListQueue) return runQueueList(context, {});
    if (options->mode == SendmailMode::Nothing) return kExitOk;
    auto config = loadConfig(context.configPath);
    if (!config) return fatal(kExConfig, config.error());
    switch (options->mode) {
        case SendmailMode::FlushQueue: {
            qmgr_protocol::ControlRequest flush{qmgr_protocol::ControlOp::Flush, {}};
            if (!options->flushId.empty()) flush.ids = {options->flushId};
            return runQueueManagement(config.value(), flush);
        }
        case SendmailMode::Smtp:
            return relaySmtp(config.value());
        default:
            return deliver(options.value(), config.value());
    }
}

int runMailq(const std::vector<std::string>& args) {
    CommandContext context;
    CommandArgs listArgs;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "-C" && i + 1 < args.size()) {
            context.configPath = args[++i];
            context.configPathGiven = true;
        } else if (args[i] == "-v" || args[i].starts_with("-A")) {
            continue;  // Sendmail's mailq options for verbosity and the client queue
        } else if (args[i] == "--help" || args[i] == "-h") {
            std::printf("usage: mailq [-C FILE] [--json] [-q QUEUE] [--sender ADDR] "
                        "[--domain DOMAIN]\n  the mail queue, as `postern queue` lists it\n");
            return kExitOk;
        } else {
            listArgs.push_back(args[i]);
        }
    }
    if (!context.configPathGiven) context.configPath = defaultConfigPath();
    return runQueueList(context, listArgs);
}

}  // namespace postern::cli
