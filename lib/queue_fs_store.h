// queue_fs_store.h: the filesystem queue backend, rooted at queue_directory:
// one directory per queue (incoming active deferred hold corrupt), one file per message
// named by its ID, mode 0600. New files are written as incoming/.tmp-ID and renamed into
// place with RENAME_NOREPLACE; names that are not queue IDs are ignored by every scan.
// With a recycle limit, delivered files are kept in recycle/ and reused for new messages
// (queue_recycle.h). The object holds no descriptors between calls; it is thread-safe.
#pragma once

#include <string>

#include "queue_recycle.h"
#include "queue_store.h"

namespace postern::queue {

class FsQueueStore : public QueueStore {
public:
    // A store on the queue directory `root` (created by ensureLayout, not here), keeping
    // up to `recycleLimit` delivered files for reuse (queue_file_recycle_limit; 0: none).
    explicit FsQueueStore(std::string root, size_t recycleLimit = 0);

    // The queue directory.
    const std::string& root() const { return root_; }
    // The path of a queue's directory.
    std::string queuePath(QueueName queue) const;

    Status ensureLayout(uid_t uid, gid_t gid) override;
    Status syncQueue(QueueName queue) override;
    Result<std::vector<std::string>> list(QueueName queue) override;
    Result<size_t> removeStaleTemporaries(std::chrono::seconds grace) override;
    Result<uint64_t> freeBytes() override;

protected:
    Result<std::unique_ptr<QueueFileSink>> createSink(const std::string& id) override;
    Result<std::unique_ptr<QueueFileAccess>> openFile(QueueName queue, const std::string& id,
                                                      Access access) override;
    Status moveFile(const std::string& id, QueueName from, QueueName to) override;
    Status removeFile(QueueName queue, const std::string& id) override;
    Status retireFile(QueueName queue, const std::string& id) override;
    Result<bool> exists(QueueName queue, const std::string& id) override;

private:
    // The path of a file in a queue.
    std::string filePath(QueueName queue, const std::string& name) const;

    std::string root_;
    RecyclePool recycle_;
};

// Creates or repairs the layout of the queue at `root` for a daemon started without master:
// given to `mailOwner` when running as root, left to the current user otherwise.
Status ensureLayoutForDaemon(const std::string& root, const std::string& mailOwner);

}  // namespace postern::queue
