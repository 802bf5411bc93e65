// queue_lock.h: only one qmgr may work on a queue. It holds an exclusive flock on
// pid/qmgr.lock for its whole life; a second one waits for the lock a while, then gives up
// with an error naming the file. master itself starts a new qmgr only once the old one
// has exited; the lock covers what master cannot see: an old qmgr left behind by a master
// that died (it drains for up to a few seconds), or a qmgr started by hand.
#pragma once

#include <chrono>
#include <string>

#include "result.h"
#include "unique_fd.h"

namespace postern::qmgr {

// How long a new qmgr waits for an old one: longer than a daemon's stop deadline (10 s),
// so an old one that is finishing its deliveries does not make the new one fail.
constexpr std::chrono::milliseconds kLockPatience{12000};

// Takes the lock on QUEUE_DIRECTORY/pid/qmgr.lock (created 0600 when missing), retrying
// for up to `patience`. The lock lasts as long as the returned descriptor.
Result<UniqueFd> takeQmgrLock(const std::string& queueDirectory,
                              std::chrono::milliseconds patience);

}  // namespace postern::qmgr
