// queue_manager_control.cpp: `postern queue` requests (delete, hold, release, requeue,
// flush) carried out by the queue manager itself, so a message in delivery is cancelled
// (its worker connection closed) before the reply. Logged as postsuper does.
#include <algorithm>

#include "log.h"
#include "queue_manager.h"

namespace postern::qmgr {

namespace {

using qmgr_protocol::ControlOp;
using queue::QueueName;

const char* skippedMeaning(ControlOp op) {
    switch (op) {
        case ControlOp::Hold:
            return "already on hold";
        case ControlOp::Release:
            return "not on hold";
        case ControlOp::Flush:
            return "on hold (release them first)";
        default:
            return "skipped";
    }
}

}  // namespace

qmgr_protocol::ControlReply QueueManager::control(const qmgr_protocol::ControlRequest& request) {
    qmgr_protocol::ControlReply reply;
    bool all = request.ids.empty() ||
               (request.ids.size() == 1 && request.ids[0] == qmgr_protocol::kAllMessages);
    if (all && request.op != ControlOp::Flush && request.ids.empty()) {
        reply.ok = false;
        reply.text = std::string(qmgr_protocol::opName(request.op)) + ": no queue IDs given";
        return reply;
    }
    std::vector<std::string> ids = all ? expandAll(request.op) : request.ids;
    size_t skipped = 0;
    for (const std::string& id : ids) {
        switch (controlOne(request.op, id)) {
            case ControlOutcome::Done:
                if (reply.done.size() < qmgr_protocol::kMaxIds) reply.done.push_back(id);
                break;
            case ControlOutcome::Missing:
                if (reply.missing.size() < qmgr_protocol::kMaxIds) reply.missing.push_back(id);
                break;
            case ControlOutcome::Skipped:
                ++skipped;
                break;
        }
    }
    reply.text = std::string(qmgr_protocol::opName(request.op)) + ": " +
                 std::to_string(reply.done.size()) + " done";
    if (!reply.missing.empty())
        reply.text += ", " + std::to_string(reply.missing.size()) + " not found";
    if (skipped > 0)
        reply.text += ", " + std::to_string(skipped) + " " + skippedMeaning(request.op);
    if (request.op == ControlOp::Flush) incomingScanNeeded_ = true;
    pump();
    return reply;
}

QueueManager::ControlOutcome QueueManager::controlOne(ControlOp op, const std::string& id) {
    auto queue = locate(id);
    if (!queue) return ControlOutcome::Missing;
    switch (op) {
        case ControlOp::Delete:
            return deleteMessage(id, *queue);
        case ControlOp::Hold:
            return holdMessage(id, *queue);
        case ControlOp::Release:
            return releaseMessage(id, *queue);
        case ControlOp::Requeue:
            return requeueMessage(id, *queue);
        case ControlOp::Flush:
            return flushMessage(id, *queue);
    }
    return ControlOutcome::Missing;
}

QueueManager::ControlOutcome QueueManager::deleteMessage(const std::string& id, QueueName queue) {
    if (auto found = active_.find(id); found != active_.end()) {
        MessagePtr message = found->second;
        cancel(*message);
        active_.erase(found);
    }
    if (auto removed = store_.remove(queue, id); !removed) {
        log::warning("%s: cannot remove queue file: %s", id.c_str(), removed.error().c_str());
        return ControlOutcome::Missing;
    }
    deferred_.erase(id);
    std::erase(orphans_, id);
    log::info("%s: removed", id.c_str());
    return ControlOutcome::Done;
}

QueueManager::ControlOutcome QueueManager::holdMessage(const std::string& id, QueueName queue) {
    if (queue == QueueName::Hold) return ControlOutcome::Skipped;
    if (!moveMessage(id, queue, QueueName::Hold)) return ControlOutcome::Missing;
    log::info("%s: placed on hold", id.c_str());
    return ControlOutcome::Done;
}

QueueManager::ControlOutcome QueueManager::releaseMessage(const std::string& id, QueueName queue) {
    if (queue != QueueName::Hold) return ControlOutcome::Skipped;
    if (!moveMessage(id, queue, QueueName::Deferred)) return ControlOutcome::Missing;
    deferred_.set(id, clock_());
    log::info("%s: released from hold", id.c_str());
    return ControlOutcome::Done;
}

QueueManager::ControlOutcome QueueManager::requeueMessage(const std::string& id, QueueName queue) {
    if (queue != QueueName::Incoming && !moveMessage(id, queue, QueueName::Incoming))
        return ControlOutcome::Missing;
    enqueueIncoming(id);
    log::info("%s: requeued", id.c_str());
    return ControlOutcome::Done;
}

QueueManager::ControlOutcome QueueManager::flushMessage(const std::string& id, QueueName queue) {
    if (queue == QueueName::Hold) return ControlOutcome::Skipped;
    if (queue == QueueName::Deferred) deferred_.set(id, clock_());
    return ControlOutcome::Done;
}

void QueueManager::cancel(ActiveMessage& message) {
    message.cancelled = true;
    for (JobId id : message.jobs) {
        auto node = jobs_.extract(id);
        if (node.empty()) continue;
        node.mapped().connection.reset();  // the worker sees the close and aborts
        if (node.mapped().started) scheduler_.finished(node.mapped().target.key);
    }
    message.jobs.clear();
}

bool QueueManager::moveMessage(const std::string& id, QueueName from, QueueName to) {
    if (auto found = active_.find(id); found != active_.end()) {
        MessagePtr message = found->second;
        cancel(*message);
        std::vector<size_t> all(message->recipients.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = i;
        if (auto saved = persistProgress(*message, all); !saved)
            log::warning("%s: cannot update queue file: %s", id.c_str(), saved.error().c_str());
        active_.erase(found);
    }
    if (auto moved = store_.move(id, from, to); !moved) {
        log::warning("%s: cannot move to %s/: %s", id.c_str(),
                     std::string(queue::queueDirectoryName(to)).c_str(), moved.error().c_str());
        return false;
    }
    deferred_.erase(id);
    std::erase(orphans_, id);
    return true;
}

std::vector<std::string> QueueManager::expandAll(ControlOp op) {
    std::vector<QueueName> queues;
    switch (op) {
        case ControlOp::Delete:
            queues = {QueueName::Incoming, QueueName::Active, QueueName::Deferred, QueueName::Hold};
            break;
        case ControlOp::Hold:
            queues = {QueueName::Incoming, QueueName::Active, QueueName::Deferred};
            break;
        case ControlOp::Release:
            queues = {QueueName::Hold};
            break;
        case ControlOp::Requeue:
            queues = {QueueName::Active, QueueName::Deferred, QueueName::Hold};
            break;
        case ControlOp::Flush:
            queues = {QueueName::Deferred};
            break;
    }
    std::vector<std::string> ids;
    for (QueueName queue : queues) {
        auto listed = store_.list(queue);
        if (!listed) {
            log::warning("cannot list %s/: %s",
                         std::string(queue::queueDirectoryName(queue)).c_str(),
                         listed.error().c_str());
            continue;
        }
        ids.insert(ids.end(), listed->begin(), listed->end());
    }
    return ids;
}

std::optional<QueueName> QueueManager::locate(const std::string& id) {
    if (active_.count(id)) return QueueName::Active;
    auto found = store_.find(id);
    if (!found || !*found || **found == QueueName::Corrupt) return std::nullopt;
    return **found;
}

}  // namespace postern::qmgr
