// queue_memory_store.cpp: the in-memory queue backend: maps of name -> bytes per queue.
#include "queue_memory_store.h"

#include <map>
#include <mutex>

#include "queue_id.h"

namespace postern::queue {

namespace {

// One file: its bytes and when they last changed. Locked after the state, never before.
struct MemoryFile {
    std::mutex mutex;
    std::string bytes;
    int64_t modifiedMicros = 0;
};

using FileMap = std::map<std::string, std::shared_ptr<MemoryFile>>;

// Fails unless [offset, offset + length) lies within `bytes`.
Status checkRange(const std::string& bytes, uint64_t offset, size_t length) {
    if (offset > bytes.size() || length > bytes.size() - offset)
        return fail("access beyond the end of the file");
    return {};
}

// Overwrites bytes of a file in place, as pwrite does within the file.
Status overwrite(MemoryFile& file, uint64_t offset, std::string_view bytes) {
    std::lock_guard lock(file.mutex);
    if (auto ok = checkRange(file.bytes, offset, bytes.size()); !ok) return ok;
    file.bytes.replace(offset, bytes.size(), bytes);
    return {};
}

}  // namespace

struct MemoryQueueState {
    std::mutex mutex;
    MemoryQueueStore::Clock clock;
    uint64_t freeBytes = uint64_t(1) << 30;
    FileMap queues[std::size(kAllQueues)];

    FileMap& files(QueueName queue) { return queues[size_t(queue)]; }
};

namespace {

// A new message's temporary file in incoming.
class MemorySink : public QueueFileSink {
public:
    MemorySink(std::shared_ptr<MemoryQueueState> state, std::shared_ptr<MemoryFile> file,
               std::string temporaryName)
        : state_(std::move(state)), file_(std::move(file)), name_(std::move(temporaryName)) {}

    Status append(std::string_view bytes) override {
        std::lock_guard lock(file_->mutex);
        file_->bytes.append(bytes);
        file_->modifiedMicros = state_->clock();
        return {};
    }

    Status patch(uint64_t offset, std::string_view bytes) override {
        return overwrite(*file_, offset, bytes);
    }

    Status sync() override { return {}; }

    Status publish(const std::string& id) override {
        std::lock_guard lock(state_->mutex);
        FileMap& incoming = state_->files(QueueName::Incoming);
        if (incoming.count(id)) return alreadyInQueue(id, QueueName::Incoming);
        auto temporary = incoming.find(name_);
        if (temporary == incoming.end() || temporary->second != file_)
            return fail(id + ": the temporary file is gone");
        incoming.erase(temporary);
        incoming.emplace(id, file_);
        return {};
    }

    Status syncDirectory() override { return {}; }

    void discard() override {
        std::lock_guard lock(state_->mutex);
        FileMap& incoming = state_->files(QueueName::Incoming);
        auto temporary = incoming.find(name_);
        if (temporary != incoming.end() && temporary->second == file_) incoming.erase(temporary);
    }

private:
    std::shared_ptr<MemoryQueueState> state_;
    std::shared_ptr<MemoryFile> file_;
    std::string name_;
};

// An open stored file; its size is fixed when it is opened, as with fstat.
class MemoryAccess : public QueueFileAccess {
public:
    explicit MemoryAccess(std::shared_ptr<MemoryFile> file) : file_(std::move(file)) {
        std::lock_guard lock(file_->mutex);
        size_ = file_->bytes.size();
    }

    uint64_t size() const override { return size_; }

    Status read(uint64_t offset, size_t length, std::string& out) override {
        std::lock_guard lock(file_->mutex);
        if (auto ok = checkRange(file_->bytes, offset, length); !ok) return ok;
        out.assign(file_->bytes, offset, length);
        return {};
    }

    Status writeInPlace(uint64_t offset, std::string_view bytes) override {
        return overwrite(*file_, offset, bytes);
    }

private:
    std::shared_ptr<MemoryFile> file_;
    uint64_t size_ = 0;
};

}  // namespace

MemoryQueueStore::MemoryQueueStore() : MemoryQueueStore(realtimeMicros) {}

MemoryQueueStore::MemoryQueueStore(Clock clock) : state_(std::make_shared<MemoryQueueState>()) {
    state_->clock = std::move(clock);
}

MemoryQueueStore::~MemoryQueueStore() = default;

Status MemoryQueueStore::ensureLayout(uid_t, gid_t) { return {}; }

Status MemoryQueueStore::syncQueue(QueueName) { return {}; }

Result<std::vector<std::string>> MemoryQueueStore::list(QueueName queue) {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> ids;
    for (const auto& [name, file] : state_->files(queue)) {
        if (isValidQueueId(name)) ids.push_back(name);
    }
    return ids;
}

Result<size_t> MemoryQueueStore::removeStaleTemporaries(std::chrono::seconds grace) {
    int64_t oldest = state_->clock() - int64_t(grace.count()) * 1000000;
    size_t removed = 0;
    std::lock_guard lock(state_->mutex);
    for (FileMap& files : state_->queues) {
        for (auto it = files.begin(); it != files.end();) {
            bool stale = false;
            if (isTemporaryFileName(it->first)) {
                std::lock_guard fileLock(it->second->mutex);
                stale = it->second->modifiedMicros < oldest;
            }
            it = stale ? files.erase(it) : std::next(it);
            removed += stale ? 1 : 0;
        }
    }
    return removed;
}

Result<uint64_t> MemoryQueueStore::freeBytes() {
    std::lock_guard lock(state_->mutex);
    return state_->freeBytes;
}

void MemoryQueueStore::putFile(QueueName queue, const std::string& name, std::string bytes) {
    auto file = std::make_shared<MemoryFile>();
    file->bytes = std::move(bytes);
    file->modifiedMicros = state_->clock();
    std::lock_guard lock(state_->mutex);
    state_->files(queue)[name] = std::move(file);
}

std::optional<std::string> MemoryQueueStore::fileBytes(QueueName queue,
                                                       const std::string& name) const {
    std::lock_guard lock(state_->mutex);
    const FileMap& files = state_->files(queue);
    auto found = files.find(name);
    if (found == files.end()) return std::nullopt;
    std::lock_guard fileLock(found->second->mutex);
    return found->second->bytes;
}

void MemoryQueueStore::setFreeBytes(uint64_t bytes) {
    std::lock_guard lock(state_->mutex);
    state_->freeBytes = bytes;
}

Result<std::unique_ptr<QueueFileSink>> MemoryQueueStore::createSink(const std::string& id) {
    auto file = std::make_shared<MemoryFile>();
    file->modifiedMicros = state_->clock();
    std::string name = temporaryFileName(id);
    std::lock_guard lock(state_->mutex);
    if (!state_->files(QueueName::Incoming).emplace(name, file).second)
        return fail(name + ": already exists");
    return std::unique_ptr<QueueFileSink>(new MemorySink(state_, file, name));
}

Result<std::unique_ptr<QueueFileAccess>> MemoryQueueStore::openFile(QueueName queue,
                                                                    const std::string& id,
                                                                    Access) {
    std::lock_guard lock(state_->mutex);
    FileMap& files = state_->files(queue);
    auto found = files.find(id);
    if (found == files.end()) return notInQueue(id, queue);
    return std::unique_ptr<QueueFileAccess>(new MemoryAccess(found->second));
}

Status MemoryQueueStore::moveFile(const std::string& id, QueueName from, QueueName to) {
    std::lock_guard lock(state_->mutex);
    FileMap& source = state_->files(from);
    auto found = source.find(id);
    if (found == source.end()) return notInQueue(id, from);
    if (!state_->files(to).emplace(id, found->second).second)
        return alreadyInQueue(id, to);
    source.erase(found);
    return {};
}

Status MemoryQueueStore::removeFile(QueueName queue, const std::string& id) {
    std::lock_guard lock(state_->mutex);
    if (state_->files(queue).erase(id) == 0) return notInQueue(id, queue);
    return {};
}

Result<bool> MemoryQueueStore::exists(QueueName queue, const std::string& id) {
    std::lock_guard lock(state_->mutex);
    return state_->files(queue).count(id) > 0;
}

}  // namespace postern::queue
