// master.cpp: master's life: start-up in its fixed order, then the loop that turns
// signals into work: SIGCHLD reaps and restarts, SIGHUP reloads, SIGTERM/SIGINT stop
// (see master.h).
#include "master.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <sstream>

#include "ipc.h"
#include "log.h"
#include "paths.h"
#include "sd_notify.h"
#include "service_table.h"
#include "startup.h"
#include "supervisor.h"
#include "version.h"

namespace postern::master {
namespace {

// Children get 10 s to finish their work after "stop" (lib/daemon.h); then this much more.
constexpr std::chrono::seconds kStopGrace{15};

void notify(const std::string& state) {
    if (auto sent = notifyServiceManager(state); !sent) log::warning("%s", sent.error().c_str());
}

void ignoreSignal(int number) {
    struct sigaction ignore = {};
    ignore.sa_handler = SIG_IGN;
    sigaction(number, &ignore, nullptr);
}

ThrottleSettings throttleSettings(const Config& config) {
    ThrottleSettings settings;
    settings.maxDelay = std::chrono::seconds(config.service_throttle_time);
    return settings;
}

class Master {
  public:
    explicit Master(const MasterOptions& options)
        : options_(options), report_(options.readyFd, true) {}
    int run();

  private:
    Result<std::vector<ServicePlan>> startUp();
    int startupFailed(const std::string& text);
    Status createEventLoop();
    void reload();
    Status applyConfig(Config config);
    void beginStop(int signal);
    void childrenChanged();
    void killStragglers();
    std::vector<std::string> childArguments() const;
    static void onSignal(evutil_socket_t signal, short, void* self);
    static void onStopDeadline(evutil_socket_t, short, void* self);

    MasterOptions options_;
    StartupReport report_;
    Config config_;
    std::optional<UserIds> owner_;
    std::optional<QueueClaim> claim_;
    EventBasePtr base_;  // before everything that lives on it
    std::vector<EventPtr> signals_;
    EventPtr stopDeadline_;
    ListenerSet listeners_;
    std::unique_ptr<Supervisor> supervisor_;
    int64_t generation_ = 0;
    bool stopping_ = false;
};

int Master::run() {
    // Until the loop watches them: a reload during start-up must not kill master (SIGHUP's
    // default), nor a child hanging up on a pipe (SIGPIPE).
    ignoreSignal(SIGHUP);
    ignoreSignal(SIGPIPE);
    (void)log::init("master", "-");
    auto config = loadCheckedConfig(options_.configPath);
    if (!config) return report_.failed(config.error());
    config_ = std::move(config.value());
    if (auto opened = log::init("master", config_.log_file); !opened)
        return report_.failed(opened.error());
    report_.setLogOnStderr(config_.log_file == "-");
    log::setVerbose(options_.verbose);
    umask(022);
    if (chdir("/") != 0) return report_.failed(std::string("chdir /: ") + std::strerror(errno));
    auto plans = startUp();
    if (!plans) return startupFailed(plans.error());
    log::info("daemon started -- version %s, configuration %s", kPosternVersion,
              config_.path.c_str());
    supervisor_->runGeneration(std::move(plans.value()), &listeners_, ++generation_,
                               throttleSettings(config_));
    report_.ready(getpid());
    notify("READY=1\nSTATUS=accepting mail");
    event_base_dispatch(base_.get());
    killStragglers();
    if (claim_) unlink(claim_->pidPath.c_str());
    return 0;
}

// Reports TEXT; a pid file already written goes (the lock goes with the process).
int Master::startupFailed(const std::string& text) {
    if (claim_) unlink(claim_->pidPath.c_str());
    return report_.failed(text);
}

// The order matters: the queue is claimed (lock) before any socket is bound, so a second
// master fails on the lock, not on an address in use; sockets are bound (as root) before
// any child starts.
Result<std::vector<ServicePlan>> Master::startUp() {
    auto owner = childOwner(config_);
    if (!owner) return owner.failure();
    owner_ = *owner;
    auto claim = claimQueue(config_, owner_);
    if (!claim) return claim.failure();
    claim_.emplace(std::move(claim.value()));
    auto plans = planServices(config_, executableDir());  // the daemons live beside master
    if (!plans) return plans.failure();
    if (auto bound = listeners_.update(*plans, config_.queue_directory, owner_); !bound)
        return bound.failure();
    if (report_.waiting()) {
        if (auto detached = detachStandardStreams(); !detached) return detached.failure();
    }
    if (auto made = createEventLoop(); !made) return made.failure();
    return plans;
}

Status Master::createEventLoop() {
    base_.reset(event_base_new());
    if (!base_) return fail("cannot create the event loop");
    for (int number : {SIGCHLD, SIGHUP, SIGTERM, SIGINT}) {
        EventPtr event(evsignal_new(base_.get(), number, onSignal, this));
        if (!event || evsignal_add(event.get(), nullptr) != 0)
            return fail("cannot watch signal " + std::to_string(number));
        signals_.push_back(std::move(event));
    }
    stopDeadline_.reset(evtimer_new(base_.get(), onStopDeadline, this));
    if (!stopDeadline_) return fail("cannot create a timer");
    supervisor_ = std::make_unique<Supervisor>(base_.get(), childArguments());
    return {};
}

std::vector<std::string> Master::childArguments() const {
    std::vector<std::string> arguments = {"-c", config_.path};
    if (options_.verbose) arguments.push_back("-v");
    return arguments;
}

void Master::onSignal(evutil_socket_t signal, short, void* self) {
    auto* master = static_cast<Master*>(self);
    switch (signal) {
        case SIGCHLD: master->childrenChanged(); break;
        case SIGHUP: master->reload(); break;
        default: master->beginStop(int(signal)); break;
    }
}

void Master::childrenChanged() {
    supervisor_->reapChildren();
    if (stopping_ && supervisor_->childCount() == 0) event_base_loopbreak(base_.get());
}

void Master::reload() {
    if (stopping_) return;
    notify(reloadingState());
    auto config = loadCheckedConfig(config_.path);
    Status applied = config ? applyConfig(std::move(config.value())) : Status(config.failure());
    if (!applied) {
        std::istringstream lines(applied.error());
        for (std::string line; std::getline(lines, line);) log::error("reload: %s", line.c_str());
        log::error("reload refused: the configuration in force is unchanged");
    } else {
        log::info("reload -- version %s, configuration %s", kPosternVersion, config_.path.c_str());
    }
    notify("READY=1");
}

// Takes CONFIG into use: new sockets bound, a new generation of children; or, on any
// error, nothing changed at all.
Status Master::applyConfig(Config config) {
    for (auto [name, changed] : {std::pair{"queue_directory", config.queue_directory !=
                                                                   config_.queue_directory},
                                 std::pair{"mail_owner", config.mail_owner != config_.mail_owner}}) {
        if (changed) return fail(std::string(name) + " cannot change without a restart");
    }
    auto plans = planServices(config, executableDir());
    if (!plans) return plans.failure();
    if (auto bound = listeners_.update(*plans, config.queue_directory, owner_); !bound)
        return bound.failure();
    if (config.log_file != config_.log_file) {
        if (auto opened = log::init("master", config.log_file); !opened)
            log::warning("reload: %s; logging goes on as before", opened.error().c_str());
    }
    config_ = std::move(config);
    supervisor_->runGeneration(std::move(plans.value()), &listeners_, ++generation_,
                               throttleSettings(config_));
    return {};
}

void Master::beginStop(int signal) {
    if (stopping_) {
        log::warning("signal %d while stopping: killing %zu remaining processes", signal,
                     supervisor_->childCount());
        supervisor_->killAll();
        return;
    }
    stopping_ = true;
    log::info("terminating on signal %d", signal);
    notify("STOPPING=1");
    listeners_.closeAll();  // stop accepting; the children close their copies as they stop
    supervisor_->stopAll();
    timeval grace = {kStopGrace.count(), 0};
    evtimer_add(stopDeadline_.get(), &grace);
    childrenChanged();
}

void Master::onStopDeadline(evutil_socket_t, short, void* self) {
    auto* master = static_cast<Master*>(self);
    log::warning("%zu processes still running %lld s after the stop; killing them",
                 master->supervisor_->childCount(), (long long)kStopGrace.count());
    master->supervisor_->killAll();
}

// After the loop: nothing of ours may outlive master.
void Master::killStragglers() {
    if (!supervisor_ || supervisor_->childCount() == 0) return;
    supervisor_->killAll();
    while (supervisor_->childCount() > 0) {
        supervisor_->reapChildren();
        usleep(10000);  // SIGKILL takes effect at once; this is a bounded wait for the reap
    }
}

}  // namespace

Result<MasterOptions> parseMasterOptions(int argc, char** argv) {
    MasterOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        bool hasValue = i + 1 < argc;
        if (arg == "-c" && hasValue) {
            options.configPath = argv[++i];
        } else if (arg == "--ready-fd" && hasValue) {
            auto fd = ipc::parseDecimal(argv[++i]);
            if (!fd || *fd < 0 || *fd > 65535 || fcntl(int(*fd), F_SETFD, FD_CLOEXEC) != 0)
                return fail(std::string("--ready-fd: not an open descriptor: ") + argv[i]);
            options.readyFd = int(*fd);
        } else if (arg == "--foreground") {
            // master never detaches by itself: `postern start` does that
        } else if (arg == "-v") {
            options.verbose = true;
        } else {
            return fail("unknown or incomplete argument: " + arg);
        }
    }
    if (options.configPath.empty()) options.configPath = defaultConfigPath();
    return options;
}

int runMaster(const MasterOptions& options) {
    Master master(options);
    return master.run();
}

}  // namespace postern::master
