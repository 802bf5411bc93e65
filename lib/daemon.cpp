// daemon.cpp: runDaemon(), the fixed start-up order every daemon shares (see daemon.h):
// arguments, configuration, log, descriptor limit, sockets, privileges, signals, loop.
#include "daemon.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "daemon_runtime.h"
#include "ipc.h"
#include "listeners.h"
#include "log.h"
#include "paths.h"
#include "privileges.h"
#include "sockets.h"

namespace postern {
namespace {

struct Arguments {
    std::string configPath;
    bool standalone = false;
    bool verbose = false;
    bool help = false;
};

// What master handed down in the environment (nothing when started alone).
struct Inheritance {
    bool fromMaster = false;
    UniqueFd statusFd;
    std::vector<NamedListener> listeners;
    int64_t generation = 0;
};

void printUsage(FILE* out, const char* program, const DaemonSpec& spec) {
    fprintf(out,
            "usage: %s [-c FILE] [--foreground] [--standalone] [-v] [--help]\n"
            "  -c FILE       configuration file (default: %s)\n"
            "  --foreground  accepted for symmetry: daemons never detach\n"
            "  --standalone  bind this service's own sockets even if started by master\n"
            "  -v            log debug lines\n",
            program, defaultConfigPath().c_str());
    if (!spec.usage.empty()) fprintf(out, "%s\n", spec.usage.c_str());
}

Result<Arguments> parseArguments(int argc, char** argv) {
    Arguments args;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-c" && i + 1 < argc) {
            args.configPath = argv[++i];
        } else if (arg == "--standalone") {
            args.standalone = true;
        } else if (arg == "--foreground") {
            // nothing to do: a daemon never forks into the background
        } else if (arg == "-v") {
            args.verbose = true;
        } else if (arg == "--help" || arg == "-h") {
            args.help = true;
        } else {
            return fail("unknown or incomplete argument: " + arg);
        }
    }
    if (args.configPath.empty()) args.configPath = defaultConfigPath();
    return args;
}

// Logs each line of TEXT as a fatal error and returns the exit status for start-up failures.
int startupFailure(const std::string& text) {
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start)
            log::message(log::Level::Fatal, "%s", text.substr(start, end - start).c_str());
        start = end + 1;
    }
    return 1;
}

// Many sessions need many descriptors: take the whole hard limit.
void raiseDescriptorLimit() {
    rlimit limit = {};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        log::warning("cannot raise the open file limit: %s", std::strerror(errno));
    }
}

Result<int64_t> numberFromEnv(const char* name, int64_t max) {
    const char* text = getenv(name);
    auto value = ipc::parseDecimal(text ? text : "");
    if (!value || *value < 0 || *value > max) {
        return fail(std::string("bad ") + name + " \"" + (text ? text : "") + "\"");
    }
    return *value;
}

Result<UniqueFd> takeInheritedSocket(int fd, bool mustListen, const std::string& what) {
    struct stat info = {};
    if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) {
        return fail(what + ": descriptor " + std::to_string(fd) + " is not an open socket");
    }
    if (mustListen && !sockets::isListeningSocket(fd)) {
        return fail(what + ": descriptor " + std::to_string(fd) + " is not listening");
    }
    if (auto made = sockets::makeNonBlockingCloseOnExec(fd); !made) return made.failure();
    return UniqueFd(fd);
}

// Reads and clears master's environment; the descriptors become ours.
Result<Inheritance> takeInheritance(bool forceStandalone) {
    Inheritance inheritance;
    if (!forceStandalone && getenv(kStatusFdEnv)) {
        inheritance.fromMaster = true;
        auto statusFd = numberFromEnv(kStatusFdEnv, 65535);
        if (!statusFd) return statusFd.failure();
        auto status = takeInheritedSocket(int(*statusFd), false, kStatusFdEnv);
        if (!status) return status.failure();
        inheritance.statusFd = std::move(status.value());
        auto listeners = parseListenFds(getenv(kListenFdsEnv) ? getenv(kListenFdsEnv) : "");
        if (!listeners) return listeners.failure();
        for (const auto& listener : *listeners) {
            if (listener.fd == int(*statusFd)) {
                return fail(listener.name + ": descriptor is also " + kStatusFdEnv);
            }
            auto fd = takeInheritedSocket(listener.fd, true, listener.name);
            if (!fd) return fd.failure();
            inheritance.listeners.push_back({listener.name, std::move(fd.value())});
        }
        if (getenv(kGenerationEnv)) {
            auto generation = numberFromEnv(kGenerationEnv, INT64_MAX);
            if (!generation) return generation.failure();
            inheritance.generation = *generation;
        }
    }
    for (const char* name : {kStatusFdEnv, kListenFdsEnv, kGenerationEnv}) unsetenv(name);
    return inheritance;
}

Result<std::vector<NamedListener>> bindOwnListeners(const std::string& service,
                                                    const Config& config) {
    auto specs = serviceListeners(service, config);
    if (!specs) return specs.failure();
    std::optional<UserIds> owner;
    if (geteuid() == 0) {
        auto ids = lookUpUser(config.mail_owner);
        if (!ids) return ids.failure();
        owner = *ids;
    }
    std::vector<NamedListener> listeners;
    for (const auto& spec : *specs) {
        auto fd = bindListener(spec, config.queue_directory, owner);
        if (!fd) return fd.failure();
        listeners.push_back({spec.name(), std::move(fd.value())});
    }
    return listeners;
}

void ignoreSignal(int number) {
    struct sigaction action = {};
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    sigaction(number, &action, nullptr);
}

// From the sockets to the loop: the part of start-up that needs the configuration.
int startDaemon(const DaemonSpec& spec, Config config, const Arguments& args) {
    raiseDescriptorLimit();
    auto inheritance = takeInheritance(args.standalone);
    if (!inheritance) return startupFailure(inheritance.error());
    bool standalone = !inheritance->fromMaster;
    std::string mailOwner = config.mail_owner;
    DaemonRuntime runtime(spec, std::move(config), standalone, inheritance->generation);
    if (standalone) {
        auto own = bindOwnListeners(spec.service, runtime.config());
        if (!own) return startupFailure(own.error());
        runtime.adoptListeners(std::move(own.value()));
    } else {
        runtime.adoptListeners(std::move(inheritance->listeners));
    }
    if (spec.beforePrivilegeDrop) {
        if (auto ready = spec.beforePrivilegeDrop(runtime); !ready)
            return startupFailure(ready.error());
    }
    if (auto dropped = dropPrivileges(mailOwner); !dropped) return startupFailure(dropped.error());
    ignoreSignal(SIGPIPE);  // a peer that hangs up is an error value, not a death
    ignoreSignal(SIGHUP);   // reloads are master's business: it starts new children
    if (auto made = runtime.createEventBase(); !made) return startupFailure(made.error());
    if (spec.init) {
        if (auto ready = spec.init(runtime); !ready) return startupFailure(ready.error());
    }
    if (auto connected = runtime.connectMaster(std::move(inheritance->statusFd)); !connected) {
        return startupFailure(connected.error());
    }
    return runtime.run();
}

}  // namespace

int runDaemon(int argc, char** argv, const DaemonSpec& spec) {
    (void)log::init(spec.service, "-");  // until the configuration names the real target
    auto args = parseArguments(argc, argv);
    const char* program = argc > 0 ? argv[0] : spec.service.c_str();
    if (!args) {
        fprintf(stderr, "%s: %s\n", program, args.error().c_str());
        printUsage(stderr, program, spec);
        return 2;
    }
    if (args->help) {
        printUsage(stdout, program, spec);
        return 0;
    }
    auto config = loadConfig(args->configPath);
    if (!config) return startupFailure(config.error());
    if (auto opened = log::init(spec.service, config->log_file); !opened) {
        return startupFailure(opened.error());
    }
    log::setVerbose(args->verbose);
    return startDaemon(spec, std::move(config.value()), *args);
}

}  // namespace postern
