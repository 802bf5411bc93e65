// daemon_runtime.h: the DaemonContext behind runDaemon(): listening sockets and accepting
// (with back-pressure and EMFILE pauses), work accounting, stopping and draining, retiring
// after max_use or max_idle, and the status channel to master. Used by lib/daemon.cpp only.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "daemon.h"
#include "event.h"
#include "ipc_channel.h"
#include "master_protocol.h"
#include "unique_fd.h"

namespace postern {

// A listening socket and its name ("inet:127.0.0.1:25").
struct NamedListener {
    std::string name;
    UniqueFd fd;
};

class DaemonRuntime final : public DaemonContext {
  public:
    DaemonRuntime(const DaemonSpec& spec, Config config, bool standalone, int64_t generation);
    ~DaemonRuntime() override;

    // Takes the listening sockets (inherited or bound).
    void adoptListeners(std::vector<NamedListener> listeners);
    // Creates the event base, the signal events, the timers and the accept events.
    Status createEventBase();
    // Opens the status channel to master on STATUS_FD (a daemon started alone has none).
    Status connectMaster(UniqueFd statusFd);
    // Says "ready", starts accepting and the idle clock; then runs the loop to the end,
    // calls spec.shutdown and returns the exit status.
    int run();

    // DaemonContext
    event_base* base() const override { return base_.get(); }
    const Config& config() const override { return config_; }
    const std::string& service() const override { return spec_.service; }
    int64_t generation() const override { return generation_; }
    bool standalone() const override { return standalone_; }
    void countUse() override;
    int inFlight() const override { return inFlight_; }
    void pauseAccepting() override;
    void resumeAccepting() override;
    void requestStop() override;
    bool stopping() const override { return phase_ != Phase::Running; }

  private:
    enum class Phase { Running, Retiring, Stopping };
    struct Listener {
        DaemonRuntime* runtime;
        std::string name;
        UniqueFd fd;
        EventPtr event;
    };

    void workStarted() override;
    void workFinished() override;

    void acceptFrom(Listener& listener);
    // Handles a failed accept(); returns false when accepting should wait for a new wake-up.
    bool handleAcceptError(const Listener& listener, int error);
    void updateAccepting();
    // Retiring: stops accepting, spec.onRetire; exits when in-flight work ends or at
    // retireTimeout. Does nothing once retiring or stopping.
    void retire(const char* why);
    // Stopping (from running or retiring): stops accepting, spec.onStop once; exits when
    // in-flight work ends or at DEADLINE (or an earlier deadline already set).
    void beginStop(const char* why, std::chrono::milliseconds deadline);
    // Closes the listening sockets for good; stops the idle and accept-retry timers.
    void stopAccepting();
    // Exits after LIMIT at the latest; a deadline already set may only come closer.
    void armDeadline(std::chrono::milliseconds limit);
    void exitWhenDrained();
    bool acceptingNow() const;
    master_protocol::ChildState currentState() const;
    void armIdleClock();
    void publishStatus();
    void sendStatus();
    void onMasterMessage(ipc::Message&& message);
    void onMasterGone(ipc::CloseReason reason, const std::string& detail);
    EventPtr newTimer(void (*callback)(evutil_socket_t, short, void*));

    static void onListenerReady(evutil_socket_t fd, short events, void* self);
    static void onStopSignal(evutil_socket_t signal, short events, void* self);
    static void onAcceptRetry(evutil_socket_t, short, void* self);
    static void onIdleTimeout(evutil_socket_t, short, void* self);
    static void onDeadline(evutil_socket_t, short, void* self);
    static void onStatusTick(evutil_socket_t, short, void* self);

    const DaemonSpec& spec_;
    Config config_;
    bool standalone_;
    int64_t generation_;
    int64_t maxUse_ = 0;
    int64_t maxIdleSeconds_ = 0;

    EventBasePtr base_;  // declared first: everything below is freed before it
    std::vector<std::unique_ptr<Listener>> listeners_;  // stable addresses for callbacks
    std::vector<EventPtr> signals_;
    EventPtr acceptRetry_, idleTimer_, deadline_, statusTick_;
    std::unique_ptr<ipc::Channel> master_;

    Phase phase_ = Phase::Running;
    int inFlight_ = 0;
    int64_t uses_ = 0;
    bool pausedByDaemon_ = false;
    bool pausedForDescriptors_ = false;
    bool sentReady_ = false;
    master_protocol::ChildStatus lastSent_;
    bool statusPending_ = false;
    std::chrono::steady_clock::time_point deadlineAt_;
};

}  // namespace postern
