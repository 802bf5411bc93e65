// supervisor.cpp: starting, hearing, reaping and restarting master's children (see
// supervisor.h).
#include "supervisor.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "log.h"
#include "spawner.h"

namespace postern::master {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

double seconds(milliseconds delay) { return double(delay.count()) / 1000.0; }

}  // namespace

Supervisor::Supervisor(event_base* base, std::vector<std::string> arguments)
    : base_(base), arguments_(std::move(arguments)) {}

Supervisor::~Supervisor() = default;

void Supervisor::runGeneration(std::vector<ServicePlan> plans, const ListenerSet* listeners,
                               int64_t generation, ThrottleSettings throttle) {
    listeners_ = listeners;
    generation_ = generation;
    for (auto& [pid, child] : children_) {
        if (child->generation < generation) replace(*child);
    }
    services_.clear();
    for (auto& plan : plans) {
        auto state = std::make_unique<ServiceState>();
        state->owner = this;
        state->plan = std::move(plan);
        state->throttle = RestartThrottle(throttle);
        state->retryTimer.reset(evtimer_new(base_, onRetryTimer, state.get()));
        if (!state->retryTimer) log::panic("cannot create a timer");
        services_.push_back(std::move(state));
    }
    for (auto& service : services_) fill(*service);
}

int Supervisor::activeProcesses(const std::string& service) const {
    int count = 0;
    for (const auto& [pid, child] : children_) {
        if (child->service == service && child->generation == generation_ && !child->retiring &&
            !child->stopRequested)
            ++count;
    }
    return count;
}

void Supervisor::fill(ServiceState& service) {
    if (stopping_) return;
    auto now = Clock::now();
    if (now < service.notBefore) {
        timeval wait = {};
        auto left = duration_cast<std::chrono::microseconds>(service.notBefore - now).count();
        wait.tv_sec = left / 1000000;
        wait.tv_usec = left % 1000000;
        evtimer_add(service.retryTimer.get(), &wait);
        return;
    }
    if (service.plan.exclusive && !pidsOf(service.plan.name).empty()) {
        return;  // the next one starts when this one has exited (childEnded fills again)
    }
    for (int active = activeProcesses(service.plan.name); active < service.plan.processes;
         ++active) {
        if (!spawn(service)) return;
    }
}

bool Supervisor::spawn(ServiceState& service) {
    int ends[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
        log::warning("%s: cannot make a status channel: %s", service.plan.program.c_str(),
                     std::strerror(errno));
        throttle(service, ProcessEnd{milliseconds(0), true, false});
        return false;
    }
    UniqueFd masterEnd(ends[0]), childEnd(ends[1]);
    DescriptorPlan fds =
        planDescriptors(childEnd.get(), listeners_->forService(service.plan), generation_);
    SpawnRequest request{service.plan.program, arguments_, fds.environment, {"NOTIFY_SOCKET"},
                         fds.fds};
    auto pid = spawnProcess(request);
    if (!pid) {
        log::warning("%s: cannot start: %s", service.plan.program.c_str(), pid.error().c_str());
        throttle(service, ProcessEnd{milliseconds(0), true, false});
        return false;
    }
    childEnd.reset();  // the child has its copy; EOF on ours now means the child is gone
    auto child = std::make_unique<ChildRecord>();
    child->pid = *pid;
    child->service = service.plan.name;
    child->program = service.plan.program;
    child->generation = generation_;
    child->exclusive = service.plan.exclusive;
    child->started = Clock::now();
    ipc::ChannelOptions options;
    options.peer = service.plan.program + " pid " + std::to_string(*pid);
    options.rules = master_protocol::masterEndRules();
    pid_t childPid = *pid;
    auto channel = ipc::Channel::open(
        base_, std::move(masterEnd), options,
        [this, childPid](ipc::Message&& message) { onStatus(childPid, std::move(message)); },
        [this, childPid](ipc::CloseReason, const std::string&) { onChannelClosed(childPid); });
    if (channel) {
        child->channel = std::move(channel.value());
    } else {
        log::warning("%s: status channel: %s", options.peer.c_str(), channel.error().c_str());
    }
    log::debug("started %s pid %d generation %lld", child->program.c_str(), int(*pid),
               (long long)generation_);
    children_.emplace(*pid, std::move(child));
    return true;
}

void Supervisor::throttle(ServiceState& service, const ProcessEnd& end) {
    milliseconds delay = service.throttle.processEnded(end);
    if (delay.count() == 0) return;
    service.notBefore = Clock::now() + delay;
    int failures = service.throttle.failures();
    log::warning("%s: service throttled: next start in %.1fs (%d failure%s in a row)",
                 service.plan.program.c_str(), seconds(delay), failures, failures == 1 ? "" : "s");
}

void Supervisor::reapChildren() {
    std::vector<std::pair<pid_t, int>> ended;
    for (const auto& [pid, child] : children_) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) ended.emplace_back(pid, status);
    }
    for (auto [pid, status] : ended) childEnded(pid, status);
}

void Supervisor::childEnded(pid_t pid, int status) {
    auto found = children_.find(pid);
    if (found == children_.end()) return;
    std::unique_ptr<ChildRecord> child = std::move(found->second);
    children_.erase(found);
    bool abnormal = endedAbnormally(status);
    if (abnormal) {
        log::warning("process %s pid %d %s", child->program.c_str(), int(pid),
                     describeWaitStatus(status).c_str());
    }
    ServiceState* service = serviceNamed(child->service);
    if (stopping_ || service == nullptr) return;
    if (child->generation == generation_ && !child->stopRequested) {
        auto lifetime = duration_cast<milliseconds>(Clock::now() - child->started);
        throttle(*service, ProcessEnd{lifetime, abnormal, child->ready});
    }
    fill(*service);
}

void Supervisor::requestStop(ChildRecord& child) {
    child.stopRequested = true;
    tell(child, master_protocol::ControlCommand::Stop);
}

void Supervisor::replace(ChildRecord& child) {
    if (child.stopRequested || child.retireRequested) return;
    if (child.exclusive) {
        requestStop(child);  // its replacement waits for it: it must not linger
        return;
    }
    child.retireRequested = true;
    tell(child, master_protocol::ControlCommand::Retire);
}

void Supervisor::tell(ChildRecord& child, master_protocol::ControlCommand command) {
    if (child.channel && child.channel->isOpen() &&
        child.channel->send(master_protocol::encodeControl(command)))
        return;
    // No channel to say it on: the child saw it close and is stopping already (as SIGTERM
    // asks), the signal only makes sure.
    kill(child.pid, SIGTERM);
}

void Supervisor::stopAll() {
    stopping_ = true;
    for (auto& service : services_) evtimer_del(service->retryTimer.get());
    for (auto& [pid, child] : children_) {
        if (!child->stopRequested) requestStop(*child);
    }
}

void Supervisor::killAll() {
    for (const auto& [pid, child] : children_) kill(pid, SIGKILL);
}

void Supervisor::onStatus(pid_t pid, ipc::Message&& message) {
    auto found = children_.find(pid);
    if (found == children_.end()) return;
    ChildRecord& child = *found->second;
    auto status = master_protocol::decodeStatus(message);
    if (!status) {
        log::warning("%s pid %d: bad status frame: %s", child.program.c_str(), int(pid),
                     status.error().c_str());
        return;
    }
    if (status->pid != pid || status->generation != child.generation) {
        log::warning("%s pid %d: ignoring status of pid %lld generation %lld (stale)",
                     child.program.c_str(), int(pid), (long long)status->pid,
                     (long long)status->generation);
        return;
    }
    child.lastStatus = *status;
    using master_protocol::ChildState;
    if (status->state == ChildState::Ready) child.ready = true;
    if (status->state == ChildState::Retiring && !child.retiring) {
        child.retiring = true;
        if (ServiceState* service = serviceNamed(child.service)) fill(*service);
    }
}

void Supervisor::onChannelClosed(pid_t pid) {
    // The child is gone or going (SIGCHLD reaps it); the channel allows being freed here.
    auto found = children_.find(pid);
    if (found != children_.end()) found->second->channel.reset();
}

Supervisor::ServiceState* Supervisor::serviceNamed(const std::string& name) {
    for (auto& service : services_) {
        if (service->plan.name == name) return service.get();
    }
    return nullptr;
}

std::vector<pid_t> Supervisor::pidsOf(const std::string& service) const {
    std::vector<pid_t> pids;
    for (const auto& [pid, child] : children_) {
        if (child->service == service) pids.push_back(pid);
    }
    return pids;
}

int Supervisor::failuresOf(const std::string& service) const {
    for (const auto& state : services_) {
        if (state->plan.name == service) return state->throttle.failures();
    }
    return 0;
}

void Supervisor::onRetryTimer(evutil_socket_t, short, void* service) {
    auto* state = static_cast<ServiceState*>(service);
    state->owner->fill(*state);
}

}  // namespace postern::master
