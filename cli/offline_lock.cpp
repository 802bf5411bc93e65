// offline_lock.cpp: testing and taking the master's lock (see offline_lock.h).
#include "offline_lock.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "master_lock.h"

namespace postern::cli {

namespace {

struct flock wholeFileWriteLock() {
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    return lock;
}

Error systemError(const std::string& what) { return fail(what + ": " + std::strerror(errno)); }

}  // namespace

Result<std::optional<OfflineQueueLock>> OfflineQueueLock::tryAcquire(
    const std::string& queueDirectory) {
    std::string path = masterLockPath(queueDirectory);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) return std::optional<OfflineQueueLock>(OfflineQueueLock(UniqueFd()));
        if (errno != EACCES) return systemError("open " + path);
        // Not ours to lock: only ask who holds it.
        auto holder = masterLockHolder(queueDirectory);
        if (!holder) return holder.failure();
        if (holder->has_value()) return std::optional<OfflineQueueLock>();
        return std::optional<OfflineQueueLock>(OfflineQueueLock(UniqueFd()));
    }
    struct flock lock = wholeFileWriteLock();
    if (::fcntl(fd.get(), F_SETLK, &lock) == 0)
        return std::optional<OfflineQueueLock>(OfflineQueueLock(std::move(fd)));
    if (errno == EACCES || errno == EAGAIN) return std::optional<OfflineQueueLock>();
    return systemError("lock " + path);
}

bool isPosternRunning(const std::string& queueDirectory) {
    auto lock = OfflineQueueLock::tryAcquire(queueDirectory);
    return lock.ok() && !lock.value().has_value();
}

}  // namespace postern::cli
