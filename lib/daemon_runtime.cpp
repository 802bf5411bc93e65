// daemon_runtime.cpp: the running daemon behind runDaemon() (see daemon_runtime.h).
#include "daemon_runtime.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.h"
#include "sockets.h"

namespace postern {
namespace {

// Connections taken per wake-up and listener before the loop serves everything else.
constexpr int kAcceptBatch = 64;
// How long the last status frames may take to leave before exit.
constexpr std::chrono::milliseconds kFinalFlushLimit{1000};

timeval toTimeval(std::chrono::milliseconds duration) {
    auto ms = duration.count();
    return {static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
}

bool isDescriptorShortage(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Errors that concern one connection only: the next accept may well succeed.
bool isTransientAcceptError(int error) {
    return error == EINTR || error == ECONNABORTED || error == EPROTO || error == EPERM ||
           error == ENETDOWN || error == ENOPROTOOPT || error == EHOSTDOWN || error == ENONET ||
           error == EHOSTUNREACH || error == EOPNOTSUPP || error == ENETUNREACH;
}

}  // namespace

DaemonRuntime::DaemonRuntime(const DaemonSpec& spec, Config config, bool standalone,
                             int64_t generation)
    : spec_(spec), config_(std::move(config)), standalone_(standalone), generation_(generation) {
    if (const ServiceConfig* entry = config_.service(spec_.service)) {
        maxUse_ = entry->max_use;
        maxIdleSeconds_ = entry->max_idle;
    }
}

DaemonRuntime::~DaemonRuntime() {
    detachWork();
}

void DaemonRuntime::adoptListeners(std::vector<NamedListener> listeners) {
    for (auto& listener : listeners) {
        listeners_.push_back(std::make_unique<Listener>(
            Listener{this, std::move(listener.name), std::move(listener.fd), nullptr}));
    }
}

EventPtr DaemonRuntime::newTimer(void (*callback)(evutil_socket_t, short, void*)) {
    return EventPtr(evtimer_new(base_.get(), callback, this));
}

Status DaemonRuntime::createEventBase() {
    base_.reset(event_base_new());
    if (!base_) return fail("cannot create the event base");
    if (!listeners_.empty() && !spec_.onAccept) {
        log::panic("%s has listening sockets but no onAccept", spec_.service.c_str());
    }
    for (int signal : {SIGTERM, SIGINT}) {
        EventPtr event(evsignal_new(base_.get(), signal, &DaemonRuntime::onStopSignal, this));
        if (!event || evsignal_add(event.get(), nullptr) != 0) return fail("cannot watch signals");
        signals_.push_back(std::move(event));
    }
    acceptRetry_ = newTimer(&DaemonRuntime::onAcceptRetry);
    idleTimer_ = newTimer(&DaemonRuntime::onIdleTimeout);
    deadline_ = newTimer(&DaemonRuntime::onDeadline);
    statusTick_ = newTimer(&DaemonRuntime::onStatusTick);
    for (auto& listener : listeners_) {
        listener->event.reset(event_new(base_.get(), listener->fd.get(), EV_READ | EV_PERSIST,
                                        &DaemonRuntime::onListenerReady, listener.get()));
        if (!listener->event) return fail("cannot watch listener " + listener->name);
    }
    if (!acceptRetry_ || !idleTimer_ || !deadline_ || !statusTick_) {
        return fail("cannot create timers");
    }
    return {};
}

Status DaemonRuntime::connectMaster(UniqueFd statusFd) {
    if (!statusFd) return {};
    ipc::ChannelOptions options;
    options.peer = "master";
    options.rules = master_protocol::childEndRules();
    auto channel = ipc::Channel::open(
        base_.get(), std::move(statusFd), std::move(options),
        [this](ipc::Message&& message) { onMasterMessage(std::move(message)); },
        [this](ipc::CloseReason reason, const std::string& detail) {
            onMasterGone(reason, detail);
        });
    if (!channel) return channel.failure();
    master_ = std::move(channel.value());
    return {};
}

int DaemonRuntime::run() {
    sendStatus();  // "ready"
    sentReady_ = true;
    updateAccepting();
    armIdleClock();
    if (phase_ == Phase::Running || inFlight_ > 0) event_base_dispatch(base_.get());
    if (spec_.shutdown) spec_.shutdown(*this);
    // On the way out a stop signal has nothing left to ask: master sends SIGTERM when it sees
    // the status channel close, and with the signal events gone its default action would
    // kill the exiting process ("killed by signal 15" in master's log after a clean stop).
    signals_.clear();
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    if (master_) {
        if (auto flushed = master_->flushAndClose(kFinalFlushLimit); !flushed) {
            log::warning("status to master: %s", flushed.error().c_str());
        }
    }
    return 0;
}

void DaemonRuntime::countUse() {
    ++uses_;
    publishStatus();
    if (!standalone_ && maxUse_ > 0 && uses_ >= maxUse_ && phase_ == Phase::Running) {
        retire("retiring after max_use uses");
    }
}

void DaemonRuntime::workStarted() {
    ++inFlight_;
    armIdleClock();
    publishStatus();
}

void DaemonRuntime::workFinished() {
    if (inFlight_ <= 0) log::panic("%s: more work finished than started", spec_.service.c_str());
    --inFlight_;
    armIdleClock();
    publishStatus();
    exitWhenDrained();
}

void DaemonRuntime::pauseAccepting() {
    pausedByDaemon_ = true;
    updateAccepting();
}

void DaemonRuntime::resumeAccepting() {
    pausedByDaemon_ = false;
    updateAccepting();
}

void DaemonRuntime::requestStop() {
    beginStop("stopping", spec_.stopTimeout);
}

bool DaemonRuntime::acceptingNow() const {
    return phase_ == Phase::Running && !pausedByDaemon_ && !pausedForDescriptors_;
}

void DaemonRuntime::updateAccepting() {
    bool accepting = acceptingNow();
    for (auto& listener : listeners_) {
        if (!listener->event || !listener->fd) continue;
        if (accepting) {
            event_add(listener->event.get(), nullptr);
        } else {
            event_del(listener->event.get());
        }
    }
}

void DaemonRuntime::onListenerReady(evutil_socket_t, short, void* listener) {
    auto* ready = static_cast<Listener*>(listener);
    ready->runtime->acceptFrom(*ready);
}

void DaemonRuntime::acceptFrom(Listener& listener) {
    for (int taken = 0; taken < kAcceptBatch; ++taken) {
        if (!acceptingNow() || !listener.fd) return;  // onAccept may have stopped us
        AcceptedConnection connection{UniqueFd(), {}, listener.name};
        connection.fd = sockets::acceptConnection(listener.fd.get(), &connection.peer);
        if (!connection.fd) {
            if (!handleAcceptError(listener, errno)) return;
            continue;
        }
        spec_.onAccept(*this, std::move(connection));
    }
}

bool DaemonRuntime::handleAcceptError(const Listener& listener, int error) {
    if (error == EAGAIN || error == EWOULDBLOCK) return false;
    if (isTransientAcceptError(error)) return true;
    // Out of descriptors (or anything unexpected): pause and retry later, never spin.
    log::warning("accept on %s: %s; pausing for %lld ms", listener.name.c_str(),
                 std::strerror(error), static_cast<long long>(spec_.acceptRetryDelay.count()));
    if (!isDescriptorShortage(error)) log::warning("unexpected accept error %d", error);
    pausedForDescriptors_ = true;
    updateAccepting();
    timeval delay = toTimeval(spec_.acceptRetryDelay);
    evtimer_add(acceptRetry_.get(), &delay);
    return false;
}

void DaemonRuntime::retire(const char* why) {
    if (phase_ != Phase::Running) return;
    phase_ = Phase::Retiring;
    log::info("%s; %d in flight", why, inFlight_);
    stopAccepting();
    armDeadline(spec_.retireTimeout);
    publishStatus();
    if (spec_.onRetire) spec_.onRetire(*this);
    exitWhenDrained();
}

void DaemonRuntime::beginStop(const char* why, std::chrono::milliseconds deadline) {
    bool first = phase_ != Phase::Stopping;  // running, or retiring until now
    if (first) log::info("%s; %d in flight", why, inFlight_);
    if (phase_ == Phase::Running) stopAccepting();
    phase_ = Phase::Stopping;
    armDeadline(deadline);
    publishStatus();
    if (first && spec_.onStop) spec_.onStop(*this);
    exitWhenDrained();
}

void DaemonRuntime::stopAccepting() {
    for (auto& listener : listeners_) {
        if (listener->event) event_del(listener->event.get());
        listener->fd.reset();  // master keeps its copy: other children go on accepting
    }
    evtimer_del(idleTimer_.get());
    evtimer_del(acceptRetry_.get());
}

void DaemonRuntime::armDeadline(std::chrono::milliseconds limit) {
    // A later cause may only bring the deadline closer (SIGTERM, then master gone).
    auto at = std::chrono::steady_clock::now() + limit;
    if (limit.count() > 0 && (!evtimer_pending(deadline_.get(), nullptr) || at < deadlineAt_)) {
        deadlineAt_ = at;
        timeval delay = toTimeval(limit);
        evtimer_add(deadline_.get(), &delay);
    }
}

void DaemonRuntime::exitWhenDrained() {
    if (phase_ != Phase::Running && inFlight_ == 0 && base_)
        event_base_loopexit(base_.get(), nullptr);
}

void DaemonRuntime::armIdleClock() {
    if (!idleTimer_) return;
    if (standalone_ || maxIdleSeconds_ <= 0 || phase_ != Phase::Running || inFlight_ > 0) {
        evtimer_del(idleTimer_.get());
        return;
    }
    timeval limit = {static_cast<time_t>(maxIdleSeconds_), 0};
    evtimer_add(idleTimer_.get(), &limit);
}

master_protocol::ChildState DaemonRuntime::currentState() const {
    using master_protocol::ChildState;
    if (!sentReady_) return ChildState::Ready;
    if (phase_ == Phase::Retiring) return ChildState::Retiring;
    if (phase_ == Phase::Stopping) return ChildState::Stopping;
    return inFlight_ > 0 ? ChildState::Busy : ChildState::Idle;
}

void DaemonRuntime::publishStatus() {
    if (!master_ || !sentReady_) return;
    if (currentState() != lastSent_.state) {
        sendStatus();
        return;
    }
    // Only the counts changed: at most one update per interval.
    if (!statusPending_) {
        statusPending_ = true;
        timeval interval = toTimeval(spec_.statusInterval);
        evtimer_add(statusTick_.get(), &interval);
    }
}

void DaemonRuntime::sendStatus() {
    if (!master_) return;
    master_protocol::ChildStatus status;
    status.state = currentState();
    status.inFlight = inFlight_;
    status.uses = uses_;
    status.generation = generation_;
    status.pid = getpid();
    if (auto sent = master_->send(master_protocol::encodeStatus(status)); !sent) {
        log::warning("status to master: %s", sent.error().c_str());
    }
    lastSent_ = status;
    statusPending_ = false;
    evtimer_del(statusTick_.get());
}

void DaemonRuntime::onMasterMessage(ipc::Message&& message) {
    auto command = master_protocol::decodeControl(message);
    if (!command) {
        log::warning("master: bad control message: %s", command.error().c_str());
        return;
    }
    switch (*command) {
        case master_protocol::ControlCommand::Stop:
            beginStop("stop requested by master", spec_.stopTimeout);
            break;
        case master_protocol::ControlCommand::Retire:
            retire("retire requested by master");
            break;
    }
}

void DaemonRuntime::onMasterGone(ipc::CloseReason reason, const std::string& detail) {
    master_.reset();  // allowed inside its own close callback
    if (reason != ipc::CloseReason::Eof) {
        log::warning("status channel to master: %s (%s)", ipc::describe(reason), detail.c_str());
    }
    beginStop("master went away, stopping", spec_.orphanTimeout);
}

void DaemonRuntime::onStopSignal(evutil_socket_t signal, short, void* self) {
    auto* runtime = static_cast<DaemonRuntime*>(self);
    if (runtime->phase_ == Phase::Stopping) {
        log::warning("signal %d again: exiting with %d in flight", int(signal), runtime->inFlight_);
        event_base_loopexit(runtime->base_.get(), nullptr);
        return;
    }
    const char* why =
        signal == SIGTERM ? "SIGTERM received, stopping" : "SIGINT received, stopping";
    runtime->beginStop(why, runtime->spec_.stopTimeout);
}

void DaemonRuntime::onAcceptRetry(evutil_socket_t, short, void* self) {
    auto* runtime = static_cast<DaemonRuntime*>(self);
    runtime->pausedForDescriptors_ = false;
    runtime->updateAccepting();
}

void DaemonRuntime::onIdleTimeout(evutil_socket_t, short, void* self) {
    auto* runtime = static_cast<DaemonRuntime*>(self);
    runtime->retire("retiring after max_idle seconds idle");
}

void DaemonRuntime::onDeadline(evutil_socket_t, short, void* self) {
    auto* runtime = static_cast<DaemonRuntime*>(self);
    log::warning("%s deadline passed with %d in flight; exiting",
                 runtime->phase_ == Phase::Retiring ? "retire" : "stop", runtime->inFlight_);
    event_base_loopexit(runtime->base_.get(), nullptr);
}

void DaemonRuntime::onStatusTick(evutil_socket_t, short, void* self) {
    auto* runtime = static_cast<DaemonRuntime*>(self);
    if (runtime->statusPending_) runtime->sendStatus();
}

}  // namespace postern
