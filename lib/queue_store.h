// queue_store.h: the queue as a whole: named queues (directories) of message files, and
// the operations the daemons and `postern queue` need on them. Two backends implement it:
// FsQueueStore (queue_fs_store.h, rooted at queue_directory) and MemoryQueueStore
// (queue_memory_store.h, for unit tests of qmgr and smtpd logic). Both pass the same tests.
//
// Life of a message: createMessage() writes it into incoming/; qmgr moves it to active/,
// opens it, updates recipient slots and the schedule in place, moves it to deferred/ (and
// back to active/ when due) or hold/, and removes it when no recipient is left to do.
// A file the reader refuses goes to corrupt/ through quarantine(), never deleted.
//
// IDs given to these methods are checked (isValidQueueId) before they touch a path, so a
// name from the command line cannot reach outside the queue. Every method is thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue_message.h"
#include "queue_types.h"
#include "queue_writer.h"
#include "result.h"

namespace postern::queue {

enum class QueueName { Incoming, Active, Deferred, Hold, Corrupt };

inline constexpr QueueName kAllQueues[] = {QueueName::Incoming, QueueName::Active,
                                           QueueName::Deferred, QueueName::Hold,
                                           QueueName::Corrupt};

// The directory name of a queue (contract): incoming active deferred hold corrupt.
std::string_view queueDirectoryName(QueueName queue);
// The queue with this directory name, if any.
std::optional<QueueName> queueNameFromString(std::string_view name);

// The temporary name a message is written under, in incoming/: ".tmp-ID".
std::string temporaryFileName(std::string_view id);
// True for names made by temporaryFileName.
bool isTemporaryFileName(std::string_view name);

// The errors backends give for a missing ID and for a move onto an existing one.
Error notInQueue(std::string_view id, QueueName queue);
Error alreadyInQueue(std::string_view id, QueueName queue);

// For ensureLayout: leave the owner or group as it is.
inline constexpr uid_t kKeepOwner = uid_t(-1);
inline constexpr gid_t kKeepGroup = gid_t(-1);

class QueueStore {
public:
    virtual ~QueueStore() = default;

    // Creates the queue directory and incoming active deferred hold corrupt (0700),
    // recycle and private (0700), public (0755) and pid (0755), fixes the modes of existing ones, and
    // gives all but pid/ to uid:gid (kKeepOwner / kKeepGroup leave them).
    virtual Status ensureLayout(uid_t uid, gid_t gid) = 0;

    // Starts a new message in incoming/ under a fresh ID (see queue_writer.h).
    Result<std::unique_ptr<MessageWriter>> createMessage(const Envelope& envelope,
                                                         const std::vector<Recipient>& recipients);
    // Makes the renames into (and out of) a queue durable: fsync of its directory.
    virtual Status syncQueue(QueueName queue) = 0;

    // Opens a message; the error is the reader's reason when the file is malformed.
    Result<std::unique_ptr<MessageHandle>> open(QueueName queue, std::string_view id,
                                                Access access);
    // Moves a message to another queue (a rename, not synced: see syncQueue). Fails, and
    // changes nothing, when `to` already holds the ID.
    Status move(std::string_view id, QueueName from, QueueName to);
    // Deletes a message.
    Status remove(QueueName queue, std::string_view id);
    // Deletes a message whose every reader is done with it (delivered: no worker still
    // reads it, no handle will write to it), keeping its file for reuse where the backend
    // can (FsQueueStore: queue_recycle.h).
    Status retire(QueueName queue, std::string_view id);
    // The IDs in a queue, sorted (= arrival order). Other names (temporaries) are skipped.
    virtual Result<std::vector<std::string>> list(QueueName queue) = 0;
    // The queue that holds the ID, or nullopt.
    Result<std::optional<QueueName>> find(std::string_view id);
    // Moves a message the reader refuses into corrupt/ and returns the reader's reason, for
    // a `warning: ID: reason` log line. Fails, and moves nothing, when the file parses
    // (a sound message is never quarantined) or could not be read (EIO: try later).
    Result<std::string> quarantine(QueueName from, std::string_view id);
    // Removes temporary files (interrupted writes) not modified for longer than `grace`;
    // returns how many.
    virtual Result<size_t> removeStaleTemporaries(std::chrono::seconds grace) = 0;
    // Bytes available to unprivileged users on the queue's file system (queue_minfree).
    virtual Result<uint64_t> freeBytes() = 0;

protected:
    // The backend's primitives; IDs reaching them are valid.
    virtual Result<std::unique_ptr<QueueFileSink>> createSink(const std::string& id) = 0;
    virtual Result<std::unique_ptr<QueueFileAccess>> openFile(QueueName queue,
                                                              const std::string& id,
                                                              Access access) = 0;
    virtual Status moveFile(const std::string& id, QueueName from, QueueName to) = 0;
    virtual Status removeFile(QueueName queue, const std::string& id) = 0;
    virtual Status retireFile(QueueName queue, const std::string& id) {
        return removeFile(queue, id);
    }
    virtual Result<bool> exists(QueueName queue, const std::string& id) = 0;
};

}  // namespace postern::queue
