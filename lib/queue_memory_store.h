// queue_memory_store.h: the in-memory queue backend, for unit tests of qmgr and smtpd
// logic. Files are byte strings in the real queue file format, so they go through the same
// writer and reader as on disk; renames, no-replace moves, temporaries and their ages
// behave as in FsQueueStore. Nothing survives the object. Thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "queue_store.h"

namespace postern::queue {

struct MemoryQueueState;

class MemoryQueueStore : public QueueStore {
public:
    using Clock = std::function<int64_t()>;  // µs since the epoch
    // An empty queue on the real-time clock.
    MemoryQueueStore();
    // An empty queue on the given clock (file ages for removeStaleTemporaries).
    explicit MemoryQueueStore(Clock clock);
    ~MemoryQueueStore() override;

    Status ensureLayout(uid_t uid, gid_t gid) override;
    Status syncQueue(QueueName queue) override;
    Result<std::vector<std::string>> list(QueueName queue) override;
    Result<size_t> removeStaleTemporaries(std::chrono::seconds grace) override;
    Result<uint64_t> freeBytes() override;

    // Test hooks. Puts a file with any name and content into a queue, as if written there
    // now (a corrupt file, a stale temporary, a file from another version).
    void putFile(QueueName queue, const std::string& name, std::string bytes);
    // The bytes of a file, or nullopt.
    std::optional<std::string> fileBytes(QueueName queue, const std::string& name) const;
    // Sets what freeBytes() reports (default: 1 GiB).
    void setFreeBytes(uint64_t bytes);

protected:
    Result<std::unique_ptr<QueueFileSink>> createSink(const std::string& id) override;
    Result<std::unique_ptr<QueueFileAccess>> openFile(QueueName queue, const std::string& id,
                                                      Access access) override;
    Status moveFile(const std::string& id, QueueName from, QueueName to) override;
    Status removeFile(QueueName queue, const std::string& id) override;
    Result<bool> exists(QueueName queue, const std::string& id) override;

private:
    // Shared with the sinks and open messages, which may outlive a move or removal.
    std::shared_ptr<MemoryQueueState> state_;
};

}  // namespace postern::queue
