// queue_lock.h: only one qmgr may work on a queue. It holds an exclusive flock on
// pid/qmgr.lock for its whole life; a second one (say, one that master started while an
// old one still drains after a reload) waits for the lock a while, then gives up with an
// error naming the file.
#pragma once

#include <chrono>
#include <string>

#include "result.h"
#include "unique_fd.h"

namespace postern::qmgr {

// How long a new qmgr waits for an old one: longer than a daemon's stop deadline (10 s),
// so a reload does not make the new one fail while the old one finishes its deliveries.
constexpr std::chrono::milliseconds kLockPatience{12000};

// Takes the lock on QUEUE_DIRECTORY/pid/qmgr.lock (created 0600 when missing), retrying
// for up to `patience`. The lock lasts as long as the returned descriptor.
Result<UniqueFd> takeQmgrLock(const std::string& queueDirectory,
                              std::chrono::milliseconds patience);

}  // namespace postern::qmgr
