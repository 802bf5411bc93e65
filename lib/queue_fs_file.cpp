// queue_fs_file.cpp: temporary files, open queue files and the system-call helpers of the
// filesystem queue backend.
#include "queue_fs_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <cstring>

#include "queue_store.h"

namespace postern::queue {

namespace {

// Reads of the record area come in pieces of at least this size.
constexpr size_t kReadWindow = 64 * 1024;

// Writes all of `bytes` at `offset`, or at the file position when offset < 0.
Status writeFully(int fd, std::string_view bytes, int64_t offset, std::string_view what) {
    while (!bytes.empty()) {
        ssize_t written = offset < 0 ? ::write(fd, bytes.data(), bytes.size())
                                     : ::pwrite(fd, bytes.data(), bytes.size(), off_t(offset));
        if (written < 0 && errno == EINTR) continue;
        if (written < 0) return fail(systemError(what));
        bytes.remove_prefix(size_t(written));
        if (offset >= 0) offset += written;
    }
    return {};
}

struct DirectoryCloser {
    void operator()(DIR* directory) const { ::closedir(directory); }
};
using DirectoryHandle = std::unique_ptr<DIR, DirectoryCloser>;

}  // namespace

std::string systemError(std::string_view what, int error) {
    return std::string(what) + ": " + std::strerror(error);
}

int renameNoReplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    // The file system cannot do RENAME_NOREPLACE; link() never replaces either.
    if (::link(from.c_str(), to.c_str()) != 0) return errno;
    return ::unlink(from.c_str()) == 0 ? 0 : errno;
}

Status syncDirectory(const std::string& path) {
    UniqueFd directory(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!directory) return fail(systemError("open " + path));
    if (::fsync(directory.get()) != 0) return fail(systemError("fsync " + path));
    return {};
}

Status forEachEntry(const std::string& path, const std::function<void(const char*)>& visit) {
    DirectoryHandle directory(::opendir(path.c_str()));
    if (!directory) return fail(systemError("opendir " + path));
    for (;;) {
        errno = 0;
        dirent* entry = ::readdir(directory.get());
        if (!entry) break;
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") visit(entry->d_name);
    }
    if (errno != 0) return fail(systemError("readdir " + path));
    return {};
}

FsSink::FsSink(UniqueFd fd, std::string directory, std::string temporaryName, bool reused)
    : fd_(std::move(fd)),
      directory_(std::move(directory)),
      temporaryPath_(directory_ + "/" + temporaryName),
      reused_(reused) {}

Status FsSink::append(std::string_view bytes) {
    length_ += bytes.size();
    return writeFully(fd_.get(), bytes, -1, "write " + temporaryPath_);
}

Status FsSink::patch(uint64_t offset, std::string_view bytes) {
    length_ = std::max(length_, offset + bytes.size());
    return writeFully(fd_.get(), bytes, int64_t(offset), "pwrite " + temporaryPath_);
}

Status FsSink::sync() {
    // Before the fsync, so that the synced file never ends in the old message's bytes.
    if (reused_ && ::ftruncate(fd_.get(), off_t(length_)) != 0)
        return fail(systemError("ftruncate " + temporaryPath_));
    if (::fsync(fd_.get()) != 0) return fail(systemError("fsync " + temporaryPath_));
    return {};
}

Status FsSink::publish(const std::string& id) {
    if (int error = renameNoReplace(temporaryPath_, directory_ + "/" + id)) {
        if (error == EEXIST) return alreadyInQueue(id, QueueName::Incoming);
        return fail(systemError("rename " + temporaryPath_, error));
    }
    published_ = true;
    fd_.reset();  // the data is synced; the descriptor is of no more use
    return {};
}

Status FsSink::syncDirectory() { return queue::syncDirectory(directory_); }

void FsSink::discard() {
    if (!published_) ::unlink(temporaryPath_.c_str());
}

Status FsFileAccess::fillWindow(uint64_t offset, size_t length) {
    window_.resize(length);
    windowOffset_ = offset;
    size_t done = 0;
    while (done < length) {
        ssize_t got =
            ::pread(fd_.get(), window_.data() + done, length - done, off_t(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            readError_ = true;
            window_.clear();
            return fail(got < 0 ? systemError("read") : "read: the file shrank while open");
        }
        done += size_t(got);
    }
    return {};
}

Status FsFileAccess::read(uint64_t offset, size_t length, std::string& out) {
    if (offset > size_ || length > size_ - offset) return fail("read beyond the end of the file");
    bool inWindow = offset >= windowOffset_ && offset - windowOffset_ <= window_.size() &&
                    length <= window_.size() - (offset - windowOffset_);
    if (!inWindow) {
        size_t wanted = length > kReadWindow ? length : kReadWindow;
        if (wanted > size_ - offset) wanted = size_t(size_ - offset);
        if (auto ok = fillWindow(offset, wanted); !ok) return ok;
    }
    out.assign(window_, size_t(offset - windowOffset_), length);
    return {};
}

Status FsFileAccess::writeInPlace(uint64_t offset, std::string_view bytes) {
    return writeManyInPlace({{offset, std::string(bytes)}});
}

Status FsFileAccess::writeManyInPlace(const std::vector<InPlaceWrite>& writes) {
    for (const InPlaceWrite& write : writes) {
        if (write.offset > size_ || write.bytes.size() > size_ - write.offset)
            return fail("write beyond the end of the file");
    }
    window_.clear();  // a later read must see the new bytes
    for (const InPlaceWrite& write : writes) {
        if (auto ok = writeFully(fd_.get(), write.bytes, int64_t(write.offset), "pwrite"); !ok)
            return ok;
    }
    if (::fdatasync(fd_.get()) != 0) return fail(systemError("fdatasync"));
    return {};
}

}  // namespace postern::queue
