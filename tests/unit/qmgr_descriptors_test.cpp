// qmgr_descriptors_test.cpp: the queue manager on the real file queue keeps no queue file
// open for a message in active/ (active_limit bounds memory, not descriptors), and still
// writes slots and reads content for notices through files it opens when it needs them.
#include <dirent.h>

#include "qmgr_test_support.h"
#include "queue_fs_store.h"
#include "queue_id.h"
#include "test_support.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;
using namespace postern::qmgr::testing;
using Outcome = delivery_protocol::RecipientOutcome;
using queue::QueueName;
using queue::RecipientState;

namespace {

// How many descriptors this process has open.
size_t openDescriptors() {
    size_t count = 0;
    DIR* folder = opendir("/proc/self/fd");
    if (folder == nullptr) return 0;
    while (dirent* entry = readdir(folder)) {
        if (entry->d_name[0] != '.') ++count;
    }
    closedir(folder);
    return count - 1;  // the listing's own descriptor
}

// A queue manager on an FsQueueStore in a fresh folder.
struct FsBench {
    postern::testing::TempDir dir;
    queue::FsQueueStore store{dir.path};
    Settings settings = testSettings();
    Config config;
    Router router{config};
    FakeTransport transport;
    FakeWakeup wakeup;
    log::Capture logs;
    int64_t now = queue::realtimeMicros();
    std::unique_ptr<QueueManager> manager;

    FsBench() {
        CHECK_TRUE(store.ensureLayout(queue::kKeepOwner, queue::kKeepGroup).ok());
        manager = std::make_unique<QueueManager>(store, settings, router, transport, wakeup,
                                                 [this] { return now; });
        manager->start();
    }

    std::optional<QueueName> where(const std::string& id) {
        auto found = store.find(id);
        CHECK_TRUE(found.ok());
        return *found;
    }
};

}  // namespace

TEST_GROUP(QmgrDescriptors){};

TEST(QmgrDescriptors, MessagesInActiveHoldNoOpenFile) {
    FsBench bench;
    size_t before = openDescriptors();
    constexpr size_t kMessages = 20;
    for (size_t i = 0; i < kMessages; ++i)
        bench.manager->newMessage(queueTestMessage(bench.store, TestMessage(), bench.now));
    LONGS_EQUAL(kMessages, bench.manager->activeCount());
    LONGS_EQUAL(before, openDescriptors());
}

TEST(QmgrDescriptors, SlotsAndNoticesUseFilesOpenedOnDemand) {
    FsBench bench;
    TestMessage message;
    message.recipients = {{"one@example.net", "", 0}, {"two@example.org", "", 0}};
    std::string id = queueTestMessage(bench.store, message, bench.now);
    bench.manager->newMessage(id);
    size_t before = openDescriptors();
    LONGS_EQUAL(2, bench.transport.deliveries.size());  // one job per domain

    // A partial result while the other job runs is written to the file at once.
    QmgrBench::answerAll(*bench.transport.deliveries[0], Outcome::Bounced, "5.1.1",
                         "550 5.1.1 no such user");
    auto file = bench.store.open(QueueName::Active, id, queue::Access::ReadOnly);
    CHECK_TRUE(file.ok());
    size_t failed = bench.transport.deliveries[0]->request.recipients.at(0).index;
    CHECK_TRUE(file.value()->message().recipients.at(failed).status.state ==
               RecipientState::Failed);
    file.value().reset();

    // The end of the round: the notice quotes the original, read from its file.
    QmgrBench::answerAll(*bench.transport.deliveries[1], Outcome::Deferred, "4.2.0", "450 busy");
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    CHECK_TRUE(bench.logs.contains(id + ": sender non-delivery notification: "));
    std::string noticeId;
    for (const auto& delivery : bench.transport.deliveries) {
        if (delivery->request.sender.empty()) noticeId = delivery->request.queueId;
    }
    CHECK_FALSE(noticeId.empty());
    auto notice = bench.store.open(QueueName::Active, noticeId, queue::Access::ReadOnly);
    CHECK_TRUE(notice.ok());
    auto content = notice.value()->readContent(0, 1 << 20);
    CHECK_TRUE(content.ok() && content->find("Subject: test") != std::string::npos);
    notice.value().reset();

    auto deferred = bench.store.open(QueueName::Deferred, id, queue::Access::ReadOnly);
    CHECK_TRUE(deferred.ok());
    LONGS_EQUAL(1, deferred.value()->message().schedule.attempts);
    deferred.value().reset();
    LONGS_EQUAL(before, openDescriptors());
}
