// queue_message.cpp: reads and in-place updates of an open queued message.
#include "queue_message.h"

#include "queue_format.h"

namespace postern::queue {

namespace {

// A readable name of a state, for error messages.
const char* stateName(RecipientState state) {
    switch (state) {
        case RecipientState::Pending: return "pending";
        case RecipientState::Deferred: return "deferred";
        case RecipientState::Delivered: return "delivered";
        case RecipientState::Failed: return "failed";
        case RecipientState::Bounced: return "bounced";
    }
    return "unknown";
}

// Whether a recipient may go from `from` to `to`.
bool mayChange(RecipientState from, RecipientState to) {
    if (isFinal(from)) return false;
    if (from == RecipientState::Failed)
        return to == RecipientState::Failed || to == RecipientState::Bounced;
    return true;
}

}  // namespace

MessageHandle::MessageHandle(std::string id, std::unique_ptr<QueueFileAccess> file,
                             QueueMessage message, Access access)
    : id_(std::move(id)), file_(std::move(file)), message_(std::move(message)), access_(access) {}

Result<std::unique_ptr<MessageHandle>> MessageHandle::open(std::string id,
                                                           std::unique_ptr<QueueFileAccess> file,
                                                           Access access) {
    auto message = parseQueueFile(*file);
    if (!message) return message.failure();
    return std::unique_ptr<MessageHandle>(
        new MessageHandle(std::move(id), std::move(file), std::move(message.value()), access));
}

Status MessageHandle::checkWritable() const {
    if (access_ != Access::ReadWrite) return fail(id_ + ": opened read-only");
    return {};
}

Status QueueFileAccess::writeManyInPlace(const std::vector<InPlaceWrite>& writes) {
    for (const InPlaceWrite& write : writes) {
        if (auto ok = writeInPlace(write.offset, write.bytes); !ok) return ok;
    }
    return {};
}

Status MessageHandle::updateRecipient(size_t index, const RecipientStatus& status) {
    return update({{{index, status}}, std::nullopt});
}

Status MessageHandle::updateSchedule(const Schedule& schedule) {
    return update({{}, schedule});
}

Status MessageHandle::update(const MessageUpdate& changes) {
    if (auto ok = checkWritable(); !ok) return ok;
    std::vector<RecipientState> states;  // as the changes so far leave them
    for (const QueuedRecipient& recipient : message_.recipients)
        states.push_back(recipient.status.state);
    std::vector<InPlaceWrite> writes;
    for (const auto& [index, status] : changes.recipients) {
        if (index >= message_.recipients.size())
            return fail(id_ + ": no recipient " + std::to_string(index));
        if (!mayChange(states[index], status.state))
            return fail(id_ + ": recipient " + std::to_string(index) + " is " +
                        stateName(states[index]) + ", it cannot become " +
                        stateName(status.state));
        if (auto ok = validateStatus(status); !ok) return ok;
        states[index] = status.state;
        writes.push_back({message_.recipients[index].slotOffset, encodeStatusSlot(status)});
    }
    if (changes.schedule) {
        if (auto ok = validateSchedule(*changes.schedule); !ok) return ok;
        writes.push_back({message_.scheduleOffset, encodeSchedule(*changes.schedule)});
    }
    if (auto ok = file_->writeManyInPlace(writes); !ok) return ok;
    for (const auto& [index, status] : changes.recipients) {
        message_.recipients[index].status = status;
        message_.recipients[index].status.reason = truncateReason(status.reason);
    }
    if (changes.schedule) message_.schedule = *changes.schedule;
    return {};
}

Result<std::string> MessageHandle::readContent(uint64_t offset, size_t length) {
    if (offset > message_.contentLength) return fail(id_ + ": read beyond the content");
    uint64_t available = message_.contentLength - offset;
    size_t count = length < available ? length : size_t(available);
    std::string bytes;
    if (auto ok = file_->read(message_.contentOffset + offset, count, bytes); !ok)
        return ok.failure();
    return bytes;
}

}  // namespace postern::queue
