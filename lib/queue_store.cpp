// queue_store.cpp: the queue operations both backends share, built on their primitives.
#include "queue_store.h"

#include "queue_id.h"

namespace postern::queue {

namespace {

constexpr std::string_view kTemporaryPrefix = ".tmp-";

// Fails unless `id` is a valid queue ID. The name may come from a command line and the
// error may be logged, so it is shown cut short and with control characters replaced.
Status checkId(std::string_view id) {
    if (isValidQueueId(id)) return {};
    std::string shown(id.substr(0, 64));
    for (char& c : shown) {
        if (uint8_t(c) < 0x20 || c == 0x7F) c = '?';
    }
    return fail("not a queue ID: \"" + shown + "\"");
}

}  // namespace

std::string_view queueDirectoryName(QueueName queue) {
    switch (queue) {
        case QueueName::Incoming: return "incoming";
        case QueueName::Active: return "active";
        case QueueName::Deferred: return "deferred";
        case QueueName::Hold: return "hold";
        case QueueName::Corrupt: return "corrupt";
    }
    return "unknown";
}

std::optional<QueueName> queueNameFromString(std::string_view name) {
    for (QueueName queue : kAllQueues) {
        if (queueDirectoryName(queue) == name) return queue;
    }
    return std::nullopt;
}

std::string temporaryFileName(std::string_view id) {
    return std::string(kTemporaryPrefix) + std::string(id);
}

bool isTemporaryFileName(std::string_view name) {
    return name.size() > kTemporaryPrefix.size() && name.substr(0, kTemporaryPrefix.size()) ==
                                                        kTemporaryPrefix;
}

Error notInQueue(std::string_view id, QueueName queue) {
    return fail(std::string(id) + ": not in " + std::string(queueDirectoryName(queue)));
}

Error alreadyInQueue(std::string_view id, QueueName queue) {
    return fail(std::string(id) + ": already in " + std::string(queueDirectoryName(queue)));
}

Result<std::unique_ptr<MessageWriter>> QueueStore::createMessage(
    const Envelope& envelope, const std::vector<Recipient>& recipients) {
    std::string id = newQueueId();
    auto sink = createSink(id);
    if (!sink) return sink.failure();
    return MessageWriter::begin(std::move(id), envelope, recipients, std::move(sink.value()));
}

Result<std::unique_ptr<MessageHandle>> QueueStore::open(QueueName queue, std::string_view id,
                                                        Access access) {
    if (auto ok = checkId(id); !ok) return ok.failure();
    auto file = openFile(queue, std::string(id), access);
    if (!file) return file.failure();
    return MessageHandle::open(std::string(id), std::move(file.value()), access);
}

Status QueueStore::move(std::string_view id, QueueName from, QueueName to) {
    if (auto ok = checkId(id); !ok) return ok;
    if (from == to) return alreadyInQueue(id, to);
    return moveFile(std::string(id), from, to);
}

Status QueueStore::remove(QueueName queue, std::string_view id) {
    if (auto ok = checkId(id); !ok) return ok;
    return removeFile(queue, std::string(id));
}

Status QueueStore::retire(QueueName queue, std::string_view id) {
    if (auto ok = checkId(id); !ok) return ok;
    return retireFile(queue, std::string(id));
}

Result<std::optional<QueueName>> QueueStore::find(std::string_view id) {
    if (auto ok = checkId(id); !ok) return ok.failure();
    for (QueueName queue : kAllQueues) {
        auto found = exists(queue, std::string(id));
        if (!found) return found.failure();
        if (found.value()) return std::optional<QueueName>(queue);
    }
    return std::optional<QueueName>();
}

Result<std::string> QueueStore::quarantine(QueueName from, std::string_view id) {
    if (auto ok = checkId(id); !ok) return ok.failure();
    auto file = openFile(from, std::string(id), Access::ReadOnly);
    if (!file) return file.failure();
    auto parsed = parseQueueFile(*file.value());
    if (parsed) return fail(std::string(id) + ": the file is sound, not quarantined");
    if (file.value()->hadReadError()) return parsed.failure();
    if (auto ok = moveFile(std::string(id), from, QueueName::Corrupt); !ok) return ok.failure();
    return parsed.error();
}

}  // namespace postern::queue
