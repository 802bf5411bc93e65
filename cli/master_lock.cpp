// master_lock.cpp: probing and taking the master lock (see master_lock.h).
#include "master_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>

namespace postern::cli {

std::string masterLockPath(const std::string& queueDirectory) {
    return queueDirectory + "/pid/master.lock";
}

Result<std::optional<MasterLock>> MasterLock::tryAcquire(const std::string& queueDirectory) {
    std::string path = masterLockPath(queueDirectory);
    // flock needs no write permission, so an unprivileged reader can probe a root-owned file.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd && errno == ENOENT) {
        fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
        if (!fd && errno == EEXIST) fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return std::optional<MasterLock>(MasterLock(UniqueFd()));  // no master here
    }
    if (!fd) return fail("open " + path + ": " + std::strerror(errno));
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return std::optional<MasterLock>();
        return fail("lock " + path + ": " + std::strerror(errno));
    }
    return std::optional<MasterLock>(MasterLock(std::move(fd)));
}

bool isPosternRunning(const std::string& queueDirectory) {
    auto lock = MasterLock::tryAcquire(queueDirectory);
    return lock.ok() && !lock.value().has_value();
}

}  // namespace postern::cli
