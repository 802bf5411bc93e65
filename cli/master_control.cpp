// master_control.cpp: finding the running master (see master_control.h).
#include "master_control.h"

#include <thread>

#include "config_check.h"
#include "master_lock.h"

namespace postern::cli {

std::optional<Config> loadRunnableConfigOrReport(const CommandContext& context) {
    auto config = loadConfigOrReport(context);
    if (!config) return std::nullopt;
    auto problems = checkConfigFiles(*config, context.configPath);
    for (const auto& problem : problems) printError(problem);
    if (!problems.empty()) return std::nullopt;
    return config;
}

Result<std::optional<pid_t>> runningMaster(const Config& config) {
    auto holder = masterLockHolder(config.queue_directory);
    if (!holder) return holder.failure();
    if (!holder->has_value()) return std::optional<pid_t>();
    pid_t pid = **holder;
    if (pid == 0) {  // the kernel could not name it: believe the pid file
        auto fromFile = readPidFile(masterPidPath(config.queue_directory));
        if (!fromFile) return fromFile.failure();
        pid = *fromFile;
    }
    if (!runsMasterProgram(pid)) {
        return fail("process " + std::to_string(pid) + " holds " +
                    masterLockPath(config.queue_directory) + " but is not postern's master");
    }
    return std::optional<pid_t>(pid);
}

bool waitUntilStopped(const Config& config, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        auto holder = masterLockHolder(config.queue_directory);
        if (holder && !holder->has_value()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling with a deadline
    }
}

std::string runningMessage(pid_t pid) {
    return "the mail system is running: PID " + std::to_string(pid);
}

}  // namespace postern::cli
