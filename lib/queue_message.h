// queue_message.h: an open queued message: its parsed envelope, recipients and schedule,
// reads of its content, and the in-place updates qmgr makes (recipient status, schedule),
// each one write of a fixed-width slot followed by fdatasync. Backend-neutral: the bytes
// are reached through a QueueFileAccess (a file descriptor, or a buffer in memory).
//
// An open message stays readable when the file is moved to another queue (like an open
// descriptor after a rename). One process (qmgr) updates a message at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "queue_reader.h"
#include "queue_types.h"
#include "result.h"

namespace postern::queue {

// One in-place overwrite: bytes at a file offset.
struct InPlaceWrite {
    uint64_t offset = 0;
    std::string bytes;
};

// Read and in-place write access to one stored queue file.
class QueueFileAccess : public QueueFileSource {
public:
    // Overwrites bytes in place and makes them durable (one pwrite, one fdatasync).
    virtual Status writeInPlace(uint64_t offset, std::string_view bytes) = 0;
    // Overwrites several places and makes them durable together (a pwrite each, one
    // fdatasync for all); by default one writeInPlace after the other.
    virtual Status writeManyInPlace(const std::vector<InPlaceWrite>& writes);
    // True when a read failed for a reason other than the file's content (EIO, ...): a
    // parse error then says nothing about the file, and it must not be quarantined.
    virtual bool hadReadError() const { return false; }
    // The file's descriptor, for sendfile and the like; -1 where there is none (memory).
    virtual int descriptor() const { return -1; }
};

enum class Access { ReadOnly, ReadWrite };

// Several in-place updates of one message, made durable together (MessageHandle::update).
struct MessageUpdate {
    std::vector<std::pair<size_t, RecipientStatus>> recipients;  // (index in file order, status)
    std::optional<Schedule> schedule;
};

class MessageHandle {
public:
    // Parses the file; fails with the reader's reason when it is not a complete message.
    static Result<std::unique_ptr<MessageHandle>> open(std::string id,
                                                       std::unique_ptr<QueueFileAccess> file,
                                                       Access access);

    // The queue ID.
    const std::string& id() const { return id_; }
    // The parsed file, with updates made through this handle.
    const QueueMessage& message() const { return message_; }
    // The file's descriptor, or -1 (in-memory queue).
    int descriptor() const { return file_->descriptor(); }

    // Rewrites the status slot of recipient `index` (in file order). A Delivered or Bounced
    // recipient never changes again, a Failed one only to Bounced or Failed.
    Status updateRecipient(size_t index, const RecipientStatus& status);
    // Rewrites the schedule slot.
    Status updateSchedule(const Schedule& schedule);
    // Rewrites several recipient slots and maybe the schedule with one fdatasync for all.
    // Each change is checked as updateRecipient and updateSchedule check it (in order, so a
    // recipient may change twice); when one is refused, nothing is written.
    Status update(const MessageUpdate& changes);
    // Reads up to `length` bytes of the content, starting `offset` bytes into it.
    Result<std::string> readContent(uint64_t offset, size_t length);

private:
    MessageHandle(std::string id, std::unique_ptr<QueueFileAccess> file, QueueMessage message,
                  Access access);
    // Fails when this handle may not write.
    Status checkWritable() const;

    std::string id_;
    std::unique_ptr<QueueFileAccess> file_;
    QueueMessage message_;
    Access access_;
};

}  // namespace postern::queue
