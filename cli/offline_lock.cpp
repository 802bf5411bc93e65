// offline_lock.cpp: testing and taking the master's lock (see offline_lock.h).
#include "offline_lock.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <variant>

#include "master_lock.h"

namespace postern::cli {

Result<std::optional<OfflineQueueLock>> OfflineQueueLock::tryAcquire(
    const std::string& queueDirectory) {
    using Answer = std::optional<OfflineQueueLock>;
    std::string path = masterLockPath(queueDirectory);
    if (::access(path.c_str(), F_OK) != 0) {
        if (errno == ENOENT) return Answer(OfflineQueueLock(std::nullopt));  // no master ran here
        return fail("cannot look at " + path + ": " + std::strerror(errno));
    }
    if (::access(path.c_str(), R_OK | W_OK) != 0) {
        // Not ours to lock (root's file): only ask who holds it.
        auto holder = masterLockHolder(queueDirectory);
        if (!holder) return holder.failure();
        if (holder->has_value()) return Answer();
        return Answer(OfflineQueueLock(std::nullopt));
    }
    auto attempt = MasterLock::tryAcquire(queueDirectory, LockFile::MustExist);
    if (!attempt) return attempt.failure();
    if (auto* lock = std::get_if<MasterLock>(&attempt.value()))
        return Answer(OfflineQueueLock(std::move(*lock)));
    return Answer();  // a running master holds it
}

bool isPosternRunning(const std::string& queueDirectory) {
    auto lock = OfflineQueueLock::tryAcquire(queueDirectory);
    return lock.ok() && !lock.value().has_value();
}

}  // namespace postern::cli
