// queue_manager.cpp: the queue manager's intake: start-up recovery, new and due mail into
// active/, the periodic scans, and the wake-up times (see queue_manager.h).
#include "queue_manager.h"

#include <algorithm>

#include "log.h"

namespace postern::qmgr {

namespace {

using queue::QueueName;

// Notified IDs kept while active/ is full; beyond this, a scan of incoming/ finds them.
constexpr size_t kMaxIncomingBacklog = 10000;

}  // namespace

QueueManager::QueueManager(queue::QueueStore& store, const Settings& settings, const Router& router,
                           DeliveryTransport& transport, Wakeup& wakeup, Clock clock)
    : store_(store),
      settings_(settings),
      router_(router),
      transport_(transport),
      wakeup_(wakeup),
      clock_(std::move(clock)),
      notices_(store, settings),
      scheduler_(settings.destinationConcurrencyLimit, settings.totalConcurrencyLimit) {}

QueueManager::~QueueManager() {
    // Close every worker connection before the state its callbacks use goes away.
    for (auto& [id, job] : jobs_) job.connection.reset();
}

void QueueManager::start() {
    scanActive();
    incomingScanNeeded_ = true;
    scanDeferred();
    nextScanMicros_ = clock_() + settings_.queueRunDelay;
    pump();
}

void QueueManager::newMessage(const std::string& id) {
    enqueueIncoming(id);
    pump();
}

void QueueManager::enqueueIncoming(const std::string& id) {
    if (active_.count(id) || incomingSet_.count(id)) return;
    if (incoming_.size() >= kMaxIncomingBacklog) {
        incomingScanNeeded_ = true;
        return;
    }
    incoming_.push_back(id);
    incomingSet_.insert(id);
}

void QueueManager::wake() {
    if (clock_() >= nextScanMicros_) {
        periodicScan();
        nextScanMicros_ = clock_() + settings_.queueRunDelay;
    }
    pump();
}

void QueueManager::stop() {
    stopping_ = true;
}

// Fills active/ and starts deliveries, once even when called again from inside (a job that
// fails at once ends a round, which calls pump() again).
void QueueManager::pump() {
    if (pumping_) {
        pumpAgain_ = true;
        return;
    }
    pumping_ = true;
    do {
        pumpAgain_ = false;
        if (!stopping_) {
            fillActive();
            dispatch();
        }
    } while (pumpAgain_);
    pumping_ = false;
    armWakeup();
}

void QueueManager::fillActive() {
    int64_t now = clock_();
    while (active_.size() < settings_.activeLimit && takeOne(now)) {
    }
}

// Activates one message: crash leftovers first, then new and due deferred mail in turn so
// that neither starves the other when room is scarce. False when no source has any.
bool QueueManager::takeOne(int64_t now) {
    if (!orphans_.empty()) {
        std::string id = std::move(orphans_.front());
        orphans_.pop_front();
        activate(id, QueueName::Active);
        return true;
    }
    for (int turn = 0; turn < 2; ++turn) {
        preferDeferred_ = !preferDeferred_;
        if (preferDeferred_) {
            auto due = deferred_.takeDue(now, 1);
            if (due.empty()) continue;
            activate(due.front(), QueueName::Deferred);
            return true;
        }
        if (auto id = nextIncoming()) {
            activate(*id, QueueName::Incoming);
            return true;
        }
    }
    return false;
}

std::optional<std::string> QueueManager::nextIncoming() {
    if (incoming_.empty() && incomingScanNeeded_) scanIncoming();
    if (incoming_.empty()) return std::nullopt;
    std::string id = std::move(incoming_.front());
    incoming_.pop_front();
    incomingSet_.erase(id);
    return id;
}

void QueueManager::activate(const std::string& id, QueueName from) {
    if (active_.count(id)) return;
    if (from != QueueName::Active) {
        if (auto moved = store_.move(id, from, QueueName::Active); !moved) {
            // A notice for a message already taken, or removed meanwhile, finds nothing.
            if (moved.error() != queue::notInQueue(id, from).message)
                log::warning("%s: cannot move to active/: %s", id.c_str(), moved.error().c_str());
            return;
        }
    }
    auto handle = store_.open(QueueName::Active, id, queue::Access::ReadOnly);
    if (!handle) return quarantine(QueueName::Active, id, handle.error());
    auto message = std::make_shared<ActiveMessage>();
    message->id = id;
    message->parsed = handle.value()->message();  // the file closes with the handle
    message->activeMicros = clock_();
    message->recipients = initialProgress(message->file());
    log::info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", id.c_str(),
              message->envelope().sender.c_str(),
              static_cast<unsigned long long>(message->file().contentLength),
              message->file().recipients.size());
    active_[id] = message;
    planDeliveries(message);
}

void QueueManager::quarantine(QueueName queue, const std::string& id, const std::string& error) {
    auto moved = store_.quarantine(queue, id);
    if (moved) {
        log::warning("%s: %s; moved to corrupt/", id.c_str(), moved->c_str());
    } else {
        log::warning("%s: cannot open queue file: %s", id.c_str(), error.c_str());
    }
}

void QueueManager::periodicScan() {
    incomingScanNeeded_ = true;
    scanDeferred();
    scanActive();
}

void QueueManager::scanIncoming() {
    incomingScanNeeded_ = false;
    auto ids = store_.list(QueueName::Incoming);
    if (!ids) {
        log::warning("cannot list incoming/: %s", ids.error().c_str());
        return;
    }
    for (const std::string& id : *ids) {
        if (incoming_.size() >= kMaxIncomingBacklog) {
            incomingScanNeeded_ = true;  // the rest on the next turn
            break;
        }
        if (active_.count(id) || incomingSet_.count(id)) continue;
        incoming_.push_back(id);
        incomingSet_.insert(id);
    }
}

// Learns the due time of deferred files it does not know (written by an earlier run, or
// moved there while qmgr was down) and forgets those that are gone.
void QueueManager::scanDeferred() {
    auto ids = store_.list(QueueName::Deferred);
    if (!ids) {
        log::warning("cannot list deferred/: %s", ids.error().c_str());
        return;
    }
    std::unordered_set<std::string> present(ids->begin(), ids->end());
    deferred_.retainOnly(present);
    for (const std::string& id : *ids) {
        if (deferred_.contains(id) || active_.count(id)) continue;
        auto handle = store_.open(QueueName::Deferred, id, queue::Access::ReadOnly);
        if (!handle) {
            quarantine(QueueName::Deferred, id, handle.error());
            continue;
        }
        deferred_.set(id, handle.value()->message().schedule.nextAttemptMicros);
    }
}

// Files in active/ that no round holds: a crash's leftovers, or a file a failed write left.
void QueueManager::scanActive() {
    auto ids = store_.list(QueueName::Active);
    if (!ids) {
        log::warning("cannot list active/: %s", ids.error().c_str());
        return;
    }
    std::unordered_set<std::string> waiting(orphans_.begin(), orphans_.end());
    for (const std::string& id : *ids) {
        if (!active_.count(id) && !waiting.count(id)) orphans_.push_back(id);
    }
}

void QueueManager::armWakeup() {
    int64_t at = nextScanMicros_;
    // Due mail waits for room without a wake-up: the end of a round makes room and pumps.
    if (!stopping_ && active_.size() < settings_.activeLimit) {
        if (auto due = deferred_.earliest()) at = std::min(at, *due);
    }
    wakeup_.wakeAt(at);
}

}  // namespace postern::qmgr
