// queue_writer.h: writes one new queue file, streaming: the envelope and recipients first,
// then the content in pieces of any size, then the commit. Backend-neutral: the bytes go
// to a QueueFileSink (a temporary file in incoming/, or a buffer in the in-memory queue).
//
//   auto writer = store.createMessage(envelope, recipients);   // begin
//   writer->appendContent(chunk) ...                           // any number of times
//   writer->commit();                                          // END, fsync, rename, dir fsync
//
// Group commit (smtpd): on worker threads each writer runs writeAndSync() and publish();
// then one store.syncQueue(QueueName::Incoming) makes all those renames durable together.
// Only after that sync may smtpd answer 250 for them.
//
// A writer dropped before publish() removes its temporary file. A writer is used by one
// thread at a time; different writers may run on different threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue_types.h"
#include "result.h"

namespace postern::queue {

// Where a writer's bytes go. The writer calls these in the order append/patch..., sync,
// publish, syncDirectory, or discard at any point before publish.
class QueueFileSink {
public:
    virtual ~QueueFileSink() = default;
    // Appends bytes at the end of the temporary file.
    virtual Status append(std::string_view bytes) = 0;
    // Overwrites bytes already written.
    virtual Status patch(uint64_t offset, std::string_view bytes) = 0;
    // Makes the file's data and size durable (fsync).
    virtual Status sync() = 0;
    // Gives the file its final name `id` in incoming/; fails rather than replace a file.
    virtual Status publish(const std::string& id) = 0;
    // Makes the rename durable (fsync of the directory).
    virtual Status syncDirectory() = 0;
    // Removes the temporary file (the message was abandoned).
    virtual void discard() = 0;
};

class MessageWriter {
public:
    // Checks the envelope and recipients and writes everything before the content. An
    // arrival time of 0 becomes the time in `id`.
    static Result<std::unique_ptr<MessageWriter>> begin(std::string id, Envelope envelope,
                                                        const std::vector<Recipient>& recipients,
                                                        std::unique_ptr<QueueFileSink> sink);
    // Discards the temporary file unless the message was published.
    ~MessageWriter();
    MessageWriter(const MessageWriter&) = delete;
    MessageWriter& operator=(const MessageWriter&) = delete;

    // The queue ID the message will have.
    const std::string& id() const { return id_; }
    // The content bytes appended so far (the message size once complete).
    uint64_t contentSize() const { return contentSize_; }

    // Appends content (header and body, CRLF lines, not dot-stuffed).
    Status appendContent(std::string_view bytes);
    // Patches the sizes, writes the end record and fsyncs the file. Step 1 of commit.
    Status writeAndSync();
    // Renames the file into incoming/ under its ID, never replacing one. Step 2.
    Status publish();
    // Fsyncs incoming/ so the rename survives a crash. Step 3 (or store.syncQueue).
    Status syncDirectory();
    // All three steps: the message is durably queued when this succeeds.
    Status commit();

private:
    enum class State { Writing, Synced, Published, Failed };

    MessageWriter(std::string id, std::unique_ptr<QueueFileSink> sink);
    // Writes out the buffered content.
    Status flush();
    // Records a failure (the writer cannot go on) and returns it.
    Status failWith(Status status);
    // Aborts on a call out of order: that is a bug in the caller, not bad input.
    void requireState(State expected, const char* operation) const;

    std::string id_;
    std::unique_ptr<QueueFileSink> sink_;
    State state_ = State::Writing;
    std::string failure_;
    std::string buffer_;
    uint64_t contentSize_ = 0;
    uint64_t messageSizeOffset_ = 0;
    uint64_t contentLengthOffset_ = 0;
};

}  // namespace postern::queue
