// queue_manage.cpp: queue management on the files while postern is stopped (see
// queue_manage.h). Recipient states and the schedule are rewritten before a message is
// moved, so a crash in between leaves a message that is sound where it is.
#include "queue_manage.h"

#include <algorithm>
#include <set>

#include "log.h"

namespace postern::cli {

using qmgr_protocol::ControlOp;
using qmgr_protocol::ControlReply;
using queue::QueueName;

namespace {

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

    // Acts on one message known to be in `queue`.
    void apply(QueueName queue, const std::string& id) {
        Status status = perform(queue, id);
        if (!status) {
            recordFailure(id + ": " + status.error());
            log::warning("%s: %s failed: %s", id.c_str(), qmgr_protocol::opName(op_),
                         status.error().c_str());
            return;
        }
        reply_.done.push_back(id);
        if (op_ != ControlOp::Flush) log::info("%s: %s", id.c_str(), doneVerb(op_));
    }

    // Acts on a named message, wherever it is among the operation's queues.
    void applyNamed(const std::string& id) {
        auto where = store_.find(id);
        if (!where) {
            recordFailure(where.error());
            return;
        }
        auto sources = sourceQueues(op_);
        if (!where.value() ||
            std::find(sources.begin(), sources.end(), *where.value()) == sources.end()) {
            reply_.missing.push_back(id);
            return;
        }
        apply(*where.value(), id);
    }

    // Makes the renames into the queues written to durable; returns the reply.
    ControlReply finish() {
        for (QueueName queue : touched_) {
            if (auto synced = store_.syncQueue(queue); !synced) recordFailure(synced.error());
        }
        return reply_;
    }

    // Notes a failure for the reply; the other messages are still acted on.
    void recordFailure(const std::string& text) {
        reply_.ok = false;
        reply_.text += (reply_.text.empty() ? "" : "; ") + text;
    }

private:
    Status perform(QueueName queue, const std::string& id) {
        switch (op_) {
            case ControlOp::Delete:
                return store_.remove(queue, id);
            case ControlOp::Hold:
                return moveTo(id, queue, QueueName::Hold);
            case ControlOp::Release:
                if (auto reset = resetForRetry(store_, queue, id, false); !reset) return reset;
                return moveTo(id, queue, QueueName::Deferred);
            case ControlOp::Requeue:
                if (auto reset = resetForRetry(store_, queue, id, true); !reset) return reset;
                if (queue == QueueName::Incoming) return {};
                return moveTo(id, queue, QueueName::Incoming);
            case ControlOp::Flush:
                return resetForRetry(store_, queue, id, false);
        }
        return fail("unknown operation");
    }

    Status moveTo(const std::string& id, QueueName from, QueueName to) {
        touched_.insert(to);
        return store_.move(id, from, to);
    }

    queue::QueueStore& store_;
    ControlOp op_;
    ControlReply reply_;
    std::set<QueueName> touched_;
};

}  // namespace

std::vector<QueueName> sourceQueues(ControlOp op) {
    switch (op) {
        case ControlOp::Delete:
        case ControlOp::Requeue:
            return {QueueName::Incoming, QueueName::Active, QueueName::Deferred, QueueName::Hold};
        case ControlOp::Hold:
            return {QueueName::Incoming, QueueName::Active, QueueName::Deferred};
        case ControlOp::Release:
            return {QueueName::Hold};
        case ControlOp::Flush:
            return {QueueName::Deferred};
    }
    return {};
}

ControlReply manageOffline(queue::QueueStore& store, const qmgr_protocol::ControlRequest& request) {
    OfflineManager manager(store, request.op);
    // Only a flush takes "no IDs" for every message: an empty list of IDs to delete (from
    // an empty standard input, say) must never mean ALL.
    bool everything = (request.op == ControlOp::Flush && request.ids.empty()) ||
                      (request.ids.size() == 1 && request.ids[0] == qmgr_protocol::kAllMessages);
    if (!everything) {
        for (const auto& id : request.ids) manager.applyNamed(id);
        return manager.finish();
    }
    for (QueueName queue : sourceQueues(request.op)) {
        auto ids = store.list(queue);
        if (!ids) {
            manager.recordFailure(ids.error());
            continue;
        }
        for (const auto& id : ids.value()) manager.apply(queue, id);
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

const char* summaryVerb(ControlOp op) {
    switch (op) {
        case ControlOp::Delete:
            return "Deleted";
        case ControlOp::Hold:
            return "Placed on hold";
        case ControlOp::Release:
            return "Released from hold";
        case ControlOp::Requeue:
            return "Requeued";
        case ControlOp::Flush:
            return "Flushed";
    }
    return "?";
}

}  // namespace postern::cli
