// supervisor.h: master's children. Starts the processes of each service (spawner.h),
// hears their status frames (docs/IPC.md), reaps them when they end, logs how an
// unexpected end happened (`warning: process PROGRAM pid N killed by signal 9`), and
// restarts them through a RestartThrottle, so a crash-looping service slows down. Each
// reload is a new generation: older children are told to retire (they stop accepting and
// end when their sessions and deliveries do, none cut) and new ones start at once, except
// for an exclusive service (qmgr): its new process waits for the old one to exit, so the
// old one is told to stop (finish its deliveries within its stop timeout) rather than to
// linger. Status frames whose pid or generation is not the child's are discarded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "event.h"
#include "ipc_channel.h"
#include "master_protocol.h"
#include "restart_throttle.h"
#include "service_table.h"

namespace postern::master {

// One child process of master.
struct ChildRecord {
    pid_t pid = 0;
    std::string service;
    std::string program;
    int64_t generation = 0;
    std::chrono::steady_clock::time_point started;
    master_protocol::ChildStatus lastStatus;  // the last status frame accepted
    bool ready = false;          // said "ready"
    bool exclusive = false;      // its service runs one process at a time (qmgr)
    bool retiring = false;       // said "retiring": a replacement was started
    bool retireRequested = false;  // master told it to retire (reload)
    bool stopRequested = false;    // master told it to stop (shutdown; reload of qmgr)
    std::unique_ptr<ipc::Channel> channel;  // master's end of the status channel
};

class Supervisor {
  public:
    // ARGUMENTS follow the program name on each child's command line ("-c", CONFIG).
    Supervisor(event_base* base, std::vector<std::string> arguments);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Runs PLANS, whose sockets are in LISTENERS (kept alive by the caller), as GENERATION
    // from now on: children of older generations are told to retire (an exclusive
    // service's: to stop), new ones are started.
    // Past failures are forgotten.
    void runGeneration(std::vector<ServicePlan> plans, const ListenerSet* listeners,
                       int64_t generation, ThrottleSettings throttle);
    // Reaps every child that has ended (call on SIGCHLD), logs and restarts as needed.
    void reapChildren();
    // Tells every child to stop (retiring ones too) and starts no more.
    void stopAll();
    // Sends SIGKILL to every child left (a stop that took too long).
    void killAll();

    // Children alive (not reaped yet).
    size_t childCount() const { return children_.size(); }
    // The children, by pid (for the status and for tests).
    const std::map<pid_t, std::unique_ptr<ChildRecord>>& children() const { return children_; }
    // The pids of SERVICE's children.
    std::vector<pid_t> pidsOf(const std::string& service) const;
    // Consecutive failures of SERVICE now.
    int failuresOf(const std::string& service) const;

  private:
    struct ServiceState {
        Supervisor* owner = nullptr;
        ServicePlan plan;
        RestartThrottle throttle;
        std::chrono::steady_clock::time_point notBefore;
        EventPtr retryTimer;
    };

    // Starts SERVICE's missing processes, unless stopping or throttled.
    void fill(ServiceState& service);
    // Starts one process of SERVICE with its status channel; false when that failed.
    bool spawn(ServiceState& service);
    // Records how a process of SERVICE ended and delays its next start if need be.
    void throttle(ServiceState& service, const ProcessEnd& end);
    // A reaped child: logs an abnormal end, throttles, starts what is missing.
    void childEnded(pid_t pid, int status);
    // Tells CHILD to stop: a "stop" frame, or SIGTERM when its channel is gone.
    void requestStop(ChildRecord& child);
    // Tells CHILD of an older generation to retire (or to stop, if exclusive).
    void replace(ChildRecord& child);
    // Sends COMMAND on CHILD's status channel; SIGTERM when the channel is gone.
    void tell(ChildRecord& child, master_protocol::ControlCommand command);
    // A status frame from the child PID: checked against it, then taken.
    void onStatus(pid_t pid, ipc::Message&& message);
    // The child PID's status channel closed (the child is ending).
    void onChannelClosed(pid_t pid);
    // The service of that name in the current generation; nullptr if none.
    ServiceState* serviceNamed(const std::string& name);
    // SERVICE's processes that count toward its number (current, not leaving).
    int activeProcesses(const std::string& service) const;
    // A throttled service's wait is over.
    static void onRetryTimer(evutil_socket_t, short, void* service);

    event_base* base_;
    std::vector<std::string> arguments_;
    const ListenerSet* listeners_ = nullptr;
    int64_t generation_ = 0;
    bool stopping_ = false;
    std::vector<std::unique_ptr<ServiceState>> services_;  // stable addresses for timers
    std::map<pid_t, std::unique_ptr<ChildRecord>> children_;
};

}  // namespace postern::master
