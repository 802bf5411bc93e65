// queue_fs_store.cpp: the filesystem queue backend: directory layout, scans, renames.
#include "queue_fs_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "privileges.h"
#include "queue_fs_file.h"
#include "queue_id.h"

namespace postern::queue {

namespace {

// Creates `path` and its missing parents (mode 0755), like mkdir -p.
Status makeDirectories(const std::string& path) {
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
        std::string prefix = path.substr(0, slash);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
            return fail(systemError("mkdir " + prefix));
        if (slash == std::string::npos) return {};
    }
}

// Creates a directory if missing, makes sure it is one (not a symlink), sets its mode and,
// when asked, its owner.
Status makeDirectory(const std::string& path, mode_t mode, bool changeOwner, uid_t uid,
                     gid_t gid) {
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
        return fail(systemError("mkdir " + path));
    UniqueFd directory(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!directory) return fail(systemError("open " + path));
    if (::fchmod(directory.get(), mode) != 0) return fail(systemError("chmod " + path));
    bool anyOwner = uid != kKeepOwner || gid != kKeepGroup;
    if (changeOwner && anyOwner && ::fchown(directory.get(), uid, gid) != 0)
        return fail(systemError("chown " + path));
    return {};
}

// The queue directory without trailing slashes.
std::string trimmedRoot(std::string root) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    return root;
}

}  // namespace

FsQueueStore::FsQueueStore(std::string root, size_t recycleLimit)
    : root_(trimmedRoot(std::move(root))),
      recycle_(root_ + "/" + kRecycleDirectory, recycleLimit) {}

std::string FsQueueStore::queuePath(QueueName queue) const {
    return root_ + "/" + std::string(queueDirectoryName(queue));
}

std::string FsQueueStore::filePath(QueueName queue, const std::string& name) const {
    return queuePath(queue) + "/" + name;
}

Status FsQueueStore::ensureLayout(uid_t uid, gid_t gid) {
    if (auto ok = makeDirectories(root_); !ok) return ok;
    for (QueueName queue : kAllQueues) {
        if (auto ok = makeDirectory(queuePath(queue), 0700, true, uid, gid); !ok) return ok;
    }
    for (const char* name : {kRecycleDirectory, "private"}) {
        if (auto ok = makeDirectory(root_ + "/" + name, 0700, true, uid, gid); !ok) return ok;
    }
    if (auto ok = makeDirectory(root_ + "/public", 0755, true, uid, gid); !ok) return ok;
    // pid/ keeps its owner: it holds master's lock, which the mail owner must not touch.
    return makeDirectory(root_ + "/pid", 0755, false, uid, gid);
}

Status FsQueueStore::syncQueue(QueueName queue) { return syncDirectory(queuePath(queue)); }

Result<std::vector<std::string>> FsQueueStore::list(QueueName queue) {
    std::vector<std::string> ids;
    auto listed = forEachEntry(queuePath(queue), [&ids](const char* name) {
        if (isValidQueueId(name)) ids.emplace_back(name);
    });
    if (!listed) return listed.failure();
    std::sort(ids.begin(), ids.end());
    return ids;
}

Result<size_t> FsQueueStore::removeStaleTemporaries(std::chrono::seconds grace) {
    time_t oldest = ::time(nullptr) - time_t(grace.count());
    size_t removed = 0;
    for (QueueName queue : kAllQueues) {
        std::vector<std::string> stale;
        auto listed = forEachEntry(queuePath(queue), [&](const char* name) {
            struct stat status {};
            std::string path = filePath(queue, name);
            if (isTemporaryFileName(name) && ::lstat(path.c_str(), &status) == 0 &&
                S_ISREG(status.st_mode) && status.st_mtime < oldest)
                stale.push_back(std::move(path));
        });
        if (!listed) return listed.failure();
        for (const std::string& path : stale) {
            if (::unlink(path.c_str()) == 0) ++removed;
        }
    }
    return removed;
}

Result<uint64_t> FsQueueStore::freeBytes() {
    struct statvfs fs {};
    if (::statvfs(root_.c_str(), &fs) != 0) return fail(systemError("statvfs " + root_));
    return uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize);
}

Result<std::unique_ptr<QueueFileSink>> FsQueueStore::createSink(const std::string& id) {
    std::string name = temporaryFileName(id);
    std::string path = filePath(QueueName::Incoming, name);
    if (UniqueFd reused = recycle_.claim(path)) {
        return std::unique_ptr<QueueFileSink>(
            new FsSink(std::move(reused), queuePath(QueueName::Incoming), name, true));
    }
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail(systemError("create " + path));
    // The umask may have taken bits the owner needs; a queue file is 0600 whatever it is.
    if (::fchmod(fd.get(), 0600) != 0) {
        ::unlink(path.c_str());
        return fail(systemError("chmod " + path));
    }
    return std::unique_ptr<QueueFileSink>(
        new FsSink(std::move(fd), queuePath(QueueName::Incoming), name));
}

Result<std::unique_ptr<QueueFileAccess>> FsQueueStore::openFile(QueueName queue,
                                                                const std::string& id,
                                                                Access access) {
    std::string path = filePath(queue, id);
    int mode = access == Access::ReadWrite ? O_RDWR : O_RDONLY;
    // O_NONBLOCK: a FIFO planted under a queue ID must not hang the opener.
    UniqueFd fd(::open(path.c_str(), mode | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd && errno == ENOENT) return notInQueue(id, queue);
    if (!fd) return fail(systemError("open " + path));
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) return fail(systemError("fstat " + path));
    if (!S_ISREG(status.st_mode)) return fail(path + ": not a regular file");
    return std::unique_ptr<QueueFileAccess>(
        new FsFileAccess(std::move(fd), uint64_t(status.st_size)));
}

Status FsQueueStore::moveFile(const std::string& id, QueueName from, QueueName to) {
    int error = renameNoReplace(filePath(from, id), filePath(to, id));
    if (error == 0) return {};
    if (error == EEXIST) return alreadyInQueue(id, to);
    if (error == ENOENT) return notInQueue(id, from);
    return fail(systemError("rename " + filePath(from, id), error));
}

Status FsQueueStore::removeFile(QueueName queue, const std::string& id) {
    std::string path = filePath(queue, id);
    if (::unlink(path.c_str()) == 0) return {};
    if (errno == ENOENT) return notInQueue(id, queue);
    return fail(systemError("unlink " + path));
}

Status FsQueueStore::retireFile(QueueName queue, const std::string& id) {
    if (recycle_.keep(filePath(queue, id))) return {};
    return removeFile(queue, id);
}

Result<bool> FsQueueStore::exists(QueueName queue, const std::string& id) {
    struct stat status {};
    std::string path = filePath(queue, id);
    if (::lstat(path.c_str(), &status) == 0) return true;
    if (errno == ENOENT) return false;
    return fail(systemError("stat " + path));
}

Status ensureLayoutForDaemon(const std::string& root, const std::string& mailOwner) {
    uid_t uid = kKeepOwner;
    gid_t gid = kKeepGroup;
    if (geteuid() == 0) {
        auto owner = lookUpUser(mailOwner);
        if (!owner) return owner.failure();
        uid = owner->uid;
        gid = owner->gid;
    }
    return FsQueueStore(root).ensureLayout(uid, gid);
}

}  // namespace postern::queue
