// queue_manage_test.cpp: the queue commands' file work while postern is stopped (delete,
// hold, release, requeue, flush by ID and ALL, with their postsuper-style log lines), the
// master lock probe, and `queue show`.
#include "cli/queue_manage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cstdio>

#include "cli/offline_lock.h"
#include "cli/queue_listing.h"
#include "cli/queue_show.h"
#include "cli_test_support.h"
#include "log.h"
#include "queue_memory_store.h"
#include "test_support.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::cli;
using namespace postern::cli::testing;
using postern::qmgr_protocol::ControlOp;
using postern::qmgr_protocol::ControlRequest;
using postern::queue::QueueName;
using postern::queue::RecipientState;

namespace {

// Four messages: 1 incoming, 2 deferred (one recipient deferred, one delivered, due later),
// 3 hold, 4 corrupt.
void plantQueue(queue::MemoryQueueStore& store) {
    PlantedMessage message;
    message.envelope.sender = "a@example.org";
    message.recipients = {{"x@example.com", "", 0}, {"y@example.com", "", 0}};
    message.id = testQueueId(1);
    message.queue = QueueName::Incoming;
    plantMessage(store, message);
    message.id = testQueueId(2);
    message.queue = QueueName::Deferred;
    message.statuses = {{RecipientState::Deferred, "4.4.1", 1754000100000000, "refused"},
                        {RecipientState::Delivered, "2.0.0", 1754000100000000, "250 ok"}};
    message.schedule = {1754009999000000, 3, 0};
    plantMessage(store, message);
    message.id = testQueueId(3);
    message.queue = QueueName::Hold;
    plantMessage(store, message);
    store.putFile(QueueName::Corrupt, testQueueId(4), "not a queue file");
}

std::string where(queue::QueueStore& store, const std::string& id) {
    auto found = store.find(id);
    CHECK_TRUE(found.ok());
    return found.value() ? queueLabel(*found.value()) : "nowhere";
}

// Takes a whole-file write record lock, as master does.
bool tryWriteLock(int fd) {
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    return ::fcntl(fd, F_SETLK, &lock) == 0;
}

qmgr_protocol::ControlReply manage(queue::QueueStore& store, ControlOp op,
                                std::vector<std::string> ids) {
    return manageOffline(store, ControlRequest{op, std::move(ids)});
}

}  // namespace

TEST_GROUP(QueueManage){};

TEST(QueueManage, DeleteByIdLogsRemovedAndReportsMissing) {
    queue::MemoryQueueStore store;
    plantQueue(store);
    log::Capture capture;
    auto reply = manage(store, ControlOp::Delete, {testQueueId(2), testQueueId(4), testQueueId(9)});
    CHECK_TRUE(reply.ok);
    CHECK_EQUAL(1u, reply.done.size());
    STRCMP_EQUAL(testQueueId(2).c_str(), reply.done[0].c_str());
    // The corrupt file is never touched; an unknown ID is missing.
    CHECK_EQUAL(2u, reply.missing.size());
    STRCMP_EQUAL("delete: 1 done, 2 not found", reply.text.c_str());
    STRCMP_EQUAL("nowhere", where(store, testQueueId(2)).c_str());
    STRCMP_EQUAL("corrupt", where(store, testQueueId(4)).c_str());
    CHECK_TRUE(capture.contains(testQueueId(2) + ": removed"));
}

TEST(QueueManage, DeleteEmptyListIsNothingButAllIsEverything) {
    queue::MemoryQueueStore store;
    plantQueue(store);
    log::Capture capture;
    auto nothing = manage(store, ControlOp::Delete, {});
    CHECK_EQUAL(0u, nothing.done.size());
    STRCMP_EQUAL("incoming", where(store, testQueueId(1)).c_str());
    auto all = manage(store, ControlOp::Delete, {"ALL"});
    CHECK_TRUE(all.ok);
    CHECK_EQUAL(3u, all.done.size());
    STRCMP_EQUAL("corrupt", where(store, testQueueId(4)).c_str());
}

TEST(QueueManage, HoldAndReleaseMoveAndLogLikePostsuper) {
    queue::MemoryQueueStore store;
    plantQueue(store);
    log::Capture capture;
    auto held = manage(store, ControlOp::Hold, {"ALL"});
    CHECK_EQUAL(2u, held.done.size());  // incoming and deferred; 3 is on hold already
    STRCMP_EQUAL("hold", where(store, testQueueId(1)).c_str());
    STRCMP_EQUAL("hold", where(store, testQueueId(2)).c_str());
    CHECK_TRUE(capture.contains(testQueueId(1) + ": placed on hold"));

    auto again = manage(store, ControlOp::Hold, {testQueueId(3)});
    CHECK_EQUAL(0u, again.done.size());
    CHECK_EQUAL(0u, again.missing.size());
    STRCMP_EQUAL("hold: 0 done, 1 already on hold", again.text.c_str());

    auto released = manage(store, ControlOp::Release, {testQueueId(2)});
    CHECK_EQUAL(1u, released.done.size());
    STRCMP_EQUAL("deferred", where(store, testQueueId(2)).c_str());
    CHECK_TRUE(capture.contains(testQueueId(2) + ": released from hold"));
    auto handle = store.open(QueueName::Deferred, testQueueId(2), queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    CHECK_EQUAL(0, handle.value()->message().schedule.nextAttemptMicros);  // due now
}

TEST(QueueManage, RequeueMakesDeferredRecipientsPendingAndMovesToIncoming) {
    queue::MemoryQueueStore store;
    plantQueue(store);
    log::Capture capture;
    auto reply = manage(store, ControlOp::Requeue, {testQueueId(2), testQueueId(3)});
    CHECK_TRUE(reply.ok);
    CHECK_EQUAL(2u, reply.done.size());
    STRCMP_EQUAL("incoming", where(store, testQueueId(2)).c_str());
    STRCMP_EQUAL("incoming", where(store, testQueueId(3)).c_str());
    CHECK_TRUE(capture.contains(testQueueId(2) + ": requeued"));
    auto handle = store.open(QueueName::Incoming, testQueueId(2), queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    const auto& message = handle.value()->message();
    CHECK_TRUE(message.recipients[0].status.state == RecipientState::Pending);
    STRCMP_EQUAL("", message.recipients[0].status.reason.c_str());
    CHECK_TRUE(message.recipients[1].status.state == RecipientState::Delivered);  // stays done
    CHECK_EQUAL(0, message.schedule.nextAttemptMicros);
    CHECK_EQUAL(3u, message.schedule.attempts);
}

TEST(QueueManage, FlushMakesDeferredMailDueWithoutMovingIt) {
    queue::MemoryQueueStore store;
    plantQueue(store);
    log::Capture capture;
    auto reply = manage(store, ControlOp::Flush, {});
    CHECK_EQUAL(1u, reply.done.size());
    STRCMP_EQUAL("deferred", where(store, testQueueId(2)).c_str());
    auto handle = store.open(QueueName::Deferred, testQueueId(2), queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    CHECK_EQUAL(0, handle.value()->message().schedule.nextAttemptMicros);
    auto held = manage(store, ControlOp::Flush, {testQueueId(3), testQueueId(9)});
    STRCMP_EQUAL("flush: 0 done, 1 not found, 1 on hold (release them first)", held.text.c_str());
}

TEST(QueueManage, OfflineLockSeesARunningMaster) {
    postern::testing::TempDir dir;
    // No lock file: no master ever ran here; nothing is created.
    auto none = OfflineQueueLock::tryAcquire(dir.path);
    CHECK_TRUE(none.ok() && none.value().has_value());
    CHECK_FALSE(none.value()->holdsLock());

    CHECK_EQUAL(0, ::mkdir((dir.path + "/pid").c_str(), 0755));
    std::string lockPath = dir.path + "/pid/master.lock";
    UniqueFd(::open(lockPath.c_str(), O_RDWR | O_CREAT, 0644));
    CHECK_FALSE(isPosternRunning(dir.path));
    // A "master" in another process holds the record lock until told to go.
    int toMaster[2], fromMaster[2];
    CHECK_EQUAL(0, ::pipe(toMaster));
    CHECK_EQUAL(0, ::pipe(fromMaster));
    pid_t master = postern::testing::forkChild([&] {
        UniqueFd fd(::open(lockPath.c_str(), O_RDWR));
        if (!fd || !tryWriteLock(fd.get())) return 1;
        char byte = 'r';
        if (::write(fromMaster[1], &byte, 1) != 1) return 1;
        return ::read(toMaster[0], &byte, 1) == 1 ? 0 : 1;
    });
    char ready = 0;
    CHECK_EQUAL(1, ::read(fromMaster[0], &ready, 1));
    CHECK_TRUE(isPosternRunning(dir.path));
    auto refused = OfflineQueueLock::tryAcquire(dir.path);
    CHECK_TRUE(refused.ok() && !refused.value().has_value());
    CHECK_EQUAL(1, ::write(toMaster[1], "x", 1));
    CHECK_EQUAL(0, postern::testing::exitCodeOf(postern::testing::waitForExit(master)));
    for (int fd : {toMaster[0], toMaster[1], fromMaster[0], fromMaster[1]}) ::close(fd);

    auto taken = OfflineQueueLock::tryAcquire(dir.path);
    CHECK_TRUE(taken.ok() && taken.value().has_value() && taken.value()->holdsLock());
    // While the command holds it, a master could not start.
    pid_t starter = postern::testing::forkChild([&] {
        UniqueFd fd(::open(lockPath.c_str(), O_RDWR));
        return fd && !tryWriteLock(fd.get()) ? 0 : 1;
    });
    CHECK_EQUAL(0, postern::testing::exitCodeOf(postern::testing::waitForExit(starter)));
}

TEST(QueueManage, ShowPrintsEnvelopeRecipientsHeadersAndBody) {
    UtcZone zone;
    queue::MemoryQueueStore store;
    PlantedMessage message;
    message.id = testQueueId(1);
    message.envelope.sender = "";
    message.envelope.arrivalMicros = 1754000001000000;
    message.recipients = {{"x@example.com", "rfc822;x@example.com", queue::kNotifyFailure}};
    message.statuses = {{RecipientState::Deferred, "4.4.1", 1754000100000000, "refused"}};
    message.content = "Subject: hi\r\nX-Tab:\tvalue\x1b[31m\r\n\r\nline 1\r\nline 2\r\n";
    plantMessage(store, message);
    auto handle = store.open(QueueName::Deferred, message.id, queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());

    char* buffer = nullptr;
    size_t size = 0;
    std::FILE* out = open_memstream(&buffer, &size);
    CHECK_TRUE(showMessage(QueueName::Deferred, *handle.value(), {}, out).ok());
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    CHECK_TRUE(text.find("queue_id: " + message.id + "\n") != std::string::npos);
    CHECK_TRUE(text.find("queue_name: deferred\n") != std::string::npos);
    CHECK_TRUE(text.find("arrival_time: Thu Jul 31 22:13:21 2025\n") != std::string::npos);
    CHECK_TRUE(text.find("sender: <> (MAILER-DAEMON)\n") != std::string::npos);
    CHECK_TRUE(text.find("recipient: x@example.com orcpt=rfc822;x@example.com notify=FAILURE\n") !=
               std::string::npos);
    CHECK_TRUE(text.find("  status: deferred, dsn=4.4.1, last attempt Thu Jul 31 22:15:00 2025: "
                         "refused\n") != std::string::npos);
    // The terminal escape is shown as text; the tab is kept.
    CHECK_TRUE(text.find("*** HEADERS ***\nSubject: hi\nX-Tab:\tvalue\\x1B[31m\n*** BODY ***\n"
                         "line 1\nline 2\n") != std::string::npos);

    buffer = nullptr;
    out = open_memstream(&buffer, &size);
    CHECK_TRUE(showMessage(QueueName::Deferred, *handle.value(), {false, false, true}, out).ok());
    std::fclose(out);
    STRCMP_EQUAL("*** BODY ***\nline 1\nline 2\n", std::string(buffer, size).c_str());
    std::free(buffer);
}
