// control_commands.cpp: `postern stop`, `postern reload` and `postern status`: they find
// the master running on the configuration's queue (master_control.h) and signal it or
// report on it.
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "commands.h"
#include "master_control.h"

namespace postern::cli {
namespace {

constexpr std::chrono::seconds kStopWait{60};

bool refuseArguments(const char* command, const CommandArgs& args) {
    if (args.empty()) return false;
    printCommandUsage(*findCommand(command), stderr);
    return true;
}

// The running master's pid; nullopt (after saying why) when there is none or on error.
std::optional<pid_t> findMasterOrReport(const Config& config) {
    auto master = runningMaster(config);
    if (!master) {
        printError(master.error());
        return std::nullopt;
    }
    if (!master->has_value()) {
        printError(kNotRunning);
        return std::nullopt;
    }
    return **master;
}

bool signalMaster(pid_t pid, int number) {
    if (kill(pid, number) == 0) return true;
    printError("cannot signal master (pid " + std::to_string(pid) + "): " + std::strerror(errno));
    return false;
}

}  // namespace

int runStatusCommand(const CommandContext& context, const CommandArgs& args) {
    if (refuseArguments("status", args)) return kExitUsage;
    auto config = loadConfigOrReport(context);
    if (!config) return kExitFailure;
    auto master = runningMaster(*config);
    if (!master) {
        printError(master.error());
        return kExitFailure;
    }
    if (!master->has_value()) {
        printError(kNotRunning);
        return kExitFailure;
    }
    std::printf("postern: %s\n", runningMessage(**master).c_str());
    return kExitOk;
}

int runStopCommand(const CommandContext& context, const CommandArgs& args) {
    if (refuseArguments("stop", args)) return kExitUsage;
    auto config = loadConfigOrReport(context);
    if (!config) return kExitFailure;
    auto pid = findMasterOrReport(*config);
    if (!pid || !signalMaster(*pid, SIGTERM)) return kExitFailure;
    if (!waitUntilStopped(*config, kStopWait)) {
        printError("the mail system (PID " + std::to_string(*pid) + ") did not stop within " +
                   std::to_string(kStopWait.count()) + " s");
        return kExitFailure;
    }
    std::printf("postern: stopped the mail system\n");
    return kExitOk;
}

int runReloadCommand(const CommandContext& context, const CommandArgs& args) {
    if (refuseArguments("reload", args)) return kExitUsage;
    auto config = loadRunnableConfigOrReport(context);
    if (!config) {
        printError("reload refused: the running configuration stays in force");
        return kExitFailure;
    }
    auto pid = findMasterOrReport(*config);
    if (!pid || !signalMaster(*pid, SIGHUP)) return kExitFailure;
    std::printf("postern: reloading the mail system: PID %d\n", int(*pid));
    return kExitOk;
}

}  // namespace postern::cli
