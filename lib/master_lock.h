// master_lock.h: the files by which one master owns its queue: pid/master.lock (an
// exclusive lock held for master's whole life, so a second master on the same queue
// refuses to start) and pid/master.pid. Shared by master (takes the lock, writes the pid)
// and the `postern` command (finds the running master to stop, reload or report it).
//
// The lock is a POSIX record lock (fcntl F_SETLK) rather than flock(): the kernel then
// tells anyone who asks (F_GETLK) which process holds it, without taking it, so `postern
// status` never briefly holds the lock a starting master needs and names the real holder
// even when the pid file is stale. Record locks are not inherited across fork(), so
// children never hold it; they go away with the process, so a master killed with -9
// leaves nothing to clean up.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <variant>

#include "result.h"
#include "unique_fd.h"

namespace postern {

// QUEUE_DIRECTORY/pid/master.lock and QUEUE_DIRECTORY/pid/master.pid.
std::string masterLockPath(const std::string& queueDirectory);
std::string masterPidPath(const std::string& queueDirectory);

// Another process holds master's lock: its pid, 0 when the kernel cannot name it (a
// process of another pid namespace).
struct LockHolder {
    pid_t pid = 0;
};

// Whether a missing pid/master.lock is created (master) or an error (a command, which must
// not leave a file that a master running as another user could not open).
enum class LockFile { Create, MustExist };

// Master's exclusive hold on its queue; released when the object (or the process) goes.
class MasterLock {
  public:
    // Tries the lock on QUEUE_DIRECTORY without waiting (pid/ must exist): the lock, or
    // the LockHolder when another process holds it. An error only when the lock cannot
    // be tried (no pid/ folder, no right to open the file, FILE MustExist and it does not).
    static Result<std::variant<MasterLock, LockHolder>> tryAcquire(
        const std::string& queueDirectory, LockFile file = LockFile::Create);
    // Takes the lock; when another process holds it, fails with "the postern mail system
    // is already running (pid N)".
    static Result<MasterLock> acquire(const std::string& queueDirectory);
    // True while the lock is held.
    bool held() const { return fd_.valid(); }

  private:
    explicit MasterLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

// The pid of the process holding master's lock on QUEUE_DIRECTORY; nullopt when nobody
// holds it (no lock file included). A holder the kernel cannot name (another pid
// namespace) is reported as pid 0.
Result<std::optional<pid_t>> masterLockHolder(const std::string& queueDirectory);

// Writes PID and a newline to PATH (0644), replacing the file atomically.
Status writePidFile(const std::string& path, pid_t pid);
// Reads a pid file written by writePidFile; a missing or malformed file is an error.
Result<pid_t> readPidFile(const std::string& path);

// True when PID runs a program named "master" (/proc/PID/exe, else argv[0]): a check,
// before signalling, that a pid is postern's master and not a reused number.
bool runsMasterProgram(pid_t pid);

}  // namespace postern
