// master_lock.h: is postern running on this queue? A running master holds an exclusive
// flock on queue_directory/pid/master.lock. The queue commands ask it before they choose
// between asking qmgr (running) and doing the file work themselves (stopped); while they
// do the file work they hold the lock, so no master can start in the middle of it.
#pragma once

#include <optional>
#include <string>

#include "result.h"
#include "unique_fd.h"

namespace postern::cli {

// The lock file of a queue directory: QUEUE/pid/master.lock.
std::string masterLockPath(const std::string& queueDirectory);

// The master lock, taken by a command while postern is stopped. Released when destroyed.
class MasterLock {
public:
    // Tries the lock without waiting: nullopt when a running master holds it. A queue whose
    // lock file does not exist and cannot be created (no pid/ folder, no permission) has
    // no master: the result then holds no descriptor.
    static Result<std::optional<MasterLock>> tryAcquire(const std::string& queueDirectory);

    // True when this object holds a lock file (rather than standing for a missing one).
    bool holdsFile() const { return fd_.valid(); }

private:
    explicit MasterLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// True when a master holds the queue's lock (it is only probed, never kept).
bool isPosternRunning(const std::string& queueDirectory);

}  // namespace postern::cli
