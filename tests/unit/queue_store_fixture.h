// queue_store_fixture.h: one interface over the two queue backends for the shared
// QueueStore tests, with the backend-specific ways to plant and inspect raw files.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "queue_fs_store.h"
#include "queue_memory_store.h"

namespace postern::queue::testing {

class StoreFixture {
public:
    virtual ~StoreFixture() = default;
    // The store under test.
    virtual QueueStore& store() = 0;
    // Puts a file with any name and bytes into a queue, last modified `ageSeconds` ago.
    virtual void plantFile(QueueName queue, const std::string& name, const std::string& bytes,
                           int ageSeconds = 0) = 0;
    // The bytes of a file in a queue, or nullopt.
    virtual std::optional<std::string> rawFile(QueueName queue, const std::string& name) = 0;
};

// A FsQueueStore in a fresh temporary directory, removed afterwards.
class FsStoreFixture : public StoreFixture {
public:
    FsStoreFixture();
    ~FsStoreFixture() override;
    QueueStore& store() override { return *store_; }
    void plantFile(QueueName queue, const std::string& name, const std::string& bytes,
                   int ageSeconds = 0) override;
    std::optional<std::string> rawFile(QueueName queue, const std::string& name) override;
    FsQueueStore& fsStore() { return *store_; }

private:
    std::string directory_;
    std::unique_ptr<FsQueueStore> store_;
};

// A MemoryQueueStore on a fake clock.
class MemoryStoreFixture : public StoreFixture {
public:
    MemoryStoreFixture();
    QueueStore& store() override { return store_; }
    void plantFile(QueueName queue, const std::string& name, const std::string& bytes,
                   int ageSeconds = 0) override;
    std::optional<std::string> rawFile(QueueName queue, const std::string& name) override;

private:
    int64_t now_;
    MemoryQueueStore store_;
};

// Reads a whole file; nullopt when it cannot be opened.
std::optional<std::string> readWholeFile(const std::string& path);

}  // namespace postern::queue::testing
