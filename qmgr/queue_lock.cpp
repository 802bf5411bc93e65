// queue_lock.cpp: the one-qmgr-per-queue lock (see queue_lock.h).
#include "queue_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace postern::qmgr {

Result<UniqueFd> takeQmgrLock(const std::string& queueDirectory,
                              std::chrono::milliseconds patience) {
    std::string path = queueDirectory + "/pid/qmgr.lock";
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return fail("open " + path + ": " + std::strerror(errno));
    auto deadline = std::chrono::steady_clock::now() + patience;
    while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return fail("lock " + path + ": " + std::strerror(errno));
        if (std::chrono::steady_clock::now() >= deadline)
            return fail("another qmgr is running on this queue (it holds " + path + ")");
        // Before the event loop exists: a plain sleep between attempts is all there is to do.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return fd;
}

}  // namespace postern::qmgr
