// smtpd_commit_pool_test.cpp: unit tests for smtpd/commit_pool.h on a real event loop:
// many commits at once all land in incoming/ on disk and report success on the loop
// thread; a failing commit reports its error; destroying the pool with work queued is safe.
#include <dirent.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "queue_fs_store.h"
#include "queue_memory_store.h"
#include "smtpd/commit_pool.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;
using postern::testing::runUntil;

namespace {

queue::Envelope testEnvelope() {
    queue::Envelope envelope;
    envelope.client.hostname = "unknown";
    envelope.client.address = "192.0.2.1";
    return envelope;
}

// A folder with the queue's layout, and a store on it.
struct DiskQueue {
    postern::testing::TempDir dir;
    queue::FsQueueStore store{dir.path};
    DiskQueue() { CHECK_TRUE(store.ensureLayout(queue::kKeepOwner, queue::kKeepGroup).ok()); }
};

std::unique_ptr<queue::MessageWriter> newMessage(queue::QueueStore& store,
                                                 const std::string& body) {
    auto writer = store.createMessage(testEnvelope(), {{"rcpt@example.com", "", 0}});
    CHECK_TRUE(writer.ok());
    CHECK_TRUE(writer.value()->appendContent(body).ok());
    return std::move(writer.value());
}

}  // namespace

TEST_GROUP(SmtpdCommitPool) {
    EventBasePtr base{event_base_new()};
};

TEST(SmtpdCommitPool, ManyCommitsLandOnDisk) {
    DiskQueue disk;
    queue::FsQueueStore& store = disk.store;
    auto pool = CommitPool::start(base.get(), store, 4);
    CHECK_TRUE(pool.ok());
    const std::thread::id loopThread = std::this_thread::get_id();
    std::set<std::string> ids;
    int succeeded = 0;
    bool onLoopThread = true;
    for (int i = 0; i < 50; ++i) {
        auto writer = newMessage(store, "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n");
        ids.insert(writer->id());
        pool.value()->submit(std::move(writer), [&](Status outcome) {
            if (outcome) ++succeeded;
            onLoopThread = onLoopThread && std::this_thread::get_id() == loopThread;
        });
    }
    LONGS_EQUAL(50, pool.value()->pending());
    CHECK_TRUE(runUntil(base.get(), [&] { return succeeded == 50; }));
    CHECK_TRUE(onLoopThread);
    LONGS_EQUAL(0, pool.value()->pending());
    auto listed = store.list(queue::QueueName::Incoming);
    CHECK_TRUE(listed.ok());
    CHECK_TRUE(std::set<std::string>(listed.value().begin(), listed.value().end()) == ids);
    for (const std::string& id : ids)
        CHECK_TRUE(store.open(queue::QueueName::Incoming, id, queue::Access::ReadOnly).ok());
}

TEST(SmtpdCommitPool, OpensQueueFilesOnAWorker) {
    queue::MemoryQueueStore store;
    auto pool = CommitPool::start(base.get(), store, 2);
    CHECK_TRUE(pool.ok());
    std::unique_ptr<queue::MessageWriter> writer;
    const std::thread::id loopThread = std::this_thread::get_id();
    bool onLoopThread = false;
    pool.value()->open(testEnvelope(), {{"rcpt@example.com", "", 0}},
                       [&](Result<std::unique_ptr<queue::MessageWriter>> made) {
                           CHECK_TRUE(made.ok());
                           writer = std::move(made.value());
                           onLoopThread = std::this_thread::get_id() == loopThread;
                       });
    CHECK_TRUE(runUntil(base.get(), [&] { return writer != nullptr; }));
    CHECK_TRUE(onLoopThread);
    CHECK_TRUE(writer->appendContent("Subject: x\r\n\r\nbody\r\n").ok());
    std::string id = writer->id();
    std::optional<Status> committed;
    pool.value()->submit(std::move(writer), [&](Status outcome) { committed = outcome; });
    CHECK_TRUE(runUntil(base.get(), [&] { return committed.has_value(); }));
    CHECK_TRUE(committed->ok());
    CHECK_TRUE(store.open(queue::QueueName::Incoming, id, queue::Access::ReadOnly).ok());
}

TEST(SmtpdCommitPool, AFailedOpenReportsItsError) {
    postern::testing::TempDir dir;
    queue::FsQueueStore store(dir.path);  // no incoming/: the file cannot be made
    auto pool = CommitPool::start(base.get(), store, 1);
    CHECK_TRUE(pool.ok());
    std::optional<std::string> error;
    pool.value()->open(testEnvelope(), {{"rcpt@example.com", "", 0}},
                       [&](Result<std::unique_ptr<queue::MessageWriter>> made) {
                           error = made.ok() ? std::string() : made.error();
                       });
    CHECK_TRUE(runUntil(base.get(), [&] { return error.has_value(); }));
    CHECK_FALSE(error->empty());
}

TEST(SmtpdCommitPool, AFailedCommitReportsItsError) {
    DiskQueue disk;
    queue::FsQueueStore& store = disk.store;
    auto pool = CommitPool::start(base.get(), store, 2);
    CHECK_TRUE(pool.ok());
    auto writer = newMessage(store, "x\r\n");
    // Publishing fails when the ID is taken: put a file there first.
    std::string taken = disk.dir.path + "/incoming/" + writer->id();
    FILE* file = fopen(taken.c_str(), "w");
    CHECK_TRUE(file != nullptr);
    fclose(file);
    std::optional<Status> result;
    pool.value()->submit(std::move(writer), [&](Status outcome) { result = outcome; });
    CHECK_TRUE(runUntil(base.get(), [&] { return result.has_value(); }));
    CHECK_FALSE(result->ok());
}

TEST(SmtpdCommitPool, DestroyedWithWorkQueued) {
    queue::MemoryQueueStore store;
    int called = 0;
    {
        auto pool = CommitPool::start(base.get(), store, 1);
        CHECK_TRUE(pool.ok());
        for (int i = 0; i < 20; ++i)
            pool.value()->submit(newMessage(store, "x\r\n"), [&](Status) { ++called; });
    }
    // No callback after destruction, and nothing half-written is left as a message.
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    LONGS_EQUAL(0, called);
    auto listed = store.list(queue::QueueName::Incoming);
    CHECK_TRUE(listed.ok());
    for (const std::string& id : listed.value())
        CHECK_TRUE(store.open(queue::QueueName::Incoming, id, queue::Access::ReadOnly).ok());
}
