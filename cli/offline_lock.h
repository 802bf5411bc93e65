// offline_lock.h: is postern running on this queue? A running master holds a POSIX record
// lock (fcntl F_SETLK, lib/master_lock.h) on queue_directory/pid/master.lock; this tries
// it with MasterLock::tryAcquire, never creating the file.
// The queue commands ask before they choose between asking qmgr (running) and doing the
// file work themselves (stopped); while they do the file work they hold that same lock,
// so no master can start in the middle of it.
#pragma once

#include <optional>
#include <string>

#include "master_lock.h"
#include "result.h"

namespace postern::cli {

// The master's lock, taken by a command while postern is stopped; released when destroyed.
class OfflineQueueLock {
public:
    // Tries the lock without waiting: nullopt when a running master holds it. Without the
    // right to lock (a user who may not write the root-owned lock file), or without a lock
    // file (no master ever ran here), it only tests, and the result holds nothing.
    static Result<std::optional<OfflineQueueLock>> tryAcquire(const std::string& queueDirectory);

    // True when this object holds the lock (rather than having only tested it).
    bool holdsLock() const { return lock_.has_value() && lock_->held(); }

private:
    explicit OfflineQueueLock(std::optional<MasterLock> lock) : lock_(std::move(lock)) {}
    std::optional<MasterLock> lock_;
};

// True when a master holds the queue's lock.
bool isPosternRunning(const std::string& queueDirectory);

}  // namespace postern::cli
