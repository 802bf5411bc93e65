// queue_fs_file.h: the file-level parts of the filesystem queue backend: a new message's
// temporary file (a QueueFileSink), an open queue file (a QueueFileAccess), and the
// system-call helpers they and FsQueueStore share (no-replace rename, directory fsync).
#pragma once

#include <errno.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "queue_message.h"
#include "queue_writer.h"
#include "result.h"
#include "unique_fd.h"

namespace postern::queue {

// "what: strerror(error)", by default of errno.
std::string systemError(std::string_view what, int error = errno);

// Renames `from` to `to` unless `to` exists (renameat2 RENAME_NOREPLACE; on file systems
// without it, link then unlink, which can leave both names after a crash, never neither).
// Returns 0 or the errno of the failing call (EEXIST when `to` exists).
int renameNoReplace(const std::string& from, const std::string& to);

// Fsyncs a directory, making the renames and unlinks in it durable.
Status syncDirectory(const std::string& path);

// Calls `visit` with the name of every entry of a directory but . and ..
Status forEachEntry(const std::string& path, const std::function<void(const char*)>& visit);

// A new message's file: written at `directory/.tmp-ID`, renamed to `directory/ID`. A
// reused file (queue_recycle.h) may hold older, longer bytes: sync() cuts them off first.
class FsSink : public QueueFileSink {
public:
    FsSink(UniqueFd fd, std::string directory, std::string temporaryName, bool reused = false);

    Status append(std::string_view bytes) override;
    Status patch(uint64_t offset, std::string_view bytes) override;
    Status sync() override;
    Status publish(const std::string& id) override;
    Status syncDirectory() override;
    void discard() override;

private:
    UniqueFd fd_;
    std::string directory_;
    std::string temporaryPath_;
    bool reused_;
    uint64_t length_ = 0;  // the end of what was written: the new file's size
    bool published_ = false;
};

// An open queue file. Reads go through a small window so that parsing the records before
// the content costs a read or two, not one per record.
class FsFileAccess : public QueueFileAccess {
public:
    FsFileAccess(UniqueFd fd, uint64_t size) : fd_(std::move(fd)), size_(size) {}

    uint64_t size() const override { return size_; }
    Status read(uint64_t offset, size_t length, std::string& out) override;
    Status writeInPlace(uint64_t offset, std::string_view bytes) override;
    Status writeManyInPlace(const std::vector<InPlaceWrite>& writes) override;
    bool hadReadError() const override { return readError_; }
    int descriptor() const override { return fd_.get(); }

private:
    // Reads [offset, offset + length) from the file into window_.
    Status fillWindow(uint64_t offset, size_t length);

    UniqueFd fd_;
    uint64_t size_;
    uint64_t windowOffset_ = 0;
    std::string window_;
    bool readError_ = false;
};

}  // namespace postern::queue
