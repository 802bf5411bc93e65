// queue_command.cpp: `postern queue`: the listing (mailq text or --json, with filters),
// `show ID`, and the management verbs delete|hold|release|requeue|flush. A management
// request goes to qmgr when postern runs (it coordinates with deliveries in flight) and is
// done on the files, under the master lock, when it does not; never both.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "log.h"
#include "offline_lock.h"
#include "qmgr_control.h"
#include "queue_fs_store.h"
#include "queue_id.h"
#include "queue_listing.h"
#include "queue_manage.h"
#include "queue_show.h"

namespace postern::cli {

namespace qp = qmgr_protocol;
using queue::QueueName;

namespace {

// qmgr may have to cancel deliveries in flight before it answers.
constexpr std::chrono::seconds kControlTimeout(120);

int usage(const std::string& message) {
    printError("queue: " + message);
    printCommandUsage(*findCommand("queue"), stderr);
    return kExitUsage;
}

struct ListOptions {
    bool json = false;
    ListFilter filter;
};

// Parses the listing options; nullopt (after saying why) on a bad one.
std::optional<ListOptions> parseListOptions(const CommandArgs& args) {
    ListOptions options;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        bool hasValue = i + 1 < args.size();
        if (arg == "--json" || arg == "-j") {
            options.json = true;
        } else if ((arg == "--queue" || arg == "-q") && hasValue) {
            auto queue = queue::queueNameFromString(args[++i]);
            if (!queue) {
                usage("unknown queue \"" + args[i] + "\"");
                return std::nullopt;
            }
            options.filter.queues.push_back(*queue);
        } else if (arg == "--sender" && hasValue) {
            options.filter.sender = args[++i];
        } else if (arg == "--domain" && hasValue) {
            options.filter.recipientDomain = args[++i];
        } else {
            usage("unknown option or missing value: \"" + arg + "\"");
            return std::nullopt;
        }
    }
    return options;
}

// True when the queue directory exists; says so when it does not (postern never ran).
bool queueDirectoryExists(const Config& config) {
    std::error_code error;
    if (std::filesystem::is_directory(config.queue_directory, error)) return true;
    printError("warning: the queue directory " + config.queue_directory +
               " does not exist (postern has not run with this configuration)");
    return false;
}

int listQueue(const Config& config, const ListOptions& options) {
    if (!queueDirectoryExists(config)) {
        if (!options.json) std::fputs(MailqFormatter().finish().c_str(), stdout);
        return kExitOk;
    }
    queue::FsQueueStore store(config.queue_directory);
    MailqFormatter formatter;
    int status = kExitOk;
    auto listed = forEachListedMessage(
        store, options.filter,
        [&](const ListedMessage& message) {
            std::string text = options.json ? formatJsonLine(message) : formatter.message(message);
            std::fwrite(text.data(), 1, text.size(), stdout);
        },
        [&](const std::string& warning) {
            printError("warning: " + warning);
            status = kExitFailure;
        });
    if (!listed) {
        printError("cannot read the queue: " + listed.error());
        return kExitFailure;
    }
    if (!options.json) std::fputs(formatter.finish().c_str(), stdout);
    return std::fflush(stdout) == 0 ? status : kExitFailure;
}

int showCommand(const Config& config, const CommandArgs& args) {
    std::string id;
    ShowParts parts{false, false, false};
    for (const auto& arg : args) {
        if (arg == "--envelope") {
            parts.envelope = true;
        } else if (arg == "--headers") {
            parts.headers = true;
        } else if (arg == "--body") {
            parts.body = true;
        } else if (id.empty() && arg[0] != '-') {
            id = arg;
        } else {
            return usage("show: unexpected \"" + arg + "\"");
        }
    }
    if (id.empty()) return usage("show needs a queue ID");
    if (!queue::isValidQueueId(id)) return usage("show: invalid queue ID \"" + id + "\"");
    if (!parts.envelope && !parts.headers && !parts.body)
        parts.envelope = parts.headers = parts.body = true;
    queue::FsQueueStore store(config.queue_directory);
    auto where = store.find(id);
    if (!where) return printError(where.error()), kExitFailure;
    if (!where.value()) return printError(id + ": no such message"), kExitFailure;
    auto handle = store.open(*where.value(), id, queue::Access::ReadOnly);
    if (!handle) return printError(handle.error()), kExitFailure;
    auto shown = showMessage(*where.value(), *handle.value(), parts, stdout);
    if (!shown) return printError(id + ": " + shown.error()), kExitFailure;
    return kExitOk;
}

// The IDs of a management verb: IDs, ALL, or "-" for whitespace-separated IDs on stdin.
// Invalid IDs are reported and left out (`invalid` is set).
std::vector<std::string> collectIds(const CommandArgs& words, bool& invalid) {
    std::vector<std::string> ids;
    auto take = [&](const std::string& word) {
        if (queue::isValidQueueId(word)) {
            ids.push_back(word);
        } else {
            printError("warning: invalid queue ID \"" + word + "\"");
            invalid = true;
        }
    };
    for (const auto& word : words) {
        if (word != "-") {
            take(word);
            continue;
        }
        for (std::string token; std::cin >> token;) take(token);
    }
    return ids;
}

// Opens the log for the file operations, as postern/postsuper (like Postfix's postsuper).
void openOfflineLog(const Config& config) {
    if (auto opened = log::init("postsuper", config.log_file); !opened) {
        printError("warning: cannot open the log " + config.log_file + ": " + opened.error() +
                   "; the changes below are not logged");
        log::setSink([](log::Level, const std::string&) {});
    }
}

}  // namespace

int runQueueManagement(const Config& config, const qp::ControlRequest& request) {
    auto lock = OfflineQueueLock::tryAcquire(config.queue_directory);
    if (!lock) return printError(lock.error()), kExitFailure;
    qp::ControlReply reply;
    if (!lock.value().has_value()) {
        std::string socket = qmgrSocketPath(config.queue_directory);
        auto answered = sendControlRequest(socket, request, kControlTimeout);
        if (!answered) {
            printError("fatal: postern is running but its queue manager did not answer (" +
                       answered.error() + "); nothing was changed, try again");
            return kExitTempFail;
        }
        reply = answered.value();
    } else {
        if (!queueDirectoryExists(config)) return kExitFailure;
        printError("not running: changing the queue files directly");
        openOfflineLog(config);
        queue::FsQueueStore store(config.queue_directory);
        reply = manageOffline(store, request);
    }
    for (const auto& id : reply.done) std::printf("%s: %s\n", id.c_str(), doneVerb(request.op));
    std::fflush(stdout);
    for (const auto& id : reply.missing) printError("warning: " + id + ": not found");
    std::string summary = reply.text.empty() ? std::string(qp::opName(request.op)) + ": " +
                                                   std::to_string(reply.done.size()) + " done"
                                             : reply.text;
    printError((reply.ok ? "" : "error: ") + summary);
    return reply.ok && reply.missing.empty() ? kExitOk : kExitFailure;
}

int runQueueList(const CommandContext& context, const CommandArgs& args) {
    auto options = parseListOptions(args);
    if (!options) return kExitUsage;
    auto config = loadConfigOrReport(context);
    if (!config) return kExitFailure;
    return listQueue(*config, *options);
}

int runQueueCommand(const CommandContext& context, const CommandArgs& args) {
    if (args.empty() || args[0].starts_with("-")) return runQueueList(context, args);
    const std::string& verb = args[0];
    CommandArgs rest(args.begin() + 1, args.end());
    if (verb == "list") return runQueueList(context, rest);
    auto op = qp::parseOp(verb);
    if (verb != "show" && !op) return usage("unknown command \"" + verb + "\"");
    auto config = loadConfigOrReport(context);
    if (!config) return kExitFailure;
    if (verb == "show") return showCommand(*config, rest);

    qp::ControlRequest request{*op, {}};
    bool all = rest.size() == 1 && rest[0] == qp::kAllMessages;
    bool invalid = false;
    if (all) {
        request.ids = {qp::kAllMessages};
    } else {
        for (const auto& word : rest)
            if (word == qp::kAllMessages) return usage("ALL cannot be mixed with queue IDs");
        request.ids = collectIds(rest, invalid);
    }
    // No IDs means every deferred message only for flush; for the others it means nothing.
    bool nothingNamed = request.ids.empty() && (*op != qp::ControlOp::Flush || !rest.empty());
    if (rest.empty() && *op != qp::ControlOp::Flush) return usage(verb + " needs queue IDs or ALL");
    if (nothingNamed) {
        printError(verb + ": no valid queue IDs given; nothing done");
        return kExitFailure;
    }
    int status = runQueueManagement(*config, request);
    return invalid ? kExitFailure : status;
}

}  // namespace postern::cli
