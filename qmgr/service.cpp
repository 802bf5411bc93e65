// service.cpp: the qmgr daemon's plumbing (see service.h).
#include "service.h"

#include <algorithm>

#include "log.h"
#include "qmgr_protocol.h"
#include "queue_id.h"
#include "queue_lock.h"

namespace postern::qmgr {

namespace {

// smtpd processes keep one connection each; `postern queue` one per request.
constexpr size_t kMaxClients = 1024;

}  // namespace

// Calls QueueManager::wake() from a libevent timer at the time asked for.
class QmgrService::TimerWakeup : public Wakeup {
  public:
    TimerWakeup(event_base* base, std::function<void()> onWake)
        : onWake_(std::move(onWake)), timer_(evtimer_new(base, &TimerWakeup::fire, this)) {}
    bool valid() const { return timer_ != nullptr; }

    void wakeAt(int64_t micros) override {
        int64_t delay = std::max<int64_t>(0, micros - queue::realtimeMicros());
        timeval after = {time_t(delay / 1000000), suseconds_t(delay % 1000000)};
        evtimer_add(timer_.get(), &after);
    }

  private:
    static void fire(evutil_socket_t, short, void* self) {
        static_cast<TimerWakeup*>(self)->onWake_();
    }

    std::function<void()> onWake_;
    EventPtr timer_;
};

QmgrService::QmgrService() = default;
QmgrService::~QmgrService() {
    shutdown();
}

Status QmgrService::prepare(DaemonContext& context) {
    const Config& config = context.config();
    if (context.standalone()) {
        auto made = queue::ensureLayoutForDaemon(config.queue_directory, config.mail_owner);
        if (!made) return made;
    }
    auto lock = takeQmgrLock(config.queue_directory, kLockPatience);
    if (!lock) return lock.failure();
    lock_ = std::move(lock.value());
    return {};
}

Status QmgrService::init(DaemonContext& context) {
    const Config& config = context.config();
    settings_ = Settings::from(config);
    store_ = std::make_unique<queue::FsQueueStore>(
        config.queue_directory, size_t(config.queue_file_recycle_limit));
    router_ = std::make_unique<Router>(config);
    DaemonContext* daemon = &context;
    transport_ = std::make_unique<WorkerTransport>(
        context.base(), config.queue_directory + "/private/smtp", settings_.workerTimeout,
        [daemon] { return daemon->beginWork(); });
    wakeup_ = std::make_unique<TimerWakeup>(context.base(), [this] { manager_->wake(); });
    if (!wakeup_->valid()) return fail("cannot create the qmgr timer");
    manager_ = std::make_unique<QueueManager>(*store_, settings_, *router_, *transport_, *wakeup_,
                                              queue::realtimeMicros);
    manager_->start();
    return {};
}

void QmgrService::accept(DaemonContext& context, AcceptedConnection&& connection) {
    if (clients_.size() >= kMaxClients) {
        log::warning("too many connections on private/qmgr; refusing one");
        return;  // closed as the connection goes
    }
    ipc::ChannelOptions options;
    options.peer = "private/qmgr client";
    options.rules = qmgr_protocol::qmgrEndRules();
    auto holder = std::make_shared<ipc::Channel*>(nullptr);
    auto channel = ipc::Channel::open(
        context.base(), std::move(connection.fd), std::move(options),
        [this, holder](ipc::Message&& message) { onClientMessage(*holder, std::move(message)); },
        [this, holder](ipc::CloseReason, const std::string&) { dropClient(*holder); });
    if (!channel) {
        log::warning("private/qmgr: %s", channel.error().c_str());
        return;
    }
    *holder = channel.value().get();
    clients_.emplace(*holder, std::move(channel.value()));
}

void QmgrService::onClientMessage(ipc::Channel* channel, ipc::Message&& message) {
    auto incoming = qmgr_protocol::decodeIncoming(message);
    if (!incoming) {
        log::warning("private/qmgr: malformed request: %s; disconnecting",
                     incoming.error().c_str());
        return dropClient(channel);
    }
    if (auto* notice = std::get_if<qmgr_protocol::NewMessage>(&incoming.value())) {
        manager_->newMessage(notice->queueId);
        return;
    }
    auto& request = std::get<qmgr_protocol::ControlRequest>(incoming.value());
    auto reply = manager_->control(request);
    if (auto sent = channel->send(qmgr_protocol::encodeControlReply(reply)); !sent) {
        log::warning("private/qmgr: cannot reply: %s", sent.error().c_str());
        dropClient(channel);
    }
}

void QmgrService::dropClient(ipc::Channel* channel) {
    clients_.erase(channel);
}

void QmgrService::stop() {
    if (manager_) manager_->stop();
}

// Everything holding a libevent event goes here, while the event base still exists.
void QmgrService::shutdown() {
    clients_.clear();
    manager_.reset();
    transport_.reset();
    wakeup_.reset();
}

}  // namespace postern::qmgr
