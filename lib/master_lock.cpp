// master_lock.cpp: master's lock and pid file (see master_lock.h).
#include "master_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipc.h"

namespace postern {
namespace {

Error systemError(const std::string& what) { return fail(what + ": " + std::strerror(errno)); }

// The whole file, for a write lock.
struct flock wholeFile(short type) {
    struct flock lock = {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    return lock;
}

Result<std::optional<pid_t>> holderOf(int fd, const std::string& path) {
    struct flock probe = wholeFile(F_WRLCK);
    if (fcntl(fd, F_GETLK, &probe) != 0) return systemError("cannot test the lock on " + path);
    if (probe.l_type == F_UNLCK) return std::optional<pid_t>();
    return std::optional<pid_t>(probe.l_pid > 0 ? probe.l_pid : 0);
}

std::string baseName(std::string path) {
    constexpr std::string_view kDeleted = " (deleted)";  // the binary was rebuilt meanwhile
    if (path.ends_with(kDeleted)) path.resize(path.size() - kDeleted.size());
    return std::filesystem::path(path).filename().string();
}

}  // namespace

std::string masterLockPath(const std::string& queueDirectory) {
    return queueDirectory + "/pid/master.lock";
}

std::string masterPidPath(const std::string& queueDirectory) {
    return queueDirectory + "/pid/master.pid";
}

Result<std::variant<MasterLock, LockHolder>> MasterLock::tryAcquire(
    const std::string& queueDirectory, LockFile file) {
    using Attempt = std::variant<MasterLock, LockHolder>;
    std::string path = masterLockPath(queueDirectory);
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (file == LockFile::Create ? O_CREAT : 0);
    UniqueFd fd(open(path.c_str(), flags, 0644));
    if (!fd) return systemError("cannot open " + path);
    // The holder may let go between the two calls: ask again rather than say "pid 0".
    for (int attempt = 0; attempt < 3; ++attempt) {
        struct flock lock = wholeFile(F_WRLCK);
        if (fcntl(fd.get(), F_SETLK, &lock) == 0) return Attempt(MasterLock(std::move(fd)));
        if (errno != EACCES && errno != EAGAIN) return systemError("cannot lock " + path);
        auto holder = holderOf(fd.get(), path);
        if (!holder) return holder.failure();
        if (holder->has_value()) return Attempt(LockHolder{**holder});
    }
    return fail("cannot lock " + path + ": its holder keeps changing");
}

Result<MasterLock> MasterLock::acquire(const std::string& queueDirectory) {
    auto attempt = tryAcquire(queueDirectory, LockFile::Create);
    if (!attempt) return attempt.failure();
    if (auto* lock = std::get_if<MasterLock>(&attempt.value())) return std::move(*lock);
    pid_t holder = std::get<LockHolder>(attempt.value()).pid;
    std::string who = holder > 0 ? " (pid " + std::to_string(holder) + ")" : "";
    return fail("the postern mail system is already running" + who);
}

Result<std::optional<pid_t>> masterLockHolder(const std::string& queueDirectory) {
    std::string path = masterLockPath(queueDirectory);
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return std::optional<pid_t>();
        return systemError("cannot open " + path);
    }
    return holderOf(fd.get(), path);
}

Status writePidFile(const std::string& path, pid_t pid) {
    std::string temporary = path + ".tmp";
    UniqueFd fd(open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     0644));
    if (!fd) return systemError("cannot create " + temporary);
    std::string text = std::to_string(pid) + "\n";
    if (write(fd.get(), text.data(), text.size()) != ssize_t(text.size()) || fsync(fd.get()) != 0)
        return systemError("cannot write " + temporary);
    if (rename(temporary.c_str(), path.c_str()) != 0)
        return systemError("cannot rename " + temporary + " to " + path);
    return {};
}

Result<pid_t> readPidFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return fail("cannot read " + path + ": " + std::strerror(errno));
    std::string line;
    std::getline(in, line);
    auto pid = ipc::parseDecimal(line);
    if (!pid || *pid <= 0 || *pid > INT32_MAX) return fail(path + ": not a process id");
    return pid_t(*pid);
}

bool runsMasterProgram(pid_t pid) {
    std::string proc = "/proc/" + std::to_string(pid);
    std::error_code error;
    auto exe = std::filesystem::read_symlink(proc + "/exe", error);
    if (!error) return baseName(exe.string()) == "master";
    std::ifstream cmdline(proc + "/cmdline", std::ios::binary);  // another user's process
    std::string argv0;
    if (!cmdline || !std::getline(cmdline, argv0, '\0')) return false;
    return baseName(argv0) == "master";
}

}  // namespace postern
