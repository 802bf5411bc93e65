// queue_manager_round.cpp: the end of a message's round: expiry, the failure, success and
// delay notices, then removal of a finished message, or durable recipient states, the
// schedule's back-off and the move to deferred/ (see queue_manager.h).
//
// Order matters for crashes: a notice is committed to the queue before its recipients are
// marked bounced (F -> B), so a crash repeats a notice rather than loses it; a finished
// message is removed without marking its recipients, so a crash before the unlink only
// delivers it again (at-least-once).
#include "delivery_log.h"
#include "log.h"
#include "queue_manager.h"

namespace postern::qmgr {

namespace {

std::string expiredReason(const RecipientProgress& progress) {
    return progress.reason.empty() ? "message delivery time limit exceeded" : progress.reason;
}

queue::RecipientState stateOf(RecipientPhase phase) {
    switch (phase) {
        case RecipientPhase::Sent:
            return queue::RecipientState::Delivered;
        case RecipientPhase::Failed:
            return queue::RecipientState::Failed;
        case RecipientPhase::Bounced:
            return queue::RecipientState::Bounced;
        default:
            return queue::RecipientState::Deferred;
    }
}

}  // namespace

void QueueManager::finishRound(const MessagePtr& pointer) {
    ActiveMessage& message = *pointer;
    int64_t now = clock_();
    int64_t lifetime = message.envelope().sender.empty() ? settings_.bounceQueueLifetime
                                                         : settings_.maximalQueueLifetime;
    if (message.any(RecipientPhase::Deferred) && now - message.envelope().arrivalMicros >= lifetime)
        expireDeferred(message, now);
    sendFailureNotice(message, now);
    sendSuccessNotice(message, now);
    if (!message.any(RecipientPhase::Deferred) && !message.any(RecipientPhase::Failed))
        return removeMessage(message);
    deferMessage(message, now);
}

void QueueManager::expireDeferred(ActiveMessage& message, int64_t now) {
    bool returned = !message.envelope().sender.empty();
    for (size_t index : message.inPhase(RecipientPhase::Deferred)) {
        RecipientProgress& progress = message.recipients[index];
        progress.phase = RecipientPhase::Failed;
        progress.expired = true;
        progress.persisted = false;
        progress.dsn = "4.4.7";
        progress.reason = expiredReason(progress);
        bool notify = returned && wantsNotice(message.recipient(index).notify, dsn::Kind::Failure);
        logSettled(message, index, notify ? "expired, returned to sender" : "expired", now);
    }
}

// Queues one failure notice for the recipients that want one, then counts every failed
// recipient as bounced. False (and nothing bounced) when the notice could not be queued:
// the recipients stay Failed (F) and the next round tries again.
bool QueueManager::sendFailureNotice(ActiveMessage& message, int64_t now) {
    std::vector<size_t> failed = message.inPhase(RecipientPhase::Failed);
    if (failed.empty()) return true;
    std::vector<size_t> wanted =
        noticeRecipients(message, RecipientPhase::Failed, dsn::Kind::Failure);
    if (!wanted.empty() && message.envelope().sender.empty()) {
        log::info("%s: sender non-delivery notification not sent: null sender", message.id.c_str());
        wanted.clear();
    }
    if (!wanted.empty() && !queueNotice(message, dsn::Kind::Failure, wanted, now)) return false;
    for (size_t index : failed) {
        message.recipients[index].phase = RecipientPhase::Bounced;
        message.recipients[index].persisted = false;
    }
    return true;
}

// A success notice is a courtesy: when it cannot be queued, the delivery still counts.
void QueueManager::sendSuccessNotice(ActiveMessage& message, int64_t now) {
    if (message.envelope().sender.empty()) return;
    auto wanted = noticeRecipients(message, RecipientPhase::Sent, dsn::Kind::Success);
    if (!wanted.empty()) queueNotice(message, dsn::Kind::Success, wanted, now);
}

// One delay notice per message, once it has waited delay_warning_time.
void QueueManager::sendDelayNotice(ActiveMessage& message, queue::Schedule& schedule, int64_t now) {
    if (settings_.delayWarningTime <= 0 || (schedule.flags & queue::kDelayWarningSent)) return;
    if (now - message.envelope().arrivalMicros < settings_.delayWarningTime) return;
    schedule.flags |= queue::kDelayWarningSent;
    if (message.envelope().sender.empty()) return;
    auto wanted = noticeRecipients(message, RecipientPhase::Deferred, dsn::Kind::Delay);
    if (!wanted.empty() && !queueNotice(message, dsn::Kind::Delay, wanted, now))
        schedule.flags &= ~uint32_t(queue::kDelayWarningSent);  // try again next round
}

std::vector<size_t> QueueManager::noticeRecipients(const ActiveMessage& message,
                                                   RecipientPhase phase, dsn::Kind kind) const {
    std::vector<size_t> wanted;
    for (size_t index : message.inPhase(phase)) {
        if (wantsNotice(message.recipient(index).notify, kind)) wanted.push_back(index);
    }
    return wanted;
}

bool QueueManager::queueNotice(ActiveMessage& message, dsn::Kind kind,
                               const std::vector<size_t>& indices, int64_t now) {
    // The worker reports only the reply, not whether the server took over the DSN duty,
    // so a success notice says "relayed": handed to a system that may send no further notice.
    dsn::Action action = kind == dsn::Kind::Failure ? dsn::Action::Failed
                         : kind == dsn::Kind::Delay ? dsn::Action::Delayed
                                                    : dsn::Action::Relayed;
    const char* name = kind == dsn::Kind::Failure ? "non-delivery"
                       : kind == dsn::Kind::Delay ? "delay"
                                                  : "delivery status";
    auto file = store_.open(queue::QueueName::Active, message.id, queue::Access::ReadOnly);
    Result<std::string> notice =
        file ? notices_.write(*file.value(), kind, reportsFor(message, indices, action), now)
             : file.failure();
    if (!notice) {
        log::warning("%s: cannot queue %s notification: %s", message.id.c_str(), name,
                     notice.error().c_str());
        return false;
    }
    log::info("%s: sender %s notification: %s", message.id.c_str(), name, notice->c_str());
    enqueueIncoming(*notice);
    return true;
}

std::vector<dsn::RecipientReport> QueueManager::reportsFor(const ActiveMessage& message,
                                                           const std::vector<size_t>& indices,
                                                           dsn::Action action) const {
    int64_t retryUntil = message.envelope().arrivalMicros + settings_.maximalQueueLifetime;
    std::vector<dsn::RecipientReport> reports;
    for (size_t index : indices) {
        const RecipientProgress& progress = message.recipients[index];
        dsn::RecipientReport report;
        report.address = message.recipient(index).address;
        report.orcpt = message.recipient(index).orcpt;
        report.action = action;
        report.status = progress.dsn;
        report.remoteMta = dsn::relayHost(progress.relay);
        report.diagnostic = progress.reason;
        report.lastAttemptMicros = progress.attemptMicros;
        if (action == dsn::Action::Delayed) report.willRetryUntilMicros = retryUntil;
        reports.push_back(std::move(report));
    }
    return reports;
}

void QueueManager::removeMessage(ActiveMessage& message) {
    std::string id = message.id;  // erasing the table entry may destroy the message
    // Every job has ended (no worker reads the file) and the handle is dropped below before
    // anything could write to it: the file may be reused for a new message.
    if (auto removed = store_.retire(queue::QueueName::Active, id); !removed) {
        log::warning("%s: cannot remove queue file: %s", id.c_str(), removed.error().c_str());
    } else {
        log::info("%s: removed", id.c_str());
    }
    active_.erase(id);
}

void QueueManager::deferMessage(ActiveMessage& message, int64_t now) {
    std::string id = message.id;
    queue::Schedule schedule = message.file().schedule;
    sendDelayNotice(message, schedule, now);
    std::vector<size_t> all(message.recipients.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    schedule.attempts += 1;
    schedule.nextAttemptMicros = now + backoffAfter(settings_, schedule.attempts);
    Status saved = persistProgress(message, all, schedule);
    if (saved) saved = store_.move(id, queue::QueueName::Active, queue::QueueName::Deferred);
    if (!saved) {
        // The file stays in active/; the next scan of active/ takes it up again.
        log::warning("%s: cannot defer: %s", id.c_str(), saved.error().c_str());
    } else {
        deferred_.set(id, schedule.nextAttemptMicros);
    }
    active_.erase(id);
}

// Writes the slots of the given recipients whose phase the file does not hold yet, and the
// schedule when given: one fdatasync for all of them.
Status QueueManager::persistProgress(ActiveMessage& message, const std::vector<size_t>& indices,
                                     const std::optional<queue::Schedule>& schedule) {
    queue::MessageUpdate update;
    update.schedule = schedule;
    std::vector<size_t> written;
    for (size_t index : indices) {
        const RecipientProgress& progress = message.recipients[index];
        if (progress.persisted || progress.phase == RecipientPhase::Done ||
            progress.phase == RecipientPhase::Waiting)
            continue;
        queue::RecipientStatus status;
        status.state = stateOf(progress.phase);
        status.dsnCode = progress.dsn;
        status.lastAttemptMicros = progress.attemptMicros;
        status.reason = progress.reason;
        update.recipients.emplace_back(index, std::move(status));
        written.push_back(index);
    }
    if (update.recipients.empty() && !update.schedule) return {};
    // Opened again for the write: the parse sees the slots as the file holds them, so
    // update() checks each change against what is durable.
    auto file = store_.open(queue::QueueName::Active, message.id, queue::Access::ReadWrite);
    if (!file) return file.failure();
    if (auto saved = file.value()->update(update); !saved) return saved;
    message.parsed = file.value()->message();
    for (size_t index : written) message.recipients[index].persisted = true;
    return {};
}

void QueueManager::logSettled(const ActiveMessage& message, size_t index, const std::string& status,
                              int64_t now) const {
    RecipientLogLine line;
    line.queueId = message.id;
    line.address = message.recipient(index).address;
    line.arrivalMicros = message.envelope().arrivalMicros;
    line.activeMicros = message.activeMicros;
    line.nowMicros = now;
    line.dsn = message.recipients[index].dsn;
    line.status = status;
    log::info("%s", formatRecipientLine(line).c_str());
}

}  // namespace postern::qmgr
