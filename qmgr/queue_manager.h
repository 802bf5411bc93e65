// queue_manager.h: the queue manager's logic, free of sockets and timers so unit tests can
// drive it with an in-memory queue, a fake worker transport and a fake clock.
//
// It takes new mail from incoming/ (smtpd's notice, and scans), deferred mail when due
// (DeferredIndex) and what a crash left in active/; keeps at most active_limit messages in
// active/; resolves and groups recipients (routing.h) into delivery jobs; starts them
// through the Scheduler's limits on a DeliveryTransport; applies each recipient's result;
// and at the end of a message's round removes it, or writes its notices (notices.h),
// marks its recipients and moves it to deferred/ with a back-off. Control requests
// (delete, hold, release, requeue, flush) act on the files and cancel deliveries.
//
// Every public call runs to completion on the caller's thread (the event loop) and then
// asks its Wakeup to call wake() at the next time something is due.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "active_message.h"
#include "deferred_index.h"
#include "notices.h"
#include "qmgr_protocol.h"
#include "queue_store.h"
#include "routing.h"
#include "scheduler.h"
#include "settings.h"
#include "transport.h"

namespace postern::qmgr {

// Calls QueueManager::wake() at a time (µs since the epoch); a later call replaces the
// earlier time.
class Wakeup {
  public:
    virtual ~Wakeup() = default;
    virtual void wakeAt(int64_t micros) = 0;
};

class QueueManager {
  public:
    QueueManager(queue::QueueStore& store, const Settings& settings, const Router& router,
                 DeliveryTransport& transport, Wakeup& wakeup, Clock clock);
    ~QueueManager();
    QueueManager(const QueueManager&) = delete;
    QueueManager& operator=(const QueueManager&) = delete;

    // Takes back what a crash left in active/, then scans incoming/ and deferred/.
    void start();
    // smtpd committed a message to incoming/.
    void newMessage(const std::string& id);
    // The time asked for through Wakeup has come: due deferred mail, periodic scans.
    void wake();
    // A control request of `postern queue`; the reply is final (a cancelled delivery is
    // already closed).
    qmgr_protocol::ControlReply control(const qmgr_protocol::ControlRequest& request);
    // Stops taking messages and starting deliveries; those in flight finish.
    void stop();

    size_t activeCount() const { return active_.size(); }
    int inFlight() const { return scheduler_.inFlight(); }
    size_t deferredCount() const { return deferred_.size(); }

  private:
    struct DeliveryJob {
        std::shared_ptr<ActiveMessage> message;
        Target target;
        std::vector<size_t> recipients;  // indices into the message's recipients
        std::vector<bool> answered;      // parallel to recipients
        bool started = false;
        std::unique_ptr<DeliveryConnection> connection;
    };
    using MessagePtr = std::shared_ptr<ActiveMessage>;

    // Intake (queue_manager.cpp).
    void enqueueIncoming(const std::string& id);
    void pump();
    void fillActive();
    bool takeOne(int64_t now);
    std::optional<std::string> nextIncoming();
    void activate(const std::string& id, queue::QueueName from);
    void periodicScan();
    void scanIncoming();
    void scanDeferred();
    void scanActive();
    void quarantine(queue::QueueName queue, const std::string& id, const std::string& error);
    void armWakeup();

    // Deliveries (queue_manager_delivery.cpp).
    void planDeliveries(const MessagePtr& message);
    void dispatch();
    void startJob(JobId id);
    delivery_protocol::DeliveryRequest buildRequest(const DeliveryJob& job, JobId id) const;
    void onResult(JobId id, const delivery_protocol::RecipientResult& result);
    void onEnd(JobId id, const std::string& failure);
    void endJob(JobId id, const std::string& failure);
    void applyResult(RecipientProgress& progress, const delivery_protocol::RecipientResult& result);

    // Rounds (queue_manager_round.cpp).
    void finishRound(const MessagePtr& message);
    void expireDeferred(ActiveMessage& message, int64_t now);
    bool sendFailureNotice(ActiveMessage& message, int64_t now);
    void sendSuccessNotice(ActiveMessage& message, int64_t now);
    void sendDelayNotice(ActiveMessage& message, queue::Schedule& schedule, int64_t now);
    // The recipients in `phase` whose NOTIFY asks for a notice of `kind`.
    std::vector<size_t> noticeRecipients(const ActiveMessage& message, RecipientPhase phase,
                                         dsn::Kind kind) const;
    // Queues a notice, logs "ID: sender ... notification: NEWID" and takes it up; false
    // (with a warning) when it could not be written.
    bool queueNotice(ActiveMessage& message, dsn::Kind kind, const std::vector<size_t>& indices,
                     int64_t now);
    void removeMessage(ActiveMessage& message);
    void deferMessage(ActiveMessage& message, int64_t now);
    Status persistProgress(ActiveMessage& message, const std::vector<size_t>& indices,
                           const std::optional<queue::Schedule>& schedule = std::nullopt);
    void logSettled(const ActiveMessage& message, size_t index, const std::string& status,
                    int64_t now) const;
    std::vector<dsn::RecipientReport> reportsFor(const ActiveMessage& message,
                                                 const std::vector<size_t>& indices,
                                                 dsn::Action action) const;

    // Control (queue_manager_control.cpp).
    enum class ControlOutcome { Done, Missing, Skipped };
    ControlOutcome controlOne(qmgr_protocol::ControlOp op, const std::string& id);
    ControlOutcome deleteMessage(const std::string& id, queue::QueueName queue);
    ControlOutcome holdMessage(const std::string& id, queue::QueueName queue);
    ControlOutcome releaseMessage(const std::string& id, queue::QueueName queue);
    ControlOutcome requeueMessage(const std::string& id, queue::QueueName queue);
    ControlOutcome flushMessage(const std::string& id, queue::QueueName queue);
    // Closes an active message's deliveries and drops its jobs; their results are lost.
    void cancel(ActiveMessage& message);
    // Moves a message to another queue; an active one is cancelled and its progress saved.
    bool moveMessage(const std::string& id, queue::QueueName from, queue::QueueName to);
    std::vector<std::string> expandAll(qmgr_protocol::ControlOp op);
    // The queue holding a message (active/ for one in a round), nullopt when none does.
    std::optional<queue::QueueName> locate(const std::string& id);

    queue::QueueStore& store_;
    const Settings& settings_;
    const Router& router_;
    DeliveryTransport& transport_;
    Wakeup& wakeup_;
    Clock clock_;
    NoticeWriter notices_;
    Scheduler scheduler_;
    DeferredIndex deferred_;

    std::unordered_map<std::string, MessagePtr> active_;
    std::unordered_map<JobId, DeliveryJob> jobs_;
    JobId nextJobId_ = 1;

    std::deque<std::string> incoming_;  // notified or scanned IDs waiting for room
    std::unordered_set<std::string> incomingSet_;
    bool incomingScanNeeded_ = false;
    std::deque<std::string> orphans_;  // files in active/ that no round holds
    bool preferDeferred_ = false;      // alternates the sources when room is scarce
    int64_t nextScanMicros_ = 0;
    bool pumping_ = false;
    bool pumpAgain_ = false;
    bool stopping_ = false;
};

}  // namespace postern::qmgr
