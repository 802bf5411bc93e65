// daemon.h: the one skeleton every postern daemon's main() hands its callbacks to, in the
// manner of Postfix's single_server and OpenSMTPD's fixed start-up order:
//
//   parse -c FILE / --foreground / --standalone / -v / --help → load the configuration →
//   open the log as postern/SERVICE → raise RLIMIT_NOFILE to its hard limit → take the
//   listening sockets inherited from master (or bind them, when started alone) →
//   spec.beforePrivilegeDrop → drop privileges to mail_owner → signals (SIGPIPE and SIGHUP
//   ignored, SIGTERM/SIGINT stop gracefully) → event base → spec.init → status channel to
//   master ("ready") → event loop → spec.shutdown.
//
// The daemon says what it is doing through its DaemonContext: countUse() per session or
// delivery (max_use), beginWork() while a session or delivery is in flight (idle time,
// draining, busy/idle status). Stopping (SIGTERM, a "stop" frame, master gone): stop
// accepting, spec.onStop (hurry up), wait for in-flight work to end, exit, within
// stopTimeout. Retiring (max_use, max_idle, a "retire" frame from master at a reload): stop
// accepting, spec.onRetire, let in-flight work end at its own pace (an smtpd session ends
// when its client quits), exit, within the generous retireTimeout. The master↔child
// protocol is in docs/IPC.md.
//
//   int main(int argc, char** argv) {
//       SmtpServer server;  // the daemon's own state
//       DaemonSpec spec;
//       spec.service = "smtpd";
//       spec.beforePrivilegeDrop = [&](DaemonContext& c) { return server.loadKeys(c.config()); };
//       spec.onAccept = [&](DaemonContext& c, AcceptedConnection&& a) { server.start(c, std::move(a)); };
//       spec.shutdown = [&](DaemonContext&) { server.closeAll(); };
//       return runDaemon(argc, argv, spec);
//   }
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "config.h"
#include "event.h"
#include "result.h"
#include "unique_fd.h"

namespace postern {

class DaemonContext;

// A connection accepted on one of the daemon's listening sockets.
struct AcceptedConnection {
    UniqueFd fd;            // non-blocking, close-on-exec
    sockaddr_storage peer;  // the client's address (AF_UNIX for UNIX sockets)
    std::string listener;   // the listener's name: "inet:127.0.0.1:25", "unix:public/submit"
    bool isUnix() const { return listener.starts_with("unix:"); }
};

// Holds the daemon busy while one session or delivery is in flight; move-only. Outliving
// the daemon is harmless (the release then does nothing).
class WorkGuard {
  public:
    WorkGuard() = default;
    WorkGuard(WorkGuard&& other) noexcept = default;
    WorkGuard& operator=(WorkGuard&& other) noexcept;
    WorkGuard(const WorkGuard&) = delete;
    WorkGuard& operator=(const WorkGuard&) = delete;
    ~WorkGuard() { release(); }
    // Ends the work early (the destructor does it otherwise).
    void release();
    // True while it holds work.
    bool active() const { return context_ != nullptr; }

  private:
    friend class DaemonContext;
    explicit WorkGuard(std::shared_ptr<DaemonContext*> context) : context_(std::move(context)) {}
    std::shared_ptr<DaemonContext*> context_;
};

// What a daemon is: its service name and its callbacks. Only service and onAccept (for a
// daemon with listeners) are required.
struct DaemonSpec {
    std::string service;  // "smtpd", "qmgr", "smtp": program name, config services entry
    std::string usage;    // extra lines for --help, may be empty

    // Before the privilege drop: load TLS keys, open files only root can read.
    std::function<Status(DaemonContext&)> beforePrivilegeDrop;
    // After the event base exists, before the first accept.
    std::function<Status(DaemonContext&)> init;
    // A new connection on one of the listening sockets.
    std::function<void(DaemonContext&, AcceptedConnection&&)> onAccept;
    // Stopping: accepting has stopped for good; the daemon may hurry in-flight work along.
    std::function<void(DaemonContext&)> onStop;
    // Retiring: accepting has stopped for good; the daemon starts no work of its own any
    // more but must not hurry what is in flight (unset: nothing to do).
    std::function<void(DaemonContext&)> onRetire;
    // After the loop, before exit.
    std::function<void(DaemonContext&)> shutdown;

    std::chrono::milliseconds stopTimeout{10000};      // after SIGTERM or a "stop" frame
    std::chrono::milliseconds orphanTimeout{5000};     // after master went away
    // Retiring: in-flight work normally ends long before (sessions by QUIT or their own
    // timeouts, which bound idleness, not length: a slow 10 MB DATA may take many
    // minutes); this only bounds a process something keeps alive beyond reason.
    std::chrono::milliseconds retireTimeout{3600 * 1000};
    std::chrono::milliseconds acceptRetryDelay{1000};  // pause after EMFILE/ENFILE
    std::chrono::milliseconds statusInterval{1000};    // at most one count update per interval
};

// The daemon's view of the skeleton, given to every callback. An interface, so that a
// daemon's own unit tests can hand their modules a fake.
class DaemonContext {
  public:
    DaemonContext() : self_(std::make_shared<DaemonContext*>(this)) {}
    virtual ~DaemonContext() { *self_ = nullptr; }
    DaemonContext(const DaemonContext&) = delete;
    DaemonContext& operator=(const DaemonContext&) = delete;

    // The event base; null in beforePrivilegeDrop (it does not exist yet).
    virtual event_base* base() const = 0;
    virtual const Config& config() const = 0;
    virtual const std::string& service() const = 0;
    // Master's generation number (POSTERN_GENERATION), 0 when started alone.
    virtual int64_t generation() const = 0;
    // True when started without master (own sockets, no status channel, no retiring).
    virtual bool standalone() const = 0;

    // Counts one use (session or delivery) toward the service's max_use.
    virtual void countUse() = 0;
    // Marks one session or delivery in flight until the guard goes.
    WorkGuard beginWork() {
        workStarted();
        return WorkGuard(self_);
    }
    // Sessions or deliveries in flight now.
    virtual int inFlight() const = 0;

    // Back-pressure: stop and restart taking new connections (e.g. at a session limit).
    virtual void pauseAccepting() = 0;
    virtual void resumeAccepting() = 0;
    // Stops gracefully, as SIGTERM does.
    virtual void requestStop() = 0;
    // True once stopping or retiring has begun.
    virtual bool stopping() const = 0;

  protected:
    friend class WorkGuard;
    // From now on, WorkGuards still out there release nothing (call in a destructor).
    void detachWork() { *self_ = nullptr; }
    virtual void workStarted() = 0;
    virtual void workFinished() = 0;

  private:
    std::shared_ptr<DaemonContext*> self_;  // WorkGuards find the context through it
};

inline void WorkGuard::release() {
    if (!context_) return;
    if (DaemonContext* context = *context_) context->workFinished();
    context_.reset();
}

inline WorkGuard& WorkGuard::operator=(WorkGuard&& other) noexcept {
    if (this != &other) {
        release();
        context_ = std::move(other.context_);
    }
    return *this;
}

// Runs the daemon described by SPEC; main() returns what this returns (0 after a clean
// stop, 1 after a start-up failure, 2 after a usage error).
int runDaemon(int argc, char** argv, const DaemonSpec& spec);

}  // namespace postern
