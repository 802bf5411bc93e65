// startup.h: master's start-up steps before the event loop, in their fixed order: the
// checked configuration, the user children run as, the queue claimed (layout, lock, pid
// file, interrupted writes removed); and the report to `postern start` (--ready-fd).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "config.h"
#include "master_lock.h"
#include "privileges.h"
#include "result.h"
#include "unique_fd.h"

namespace postern::master {

// Temporary files of a write older than this are left over from a crash.
constexpr std::chrono::seconds kStaleTemporaryGrace{3600};

// Loads PATH and checks the files it names; the error holds one problem per line.
Result<Config> loadCheckedConfig(const std::string& path);

// mail_owner's ids when master runs as root (its children drop to that user); nullopt
// when master runs as anyone else (everything runs as that user).
Result<std::optional<UserIds>> childOwner(const Config& config);

// What master holds on its queue for its whole life.
struct QueueClaim {
    MasterLock lock;
    std::string pidPath;
};

// Creates the queue layout (given to OWNER when set), takes master's lock, writes the pid
// file and removes temporaries older than GRACE (the files of writes a crash interrupted).
Result<QueueClaim> claimQueue(const Config& config, const std::optional<UserIds>& owner,
                              std::chrono::seconds grace = kStaleTemporaryGrace);

// The pipe to a waiting `postern start` (--ready-fd): one report, then closed. Without a
// pipe, failures go to stderr instead, unless the log already goes there.
class StartupReport {
  public:
    StartupReport(int fd, bool logOnStderr) : fd_(fd), logOnStderr_(logOnStderr) {}
    // Logs each line of TEXT as fatal and reports it; returns master's exit status (1).
    int failed(const std::string& text);
    // Reports that master runs as PID, and closes the pipe.
    void ready(pid_t pid);
    // True when `postern start` waits on the other end (master then detaches).
    bool waiting() const { return fd_.valid(); }
    // Whether the log goes to stderr (then failures are not written there twice).
    void setLogOnStderr(bool on) { logOnStderr_ = on; }

  private:
    UniqueFd fd_;
    bool logOnStderr_;
};

// Standard input, output and error onto /dev/null, so that nothing master or its children
// write holds the terminal or the pipes of whoever started it.
Status detachStandardStreams();

}  // namespace postern::master
