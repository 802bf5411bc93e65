// startup.cpp: master's start-up steps and its report to `postern start` (see startup.h).
#include "startup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "config_check.h"
#include "log.h"
#include "queue_fs_store.h"

namespace postern::master {
namespace {

void writeAll(int fd, const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nobody reads any more: the log has it anyway
        done += size_t(n);
    }
}

}  // namespace

Result<Config> loadCheckedConfig(const std::string& path) {
    auto config = loadConfig(path);
    if (!config) return config.failure();
    auto problems = checkConfigFiles(*config, path);
    if (problems.empty()) return config;
    std::string text;
    for (const auto& problem : problems) text += (text.empty() ? "" : "\n") + problem;
    return fail(text);
}

Result<std::optional<UserIds>> childOwner(const Config& config) {
    if (geteuid() != 0) return std::optional<UserIds>();
    auto ids = lookUpUser(config.mail_owner);
    if (!ids) return ids.failure();
    if (ids->uid == 0) return fail("mail_owner " + config.mail_owner + " is root; it must not be");
    return std::optional<UserIds>(*ids);
}

Result<QueueClaim> claimQueue(const Config& config, const std::optional<UserIds>& owner,
                              std::chrono::seconds grace) {
    queue::FsQueueStore store(config.queue_directory);
    uid_t uid = owner ? owner->uid : queue::kKeepOwner;
    gid_t gid = owner ? owner->gid : queue::kKeepGroup;
    if (auto made = store.ensureLayout(uid, gid); !made)
        return fail("queue_directory " + config.queue_directory + ": " + made.error());
    auto lock = MasterLock::acquire(config.queue_directory);
    if (!lock) return lock.failure();
    QueueClaim claim{std::move(lock.value()), masterPidPath(config.queue_directory)};
    if (auto written = writePidFile(claim.pidPath, getpid()); !written) return written.failure();
    auto removed = store.removeStaleTemporaries(grace);
    if (!removed) {
        log::warning("cannot remove stale temporary files: %s", removed.error().c_str());
    } else if (*removed > 0) {
        log::info("removed %zu temporary files left by interrupted writes", *removed);
    }
    return claim;
}

int StartupReport::failed(const std::string& text) {
    std::istringstream lines(text);
    std::string report;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        log::message(log::Level::Fatal, "%s", line.c_str());
        report += (fd_.valid() ? "error " : "postern/master: fatal: ") + log::sanitize(line) + "\n";
    }
    if (fd_.valid()) {
        writeAll(fd_.get(), report);
        fd_.reset();
    } else if (!logOnStderr_) {
        writeAll(STDERR_FILENO, report);
    }
    return 1;
}

void StartupReport::ready(pid_t pid) {
    if (!fd_.valid()) return;
    writeAll(fd_.get(), "ready " + std::to_string(pid) + "\n");
    fd_.reset();
}

Status detachStandardStreams() {
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null) return fail(std::string("cannot open /dev/null: ") + std::strerror(errno));
    for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (dup2(null.get(), fd) < 0)
            return fail(std::string("cannot redirect to /dev/null: ") + std::strerror(errno));
    }
    return {};
}

}  // namespace postern::master
