// queue_recycle.cpp: the pool of reusable queue files (see queue_recycle.h).
#include "queue_recycle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

namespace postern::queue {

namespace {

// Slots tried per keep or claim before giving up (plain unlink or create then).
constexpr size_t kProbes = 4;

// True for a file the pool may hold or hand out: a regular file of ours with one name,
// so that no queue entry and no other process's file can be overwritten through it.
bool reusable(const struct stat& status) {
    return S_ISREG(status.st_mode) && status.st_nlink == 1 && status.st_uid == ::geteuid();
}

// Renames without replacing; no link+unlink fallback, which would leave two names.
bool renameExclusive(const std::string& from, const std::string& to) {
    return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0;
}

// Opens a just claimed file for writing and checks it again (the rename may have raced a
// change of the slot); an invalid descriptor when it cannot be used.
UniqueFd openClaimed(const std::string& path) {
    // O_NONBLOCK: a FIFO must not hang the writer (it fails the checks below anyway).
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return {};
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0 || !reusable(status)) return {};
    if ((status.st_mode & 07777) != 0600 && ::fchmod(fd.get(), 0600) != 0) return {};
    // A fresh mtime: the stale-temporary sweep must not take it for an interrupted write.
    if (::futimens(fd.get(), nullptr) != 0) return {};
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) return {};
    return fd;
}

}  // namespace

RecyclePool::RecyclePool(std::string directory, size_t limit)
    : directory_(std::move(directory)), limit_(limit) {}

std::string RecyclePool::slotPath(size_t slot) const {
    return directory_ + "/R" + std::to_string(slot);
}

size_t RecyclePool::nextKeepSlot() {
    return keepCursor_.fetch_add(1, std::memory_order_relaxed) % limit_;
}

bool RecyclePool::keep(const std::string& path) {
    if (limit_ == 0) return false;
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0 || !reusable(status)) return false;
    for (size_t probe = 0; probe < kProbes; ++probe) {
        if (renameExclusive(path, slotPath(nextKeepSlot()))) return true;
        if (errno != EEXIST) return false;
    }
    return false;
}

UniqueFd RecyclePool::claim(const std::string& target) {
    if (limit_ == 0) return {};
    // The cursor moves only past a claimed slot: when the pool is empty it waits where the
    // next kept file will go, rather than running ahead of the keeps. Threads racing for a
    // slot are told apart by the rename (the loser sees ENOENT and tries the next).
    size_t start = claimCursor_.load(std::memory_order_relaxed);
    for (size_t probe = 0; probe < kProbes; ++probe) {
        size_t index = (start + probe) % limit_;
        std::string slot = slotPath(index);
        struct stat status {};
        // Entries that are not ours to reuse stay where they are, untouched.
        if (::lstat(slot.c_str(), &status) != 0 || !reusable(status)) continue;
        if (!renameExclusive(slot, target)) {
            if (errno == ENOENT) continue;  // another writer took it first
            return {};
        }
        claimCursor_.store(index + 1, std::memory_order_relaxed);
        UniqueFd fd = openClaimed(target);
        if (!fd) ::unlink(target.c_str());
        return fd;
    }
    return {};
}

}  // namespace postern::queue
