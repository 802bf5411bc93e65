// qmgr_control_test.cpp: the queue manager's control requests (delete, hold, release,
// requeue, flush, ALL) and its start-up: crash leftovers in active/, mail waiting in
// incoming/ and deferred/, failed-but-not-bounced recipients, corrupt files.
#include "qmgr_test_support.h"
#include "queue_test_support.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;
using namespace postern::qmgr::testing;
using Outcome = delivery_protocol::RecipientOutcome;
using qmgr_protocol::ControlOp;
using queue::QueueName;
using queue::RecipientState;

namespace {

qmgr_protocol::ControlReply control(QmgrBench& bench, ControlOp op, std::vector<std::string> ids) {
    return bench.manager->control({op, std::move(ids)});
}

// A message deferred once (its only recipient answered 450).
std::string deferredMessage(QmgrBench& bench) {
    std::string id = bench.submit(TestMessage());
    bench.answerAll(*bench.transport.open().at(0), Outcome::Deferred, "4.2.0", "450 busy");
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    return id;
}

}  // namespace

TEST_GROUP(QmgrControl){};

TEST(QmgrControl, DeleteCancelsADeliveryBeforeTheReply) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    auto delivery = bench.transport.open().at(0);
    auto reply = control(bench, ControlOp::Delete, {id});
    CHECK_TRUE(reply.ok);
    LONGS_EQUAL(1, reply.done.size());
    CHECK_TRUE(delivery->cancelled);
    CHECK_FALSE(bench.where(id).has_value());
    CHECK_TRUE(bench.logs.contains(id + ": removed"));
    LONGS_EQUAL(0, bench.manager->inFlight());
    LONGS_EQUAL(0, bench.manager->activeCount());
}

TEST(QmgrControl, DeleteReportsMissingIds) {
    QmgrBench bench;
    std::string id = deferredMessage(bench);
    std::string unknown = "0000000000000AAAA";
    auto reply = control(bench, ControlOp::Delete, {id, unknown});
    LONGS_EQUAL(1, reply.done.size());
    LONGS_EQUAL(1, reply.missing.size());
    STRCMP_EQUAL(unknown.c_str(), reply.missing[0].c_str());
    CHECK_FALSE(bench.where(id).has_value());
    // A deleted deferred message is not taken up again when it would have been due.
    bench.advance(20);
    LONGS_EQUAL(1, bench.transport.deliveries.size());
}

TEST(QmgrControl, HoldKeepsWhatWasDeliveredAndReleaseRetriesTheRest) {
    QmgrBench bench;
    TestMessage message;
    message.recipients = {{"one@example.net", "", 0}, {"two@example.net", "", 0}};
    std::string id = bench.submit(message);
    auto delivery = bench.transport.open().at(0);
    bench.answer(*delivery, 0, Outcome::Sent, "2.0.0", "250 ok");
    auto reply = control(bench, ControlOp::Hold, {id});
    LONGS_EQUAL(1, reply.done.size());
    CHECK_TRUE(delivery->cancelled);
    CHECK_TRUE(bench.where(id) == QueueName::Hold);
    CHECK_TRUE(bench.file(id).recipients[0].status.state == RecipientState::Delivered);
    CHECK_TRUE(bench.file(id).recipients[1].status.state == RecipientState::Pending);
    CHECK_TRUE(bench.logs.contains(id + ": placed on hold"));
    // Held mail waits, whatever the time.
    bench.advance(1000);
    LONGS_EQUAL(1, bench.transport.deliveries.size());
    LONGS_EQUAL(0, control(bench, ControlOp::Hold, {id}).done.size());

    reply = control(bench, ControlOp::Release, {id});
    LONGS_EQUAL(1, reply.done.size());
    CHECK_TRUE(bench.logs.contains(id + ": released from hold"));
    auto retry = bench.transport.open().at(0);
    LONGS_EQUAL(1, retry->request.recipients.size());
    STRCMP_EQUAL("two@example.net", retry->request.recipients[0].address.c_str());
    bench.answerAll(*retry, Outcome::Sent, "2.0.0", "250 ok");
    CHECK_FALSE(bench.where(id).has_value());
}

TEST(QmgrControl, FlushMakesDeferredMailDueNow) {
    QmgrBench bench;
    std::string first = deferredMessage(bench);
    std::string second = deferredMessage(bench);
    auto reply = control(bench, ControlOp::Flush, {first});
    LONGS_EQUAL(1, reply.done.size());
    LONGS_EQUAL(3, bench.transport.deliveries.size());
    STRCMP_EQUAL(first.c_str(), bench.transport.deliveries.back()->request.queueId.c_str());
    CHECK_TRUE(bench.where(second) == QueueName::Deferred);
    reply = control(bench, ControlOp::Flush, {});
    LONGS_EQUAL(1, reply.done.size());  // only second was still deferred
    CHECK_TRUE(bench.where(second) == QueueName::Active);
}

TEST(QmgrControl, RequeueRestartsAMessageInDeliveryAndReleasesHeldOnes) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    auto delivery = bench.transport.open().at(0);
    auto reply = control(bench, ControlOp::Requeue, {id});
    LONGS_EQUAL(1, reply.done.size());
    CHECK_TRUE(delivery->cancelled);
    CHECK_TRUE(bench.logs.contains(id + ": requeued"));
    LONGS_EQUAL(2, bench.transport.deliveries.size());
    CHECK_TRUE(bench.where(id) == QueueName::Active);

    control(bench, ControlOp::Hold, {id});
    CHECK_TRUE(bench.where(id) == QueueName::Hold);
    control(bench, ControlOp::Requeue, {"ALL"});
    CHECK_TRUE(bench.where(id) == QueueName::Active);
    LONGS_EQUAL(3, bench.transport.deliveries.size());
}

TEST(QmgrControl, AllActsOnEveryQueueTheOperationConcerns) {
    QmgrBench bench;
    std::string deferred = deferredMessage(bench);
    std::string active = bench.submit(TestMessage());
    auto reply = control(bench, ControlOp::Hold, {"ALL"});
    LONGS_EQUAL(2, reply.done.size());
    CHECK_TRUE(bench.where(deferred) == QueueName::Hold);
    CHECK_TRUE(bench.where(active) == QueueName::Hold);
    reply = control(bench, ControlOp::Delete, {"ALL"});
    LONGS_EQUAL(2, reply.done.size());
    CHECK_FALSE(bench.where(deferred).has_value());
    CHECK_FALSE(bench.where(active).has_value());
    reply = control(bench, ControlOp::Delete, {});
    CHECK_FALSE(reply.ok);
}

TEST_GROUP(QmgrStartup){};

TEST(QmgrStartup, TakesBackActiveLeftoversAndWaitingMail) {
    QmgrBench bench;
    std::string crashed = bench.queueMessage(TestMessage());
    CHECK_TRUE(bench.store.move(crashed, QueueName::Incoming, QueueName::Active).ok());
    std::string waiting = bench.queueMessage(TestMessage());
    std::string deferred = bench.queueMessage(TestMessage());
    CHECK_TRUE(bench.store.move(deferred, QueueName::Incoming, QueueName::Deferred).ok());
    {
        auto handle = bench.store.open(QueueName::Deferred, deferred, queue::Access::ReadWrite);
        CHECK_TRUE(handle.value()->updateSchedule({bench.now + 30 * kMicrosPerSecond, 1, 0}).ok());
    }
    QueueManager second(bench.store, bench.settings, bench.router, bench.transport, bench.wakeup,
                        [&bench] { return bench.now; });
    second.start();
    LONGS_EQUAL(2, bench.transport.deliveries.size());
    LONGS_EQUAL(1, second.deferredCount());
    CHECK_EQUAL(bench.now + 30 * kMicrosPerSecond, bench.wakeup.at);
    bench.now += 29 * kMicrosPerSecond;
    second.wake();
    CHECK_TRUE(bench.where(deferred) == QueueName::Deferred);
    bench.now += 1 * kMicrosPerSecond;
    second.wake();
    CHECK_TRUE(bench.where(deferred) == QueueName::Active);
    while (!bench.transport.open().empty())
        bench.answerAll(*bench.transport.open().front(), Outcome::Sent, "2.0.0", "250 ok");
    LONGS_EQUAL(3, bench.transport.deliveries.size());
    LONGS_EQUAL(0, second.activeCount());
    for (const auto& id : {crashed, waiting, deferred}) CHECK_FALSE(bench.where(id).has_value());
}

TEST(QmgrStartup, FailedRecipientsOfAnEarlierRunGetTheirNotice) {
    QmgrBench bench;
    std::string id = bench.queueMessage(TestMessage());
    {
        auto handle = bench.store.open(QueueName::Incoming, id, queue::Access::ReadWrite);
        queue::RecipientStatus failed{RecipientState::Failed, "5.1.1", bench.now,
                                      "550 no such user"};
        CHECK_TRUE(handle.value()->updateRecipient(0, failed).ok());
    }
    bench.manager->newMessage(id);
    CHECK_FALSE(bench.where(id).has_value());
    auto notices = bench.noticeDeliveries();
    LONGS_EQUAL(1, notices.size());
    CHECK_TRUE(bench.content(notices[0]->request.queueId).find("550 no such user") !=
               std::string::npos);
}

TEST(QmgrStartup, CorruptFilesGoToCorrupt) {
    QmgrBench bench;
    std::string bytes = queue::testing::sampleFileBytes("Subject: x\r\n\r\nbody\r\n");
    bytes.resize(bytes.size() - 3);
    std::string id = "0000000000001AAAA";
    bench.store.putFile(QueueName::Incoming, id, bytes);
    bench.manager->newMessage(id);
    CHECK_TRUE(bench.where(id) == QueueName::Corrupt);
    CHECK_TRUE(bench.logs.contains(id + ": truncated"));
    LONGS_EQUAL(0, bench.transport.deliveries.size());
}

TEST(QmgrStartup, AScanFindsMailWhoseNoticeWasLost) {
    QmgrBench bench;
    std::string id = bench.queueMessage(TestMessage());
    LONGS_EQUAL(0, bench.transport.deliveries.size());
    bench.advance(60);  // queue_run_delay
    LONGS_EQUAL(1, bench.transport.deliveries.size());
    STRCMP_EQUAL(id.c_str(), bench.transport.deliveries[0]->request.queueId.c_str());
}

TEST(QmgrStartup, StopLetsDeliveriesFinishButStartsNoMore) {
    QmgrBench bench;
    std::string first = bench.submit(TestMessage());
    bench.manager->stop();
    std::string second = bench.submit(TestMessage());
    LONGS_EQUAL(1, bench.transport.deliveries.size());
    bench.answerAll(*bench.transport.deliveries[0], Outcome::Sent, "2.0.0", "250 ok");
    CHECK_FALSE(bench.where(first).has_value());
    CHECK_TRUE(bench.where(second) == QueueName::Incoming);
}
