// master_control.h: what the lifecycle commands (start, stop, reload, status) share:
// loading a configuration that is fit to run, and finding the master that runs on its
// queue (the holder of pid/master.lock, checked to be running postern's master program).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>

#include "commands.h"
#include "config.h"
#include "result.h"

namespace postern::cli {

// Loads the configuration and checks the files it names; problems go to stderr as
// "postern: FILE:LINE: message", and the result is nullopt.
std::optional<Config> loadRunnableConfigOrReport(const CommandContext& context);

// The pid of the master running on CONFIG's queue; nullopt when none runs. Fails when the
// lock holder is not postern's master (the pid was reused, or something else holds it).
Result<std::optional<pid_t>> runningMaster(const Config& config);

// Waits until no master holds CONFIG's queue, at most LIMIT; true when none does.
bool waitUntilStopped(const Config& config, std::chrono::milliseconds limit);

// "the mail system is running: PID N" / "the mail system is not running".
std::string runningMessage(pid_t pid);
constexpr const char* kNotRunning = "the mail system is not running";

}  // namespace postern::cli
