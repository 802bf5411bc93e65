// queue_manage.cpp: queue management on the files while postern is stopped (see
// queue_manage.h). Recipient states and the schedule are rewritten before a message is
// moved, so a crash in between leaves a message that is sound where it is.
#include "queue_manage.h"

#include <set>

#include "log.h"

namespace postern::cli {

using qmgr_protocol::ControlOp;
using qmgr_protocol::ControlReply;
using queue::QueueName;

namespace {

enum class Outcome { Done, Missing, Skipped, Failed };

// Makes a message due now and, for requeue, its deferred recipients pending again.
Status resetForRetry(queue::QueueStore& store, QueueName queue, const std::string& id,
                     bool makeDeferredPending) {
    auto handle = store.open(queue, id, queue::Access::ReadWrite);
    if (!handle) return handle.failure();
    queue::MessageHandle& message = *handle.value();
    if (makeDeferredPending) {
        const auto& recipients = message.message().recipients;
        for (size_t i = 0; i < recipients.size(); ++i) {
            if (recipients[i].status.state != queue::RecipientState::Deferred) continue;
            if (auto reset = message.updateRecipient(i, {}); !reset) return reset;
        }
    }
    queue::Schedule schedule = message.message().schedule;
    schedule.nextAttemptMicros = 0;
    return message.updateSchedule(schedule);
}

class OfflineManager {
public:
    OfflineManager(queue::QueueStore& store, ControlOp op) : store_(store), op_(op) {}

    // Acts on one message, wherever it is.
    void apply(const std::string& id) {
        auto where = store_.find(id);
        if (!where) return recordFailure(where.error());
        if (!where.value() || *where.value() == QueueName::Corrupt) {
            reply_.missing.push_back(id);
            return;
        }
        Status status = perform(*where.value(), id);
        if (!status) {
            log::warning("%s: %s failed: %s", id.c_str(), qmgr_protocol::opName(op_),
                         status.error().c_str());
            return recordFailure(id + ": " + status.error());
        }
        if (skipped_) {
            skipped_ = false;
            ++skippedCount_;
            return;
        }
        reply_.done.push_back(id);
        if (op_ != ControlOp::Flush) log::info("%s: %s", id.c_str(), doneVerb(op_));
    }

    // Notes a failure for the reply; the other messages are still acted on.
    void recordFailure(const std::string& text) {
        reply_.ok = false;
        failures_ += "; " + text;
    }

    // Makes the renames into the queues written to durable; returns the reply.
    ControlReply finish() {
        for (QueueName queue : touched_) {
            if (auto synced = store_.syncQueue(queue); !synced) recordFailure(synced.error());
        }
        reply_.text = std::string(qmgr_protocol::opName(op_)) + ": " +
                      std::to_string(reply_.done.size()) + " done";
        if (!reply_.missing.empty())
            reply_.text += ", " + std::to_string(reply_.missing.size()) + " not found";
        if (skippedCount_ > 0)
            reply_.text +=
                ", " + std::to_string(skippedCount_) + " " + qmgr_protocol::skippedMeaning(op_);
        reply_.text += failures_;
        return reply_;
    }

private:
    Status perform(QueueName queue, const std::string& id) {
        switch (op_) {
            case ControlOp::Delete:
                return store_.remove(queue, id);
            case ControlOp::Hold:
                if (queue == QueueName::Hold) return skip();
                return moveTo(id, queue, QueueName::Hold);
            case ControlOp::Release:
                if (queue != QueueName::Hold) return skip();
                if (auto reset = resetForRetry(store_, queue, id, false); !reset) return reset;
                return moveTo(id, queue, QueueName::Deferred);
            case ControlOp::Requeue:
                if (auto reset = resetForRetry(store_, queue, id, true); !reset) return reset;
                if (queue == QueueName::Incoming) return {};
                return moveTo(id, queue, QueueName::Incoming);
            case ControlOp::Flush:
                if (queue == QueueName::Hold) return skip();
                if (queue != QueueName::Deferred) return {};
                return resetForRetry(store_, queue, id, false);
        }
        return fail("unknown operation");
    }

    Status skip() {
        skipped_ = true;
        return {};
    }

    Status moveTo(const std::string& id, QueueName from, QueueName to) {
        touched_.insert(to);
        return store_.move(id, from, to);
    }

    queue::QueueStore& store_;
    ControlOp op_;
    ControlReply reply_;
    std::set<QueueName> touched_;
    bool skipped_ = false;
    size_t skippedCount_ = 0;
    std::string failures_;
};

}  // namespace

ControlReply manageOffline(queue::QueueStore& store, const qmgr_protocol::ControlRequest& request) {
    OfflineManager manager(store, request.op);
    // Only a flush takes "no IDs" for every message: an empty list of IDs to delete (from
    // an empty standard input, say) must never mean ALL.
    bool everything = (request.op == ControlOp::Flush && request.ids.empty()) ||
                      (request.ids.size() == 1 && request.ids[0] == qmgr_protocol::kAllMessages);
    if (!everything) {
        for (const auto& id : request.ids) manager.apply(id);
        return manager.finish();
    }
    for (QueueName queue : qmgr_protocol::queuesForAll(request.op)) {
        auto ids = store.list(queue);
        if (!ids) {
            manager.recordFailure(ids.error());
            continue;
        }
        for (const auto& id : ids.value()) manager.apply(id);
    }
    return manager.finish();
}

const char* doneVerb(ControlOp op) {
    switch (op) {
        case ControlOp::Delete:
            return "removed";
        case ControlOp::Hold:
            return "placed on hold";
        case ControlOp::Release:
            return "released from hold";
        case ControlOp::Requeue:
            return "requeued";
        case ControlOp::Flush:
            return "flushed";
    }
    return "?";
}

}  // namespace postern::cli
