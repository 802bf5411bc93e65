// queue_manager_delivery.cpp: the queue manager's delivery jobs: grouping a message's
// recipients into jobs, starting them within the scheduler's limits, and taking each
// recipient's result from the worker (see queue_manager.h).
#include <algorithm>

#include "log.h"
#include "queue_manager.h"
#include "text_escape.h"

namespace postern::qmgr {

namespace {

namespace dp = delivery_protocol;

// Room for a whole SMTP reply line; the queue slot keeps the first 300 bytes of it.
constexpr size_t kMaxReason = 1000;

const char* retName(queue::ReturnContent ret) {
    switch (ret) {
        case queue::ReturnContent::Full:
            return "FULL";
        case queue::ReturnContent::Headers:
            return "HDRS";
        case queue::ReturnContent::Unset:
            break;
    }
    return "";
}

const char* bodyTypeName(queue::BodyType body) {
    switch (body) {
        case queue::BodyType::SevenBit:
            return "7BIT";
        case queue::BodyType::EightBitMime:
            return "8BITMIME";
        case queue::BodyType::BinaryMime:
            return "BINARYMIME";
        case queue::BodyType::Unspecified:
            break;
    }
    return "";
}

}  // namespace

void QueueManager::planDeliveries(const MessagePtr& message) {
    std::vector<size_t> waiting = message->inPhase(RecipientPhase::Waiting);
    std::vector<std::string_view> addresses;
    addresses.reserve(message->recipients.size());
    for (size_t i = 0; i < message->recipients.size(); ++i)
        addresses.push_back(message->recipient(i).address);
    auto groups = groupRecipients(router_, addresses, waiting, settings_.destinationRecipientLimit);
    for (RecipientGroup& group : groups) {
        JobId id = nextJobId_++;
        std::string destination = group.target.key;
        DeliveryJob job;
        job.message = message;
        job.target = std::move(group.target);
        job.answered.assign(group.recipients.size(), false);
        job.recipients = std::move(group.recipients);
        jobs_.emplace(id, std::move(job));
        message->jobs.push_back(id);
        scheduler_.enqueue(destination, id);
    }
    if (groups.empty()) finishRound(message);
}

void QueueManager::dispatch() {
    auto live = [this](JobId id) { return jobs_.count(id) != 0; };
    while (!stopping_) {
        auto next = scheduler_.next(live);
        if (!next) break;
        startJob(next->job);
    }
}

void QueueManager::startJob(JobId id) {
    DeliveryJob& job = jobs_.at(id);
    job.started = true;
    DeliveryEvents events;
    events.onResult = [this, id](const dp::RecipientResult& result) { onResult(id, result); };
    events.onEnd = [this, id](const std::string& failure) { onEnd(id, failure); };
    auto connection = transport_.start(buildRequest(job, id), std::move(events));
    if (!connection) return endJob(id, connection.error());
    job.connection = std::move(connection.value());
}

dp::DeliveryRequest QueueManager::buildRequest(const DeliveryJob& job, JobId id) const {
    const ActiveMessage& message = *job.message;
    const queue::QueueMessage& file = message.file();
    const queue::Envelope& envelope = file.envelope;
    dp::DeliveryRequest request;
    request.requestId = int64_t(id);
    request.queueId = message.id;
    request.queueFile = "active/" + message.id;
    request.contentOffset = int64_t(file.contentOffset);
    request.contentLength = int64_t(file.contentLength);
    request.arrivalMicros = envelope.arrivalMicros;
    request.activeMicros = message.activeMicros;
    request.sender = envelope.sender;
    request.envid = envelope.envid;
    request.ret = retName(envelope.ret);
    request.bodyType = bodyTypeName(envelope.body);
    request.smtputf8 = envelope.smtputf8;
    request.nexthop = job.target.nexthop;
    request.domain = job.target.domain;
    request.tls = requestTls(*job.target.tls);
    for (size_t index : job.recipients) {
        const queue::Recipient& recipient = message.recipient(index);
        request.recipients.push_back(
            {int64_t(index), recipient.address, recipient.orcpt, int64_t(recipient.notify)});
    }
    return request;
}

void QueueManager::onResult(JobId id, const dp::RecipientResult& result) {
    auto found = jobs_.find(id);
    if (found == jobs_.end()) return;
    DeliveryJob& job = found->second;
    size_t position = job.recipients.size();
    for (size_t i = 0; i < job.recipients.size(); ++i) {
        if (int64_t(job.recipients[i]) == result.index && !job.answered[i]) position = i;
    }
    if (position == job.recipients.size()) {
        log::warning(
            "%s: smtp worker: result for recipient %lld, which request %llu does not "
            "hold or already had; disconnecting",
            job.message->id.c_str(), static_cast<long long>(result.index),
            static_cast<unsigned long long>(id));
        endJob(id, "malformed reply from the smtp worker");
        return pump();
    }
    job.answered[position] = true;
    applyResult(job.message->recipients[job.recipients[position]], result);
}

void QueueManager::applyResult(RecipientProgress& progress, const dp::RecipientResult& result) {
    progress.reason = printableTruncated(result.reply, kMaxReason);
    progress.relay = printableTruncated(result.relay, kMaxReason);
    progress.dsn = result.dsn;
    progress.attemptMicros = clock_();
    progress.persisted = false;
    switch (result.outcome) {
        case dp::RecipientOutcome::Sent:
            progress.phase = RecipientPhase::Sent;
            break;
        case dp::RecipientOutcome::Deferred:
            progress.phase = RecipientPhase::Deferred;
            break;
        case dp::RecipientOutcome::Bounced:
            // soft_bounce: a permanent failure is retried, its code made temporary.
            progress.phase =
                settings_.softBounce ? RecipientPhase::Deferred : RecipientPhase::Failed;
            if (settings_.softBounce) progress.dsn[0] = '4';
            break;
    }
}

void QueueManager::onEnd(JobId id, const std::string& failure) {
    if (!jobs_.count(id)) return;
    endJob(id, failure.empty() ? "the smtp worker sent no result" : failure);
    pump();
}

// Ends a job: what the worker did not answer is deferred; the round ends with the last job.
void QueueManager::endJob(JobId id, const std::string& failure) {
    auto node = jobs_.extract(id);
    DeliveryJob& job = node.mapped();
    job.connection.reset();
    if (job.started) scheduler_.finished(job.target.key);
    ActiveMessage& message = *job.message;
    std::erase(message.jobs, id);
    if (message.cancelled) return;
    int64_t now = clock_();
    for (size_t i = 0; i < job.recipients.size(); ++i) {
        if (job.answered[i]) continue;
        RecipientProgress& progress = message.recipients[job.recipients[i]];
        progress.phase = RecipientPhase::Deferred;
        progress.persisted = false;
        progress.dsn = "4.3.0";
        progress.reason =
            printableTruncated("delivery temporarily suspended: " + failure, kMaxReason);
        progress.relay = "none";
        progress.attemptMicros = now;
        logSettled(message, job.recipients[i], "deferred (" + progress.reason + ")", now);
    }
    if (!message.jobs.empty()) {
        // Other jobs still run: make this one's final results durable now, so a crash
        // before the round ends does not deliver them again.
        std::vector<size_t> settled;
        for (size_t index : job.recipients) {
            RecipientPhase phase = message.recipients[index].phase;
            if (phase == RecipientPhase::Sent || phase == RecipientPhase::Failed)
                settled.push_back(index);
        }
        if (auto saved = persistProgress(message, settled); !saved)
            log::warning("%s: cannot update queue file: %s", message.id.c_str(),
                         saved.error().c_str());
        return;
    }
    finishRound(job.message);
}

}  // namespace postern::qmgr
