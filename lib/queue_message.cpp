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

Status MessageHandle::updateRecipient(size_t index, const RecipientStatus& status) {
    if (auto ok = checkWritable(); !ok) return ok;
    if (index >= message_.recipients.size())
        return fail(id_ + ": no recipient " + std::to_string(index));
    QueuedRecipient& recipient = message_.recipients[index];
    if (!mayChange(recipient.status.state, status.state))
        return fail(id_ + ": recipient " + std::to_string(index) + " is " +
                    stateName(recipient.status.state) + ", it cannot become " +
                    stateName(status.state));
    if (auto ok = validateStatus(status); !ok) return ok;
    if (auto ok = file_->writeInPlace(recipient.slotOffset, encodeStatusSlot(status)); !ok)
        return ok;
    recipient.status = status;
    recipient.status.reason = truncateReason(status.reason);
    return {};
}

Status MessageHandle::updateSchedule(const Schedule& schedule) {
    if (auto ok = checkWritable(); !ok) return ok;
    if (auto ok = validateSchedule(schedule); !ok) return ok;
    if (auto ok = file_->writeInPlace(message_.scheduleOffset, encodeSchedule(schedule)); !ok)
        return ok;
    message_.schedule = schedule;
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
