// queue_recycle.cpp: the pool of reusable queue files (see queue_recycle.h).
#include "queue_recycle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "queue_fs_file.h"

namespace postern::queue {

namespace {

// Slots (keep) or names (claim) tried before giving up: plain unlink or create then.
constexpr size_t kProbes = 4;
// Larger files are unlinked, not kept: the pool never holds more than limit × this of old
// messages' bytes (a pool of 10 MB messages would take the space queue_minfree keeps).
// Emptying a kept file instead would race a writer that claimed it in the meantime.
constexpr off_t kMaxKeptBytes = 256 * 1024;
// After a listing of the pool found nothing, claims give up without a listing this long.
constexpr auto kEmptyPoolPause = std::chrono::milliseconds(5);

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
    if (status.st_size > kMaxKeptBytes) return false;
    for (size_t probe = 0; probe < kProbes; ++probe) {
        if (!renameExclusive(path, slotPath(nextKeepSlot()))) {
            if (errno != EEXIST) return false;
            continue;
        }
        // This process knows the pool is not empty any more: its next claim lists it.
        std::lock_guard<std::mutex> lock(mutex_);
        foundEmptyAt_ = {};
        return true;
    }
    return false;
}

std::string RecyclePool::nextCandidate() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (candidates_.empty()) listPool();
    if (candidates_.empty()) return {};
    std::string name = std::move(candidates_.back());
    candidates_.pop_back();
    return name;
}

void RecyclePool::listPool() {
    auto now = std::chrono::steady_clock::now();
    if (now - foundEmptyAt_ < kEmptyPoolPause) return;
    auto listed = forEachEntry(directory_, [this](const char* name) {
        if (name[0] == 'R') candidates_.emplace_back(name);
    });
    if (!listed || candidates_.empty()) {
        candidates_.clear();
        foundEmptyAt_ = now;
        return;
    }
    // Processes listing the same pool start at different places, not all on one name.
    size_t turn = size_t(::getpid()) % candidates_.size();
    std::rotate(candidates_.begin(), candidates_.begin() + long(turn), candidates_.end());
}

UniqueFd RecyclePool::claim(const std::string& target) {
    if (limit_ == 0) return {};
    for (size_t probe = 0; probe < kProbes; ++probe) {
        std::string name = nextCandidate();
        if (name.empty()) return {};
        std::string entry = directory_ + "/" + name;
        struct stat status {};
        // Entries that are not ours to reuse stay where they are, untouched.
        if (::lstat(entry.c_str(), &status) != 0 || !reusable(status)) continue;
        if (!renameExclusive(entry, target)) {
            if (errno == ENOENT) continue;  // another writer took it first
            return {};
        }
        UniqueFd fd = openClaimed(target);
        if (!fd) ::unlink(target.c_str());
        return fd;
    }
    return {};
}

}  // namespace postern::queue
