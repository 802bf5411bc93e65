// qmgr_manager_test.cpp: the queue manager's delivery rounds on an in-memory queue with a
// fake worker: requests, results, removal, deferral with back-off, bounces and their
// notices, expiry, soft_bounce, worker failures, limits and grouping.
#include "qmgr_test_support.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;
using namespace postern::qmgr::testing;
using Outcome = delivery_protocol::RecipientOutcome;
using queue::QueueName;
using queue::RecipientState;

namespace {

TestMessage threeRecipients() {
    TestMessage message;
    message.recipients = {{"one@example.net", "", 0},
                          {"two@example.net", "", 0},
                          {"three@example.net", "rfc822;old-three@example.net", 0}};
    return message;
}

}  // namespace

TEST_GROUP(QmgrRounds){};

TEST(QmgrRounds, NewMessageIsDeliveredAndRemovedWithoutSlotWrites) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    CHECK_TRUE(bench.where(id) == QueueName::Active);
    LONGS_EQUAL(1, bench.transport.deliveries.size());
    const auto& request = bench.transport.deliveries[0]->request;
    STRCMP_EQUAL(id.c_str(), request.queueId.c_str());
    STRCMP_EQUAL(("active/" + id).c_str(), request.queueFile.c_str());
    STRCMP_EQUAL("alice@example.org", request.sender.c_str());
    STRCMP_EQUAL("mx", request.nexthop.c_str());
    STRCMP_EQUAL("example.net", request.domain.c_str());
    STRCMP_EQUAL("may", request.tls.level.c_str());
    LONGS_EQUAL(1, request.recipients.size());
    STRCMP_EQUAL("bob@example.net", request.recipients[0].address.c_str());
    CHECK_EQUAL(int64_t(bench.file(id).contentLength), request.contentLength);
    CHECK_TRUE(bench.logs.contains(id + ": from=<alice@example.org>, size="));
    CHECK_TRUE(bench.logs.contains(", nrcpt=1 (queue active)"));

    bench.answerAll(*bench.transport.deliveries[0], Outcome::Sent, "2.0.0", "250 2.0.0 Ok");
    CHECK_FALSE(bench.where(id).has_value());
    CHECK_TRUE(bench.logs.contains(id + ": removed"));
    LONGS_EQUAL(0, bench.manager->activeCount());
    LONGS_EQUAL(0, bench.manager->inFlight());
}

TEST(QmgrRounds, MixedResultsDeferBounceAndKeepReasons) {
    QmgrBench bench;
    std::string id = bench.submit(threeRecipients());
    auto& delivery = *bench.transport.deliveries.at(0);
    LONGS_EQUAL(3, delivery.request.recipients.size());
    bench.answer(delivery, 0, Outcome::Sent, "2.0.0", "250 2.0.0 Ok");
    bench.answer(delivery, 1, Outcome::Deferred, "4.2.0", "450 4.2.0 mailbox busy");
    bench.answer(delivery, 2, Outcome::Bounced, "5.1.1", "550 5.1.1 no such user");
    bench.done(delivery);

    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    queue::QueueMessage file = bench.file(id);
    CHECK_TRUE(file.recipients[0].status.state == RecipientState::Delivered);
    CHECK_TRUE(file.recipients[1].status.state == RecipientState::Deferred);
    STRCMP_EQUAL("450 4.2.0 mailbox busy", file.recipients[1].status.reason.c_str());
    STRCMP_EQUAL("4.2.0", file.recipients[1].status.dsnCode.c_str());
    CHECK_TRUE(file.recipients[2].status.state == RecipientState::Bounced);
    LONGS_EQUAL(1, file.schedule.attempts);
    CHECK_EQUAL(bench.now + bench.settings.minimalBackoff, file.schedule.nextAttemptMicros);

    // One notice, from the null sender to the sender, about the bounced recipient only.
    auto notices = bench.noticeDeliveries();
    LONGS_EQUAL(1, notices.size());
    STRCMP_EQUAL("alice@example.org", notices[0]->request.recipients[0].address.c_str());
    std::string notice = bench.content(notices[0]->request.queueId);
    CHECK_TRUE(notice.find("Final-Recipient: rfc822; three@example.net") != std::string::npos);
    CHECK_TRUE(notice.find("Original-Recipient: rfc822; old-three@example.net") !=
               std::string::npos);
    CHECK_TRUE(notice.find("Diagnostic-Code: smtp; 550 5.1.1 no such user") != std::string::npos);
    CHECK_TRUE(notice.find("Remote-MTA: dns; mx.example.net") != std::string::npos);
    CHECK_TRUE(notice.find("X-Postern-Queue-ID: " + id) != std::string::npos);
    CHECK_TRUE(notice.find("two@example.net") == std::string::npos);
    CHECK_TRUE(bench.logs.contains(
        id + ": sender non-delivery notification: " + notices[0]->request.queueId));
}

TEST(QmgrRounds, DeferredMailIsRetriedWithDoublingBackoff) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Deferred, "4.4.1",
                    "connect timed out");
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    CHECK_EQUAL(bench.now + 10 * kMicrosPerSecond, bench.wakeup.at);

    bench.advance(9);
    LONGS_EQUAL(1, bench.transport.deliveries.size());
    bench.advance(1);
    LONGS_EQUAL(2, bench.transport.deliveries.size());
    CHECK_TRUE(bench.where(id) == QueueName::Active);
    bench.answerAll(*bench.transport.deliveries.at(1), Outcome::Deferred, "4.4.1", "again");
    queue::QueueMessage file = bench.file(id);
    LONGS_EQUAL(2, file.schedule.attempts);
    CHECK_EQUAL(bench.now + 20 * kMicrosPerSecond, file.schedule.nextAttemptMicros);

    bench.advance(20);
    bench.answerAll(*bench.transport.deliveries.at(2), Outcome::Deferred, "4.4.1", "again");
    bench.advance(40);
    bench.answerAll(*bench.transport.deliveries.at(3), Outcome::Deferred, "4.4.1", "again");
    bench.advance(80);
    bench.answerAll(*bench.transport.deliveries.at(4), Outcome::Deferred, "4.4.1", "again");
    // Capped at maximal_backoff_time.
    CHECK_EQUAL(bench.now + 80 * kMicrosPerSecond, bench.file(id).schedule.nextAttemptMicros);
    bench.advance(80);
    bench.answerAll(*bench.transport.deliveries.at(5), Outcome::Sent, "2.0.0", "250 ok");
    CHECK_FALSE(bench.where(id).has_value());
}

TEST(QmgrRounds, ExpiredMailBouncesWithDeliveryTimeExceeded) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    bench.now += 999 * kMicrosPerSecond;
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Deferred, "4.4.1", "host down");
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    bench.advance(10);
    bench.answerAll(*bench.transport.deliveries.at(1), Outcome::Deferred, "4.4.1", "host down");
    CHECK_FALSE(bench.where(id).has_value());
    CHECK_TRUE(bench.logs.contains(id + ": to=<bob@example.net>, relay=none, delay=1009, delays="));
    CHECK_TRUE(bench.logs.contains("dsn=4.4.7, status=expired, returned to sender"));
    auto notices = bench.noticeDeliveries();
    LONGS_EQUAL(1, notices.size());
    std::string notice = bench.content(notices[0]->request.queueId);
    CHECK_TRUE(notice.find("Status: 4.4.7") != std::string::npos);
    CHECK_TRUE(notice.find("Action: failed") != std::string::npos);
    CHECK_TRUE(notice.find("host down") != std::string::npos);
}

TEST(QmgrRounds, NullSenderGetsNoNoticeAndUsesTheBounceLifetime) {
    QmgrBench bench;
    TestMessage message;
    message.sender = "";
    std::string id = bench.submit(message);
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Bounced, "5.1.1", "550 no");
    CHECK_FALSE(bench.where(id).has_value());
    LONGS_EQUAL(1, bench.transport.deliveries.size());  // the message itself, no notice
    CHECK_TRUE(
        bench.logs.contains(id + ": sender non-delivery notification not sent: null sender"));

    std::string second = bench.submit(message);
    bench.now += 500 * kMicrosPerSecond;
    bench.answerAll(*bench.transport.deliveries.back(), Outcome::Deferred, "4.4.1", "later");
    CHECK_FALSE(bench.where(second).has_value());
    CHECK_TRUE(bench.logs.contains(second + ": to=<bob@example.net>"));
    CHECK_TRUE(bench.logs.contains("dsn=4.4.7, status=expired"));
}

TEST(QmgrRounds, NotifyNeverAndSuccess) {
    QmgrBench bench;
    TestMessage message;
    message.recipients = {{"never@example.net", "", queue::kNotifyNever},
                          {"success@example.net", "", queue::kNotifySuccess}};
    std::string id = bench.submit(message);
    auto& delivery = *bench.transport.deliveries.at(0);
    bench.answer(delivery, 0, Outcome::Bounced, "5.1.1", "550 no");
    bench.answer(delivery, 1, Outcome::Sent, "2.0.0", "250 2.0.0 queued");
    bench.done(delivery);
    CHECK_FALSE(bench.where(id).has_value());
    auto notices = bench.noticeDeliveries();
    LONGS_EQUAL(1, notices.size());
    std::string notice = bench.content(notices[0]->request.queueId);
    CHECK_TRUE(notice.find("Subject: Successful Mail Delivery Report") != std::string::npos);
    CHECK_TRUE(notice.find("Action: relayed") != std::string::npos);
    CHECK_TRUE(notice.find("never@example.net") == std::string::npos);
    CHECK_TRUE(bench.logs.contains(id + ": sender delivery status notification: "));
}

TEST(QmgrRounds, SoftBounceDefersPermanentFailures) {
    Settings settings = testSettings();
    settings.softBounce = true;
    QmgrBench bench(settings);
    std::string id = bench.submit(TestMessage());
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Bounced, "5.1.1", "550 5.1.1 no");
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    queue::QueueMessage file = bench.file(id);
    CHECK_TRUE(file.recipients[0].status.state == RecipientState::Deferred);
    STRCMP_EQUAL("4.1.1", file.recipients[0].status.dsnCode.c_str());
    LONGS_EQUAL(0, bench.noticeDeliveries().size());
}

TEST(QmgrRounds, WorkerThatDiesOrForgetsDefersWhatItDidNotAnswer) {
    QmgrBench bench;
    std::string id = bench.submit(threeRecipients());
    auto& delivery = *bench.transport.deliveries.at(0);
    bench.answer(delivery, 0, Outcome::Sent, "2.0.0", "250 ok");
    delivery.ended = true;
    auto onEnd = delivery.events.onEnd;
    onEnd("lost connection with the smtp worker (connection closed)");
    queue::QueueMessage file = bench.file(id);
    CHECK_TRUE(file.recipients[0].status.state == RecipientState::Delivered);
    CHECK_TRUE(file.recipients[1].status.state == RecipientState::Deferred);
    STRCMP_EQUAL(
        "delivery temporarily suspended: lost connection with the smtp worker (connection closed)",
        file.recipients[1].status.reason.c_str());
    CHECK_TRUE(bench.logs.contains(id +
                                   ": to=<two@example.net>, relay=none, delay=0, delays=0/0/0/0, "
                                   "dsn=4.3.0, status=deferred (delivery temporarily suspended: "));

    bench.advance(10);
    auto& retry = *bench.transport.deliveries.at(1);
    LONGS_EQUAL(2, retry.request.recipients.size());
    bench.answer(retry, 0, Outcome::Sent, "2.0.0", "250 ok");
    bench.done(retry);  // without a result for the last recipient
    file = bench.file(id);
    STRCMP_EQUAL("delivery temporarily suspended: the smtp worker sent no result",
                 file.recipients[2].status.reason.c_str());
}

TEST(QmgrRounds, NoWorkerMeansDeferredWithTheConnectError) {
    QmgrBench bench;
    bench.transport.failure = "connect to private/smtp: Connection refused";
    std::string id = bench.submit(TestMessage());
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    STRCMP_EQUAL("delivery temporarily suspended: connect to private/smtp: Connection refused",
                 bench.file(id).recipients[0].status.reason.c_str());
    // Nothing spins: the next wake-up is the back-off.
    CHECK_EQUAL(bench.now + 10 * kMicrosPerSecond, bench.wakeup.at);
    bench.transport.failure.clear();
    bench.advance(10);
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Sent, "2.0.0", "250 ok");
    CHECK_FALSE(bench.where(id).has_value());
}

TEST(QmgrRounds, ResultForAnUnknownRecipientDropsTheWorker) {
    QmgrBench bench;
    std::string id = bench.submit(TestMessage());
    auto& delivery = *bench.transport.deliveries.at(0);
    delivery_protocol::RecipientResult bogus;
    bogus.requestId = delivery.request.requestId;
    bogus.index = 7;
    bogus.outcome = Outcome::Sent;
    bogus.dsn = "2.0.0";
    auto onResult = delivery.events.onResult;
    onResult(bogus);
    CHECK_TRUE(delivery.cancelled);
    CHECK_TRUE(bench.where(id) == QueueName::Deferred);
    STRCMP_EQUAL("delivery temporarily suspended: malformed reply from the smtp worker",
                 bench.file(id).recipients[0].status.reason.c_str());
}

TEST(QmgrRounds, PerDestinationAndTotalConcurrencyLimits) {
    Settings settings = testSettings();
    settings.destinationConcurrencyLimit = 2;
    settings.totalConcurrencyLimit = 3;
    QmgrBench bench(settings);
    for (int i = 0; i < 4; ++i) bench.submit(TestMessage());
    TestMessage other;
    other.recipients = {{"x@other.example", "", 0}};
    bench.submit(other);
    bench.submit(other);
    // example.net: 2 of 4; other.example: 1 of 2 (total 3).
    LONGS_EQUAL(3, bench.transport.open().size());
    LONGS_EQUAL(3, bench.manager->inFlight());
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Sent, "2.0.0", "250 ok");
    LONGS_EQUAL(3, bench.transport.open().size());
    // Fairness: the freed slot went to other.example, whose turn it was, not to the next
    // job in arrival order (example.net's third).
    int toOther = 0;
    for (const auto& delivery : bench.transport.open())
        toOther += delivery->request.domain == "other.example";
    LONGS_EQUAL(2, toOther);
    while (!bench.transport.open().empty())
        bench.answerAll(*bench.transport.open().front(), Outcome::Sent, "2.0.0", "250 ok");
    LONGS_EQUAL(6, bench.transport.deliveries.size());
    LONGS_EQUAL(0, bench.manager->activeCount());
}

TEST(QmgrRounds, RecipientsAreGroupedByDestinationWithinTheRecipientLimit) {
    Settings settings = testSettings();
    settings.destinationRecipientLimit = 2;
    QmgrBench bench(settings);
    TestMessage message;
    message.recipients = {{"a@example.net", "", 0},
                          {"b@example.com", "", 0},
                          {"c@example.net", "", 0},
                          {"d@Example.NET", "", 0},
                          {"e@example.net", "", 0}};
    std::string id = bench.submit(message);
    auto requests = bench.transport.deliveries;
    LONGS_EQUAL(3, requests.size());
    std::vector<std::string> groups;
    for (const auto& delivery : requests) {
        std::string group;
        for (const auto& rcpt : delivery->request.recipients) group += rcpt.address.substr(0, 1);
        groups.push_back(group + "@" + delivery->request.domain);
    }
    STRCMP_EQUAL("ac@example.net", groups[0].c_str());
    STRCMP_EQUAL("b@example.com", groups[1].c_str());
    STRCMP_EQUAL("de@example.net", groups[2].c_str());

    bench.answerAll(*requests[0], Outcome::Sent, "2.0.0", "250 ok");
    // A result of a message whose other jobs still run is made durable at once.
    queue::QueueMessage file = bench.file(id);
    CHECK_TRUE(file.recipients[0].status.state == RecipientState::Delivered);
    CHECK_TRUE(file.recipients[2].status.state == RecipientState::Delivered);
    CHECK_TRUE(file.recipients[1].status.state == RecipientState::Pending);
    bench.answerAll(*requests[1], Outcome::Sent, "2.0.0", "250 ok");
    bench.answerAll(*requests[2], Outcome::Sent, "2.0.0", "250 ok");
    CHECK_FALSE(bench.where(id).has_value());
}

TEST(QmgrRounds, ActiveLimitHoldsNewMailBack) {
    Settings settings = testSettings();
    settings.activeLimit = 1;
    QmgrBench bench(settings);
    std::string first = bench.submit(TestMessage());
    std::string second = bench.submit(TestMessage());
    CHECK_TRUE(bench.where(second) == QueueName::Incoming);
    LONGS_EQUAL(1, bench.manager->activeCount());
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Sent, "2.0.0", "250 ok");
    CHECK_TRUE(bench.where(second) == QueueName::Active);
    LONGS_EQUAL(2, bench.transport.deliveries.size());
}

TEST(QmgrRounds, OneDelayNoticeOnceTheWarningTimeHasPassed) {
    Settings settings = testSettings();
    settings.delayWarningTime = 15 * kMicrosPerSecond;
    QmgrBench bench(settings);
    std::string id = bench.submit(TestMessage());
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Deferred, "4.2.0", "450 busy");
    LONGS_EQUAL(0, bench.noticeDeliveries().size());
    bench.advance(10);
    bench.now += 6 * kMicrosPerSecond;
    bench.answerAll(*bench.transport.deliveries.at(1), Outcome::Deferred, "4.2.0", "450 busy");
    auto notices = bench.noticeDeliveries();
    LONGS_EQUAL(1, notices.size());
    std::string notice = bench.content(notices[0]->request.queueId);
    CHECK_TRUE(notice.find("Action: delayed") != std::string::npos);
    CHECK_TRUE(notice.find("Will-Retry-Until: ") != std::string::npos);
    CHECK_TRUE(
        bench.logs.contains(id + ": sender delay notification: " + notices[0]->request.queueId));
    CHECK_TRUE(bench.file(id).schedule.flags & queue::kDelayWarningSent);
    bench.answerAll(*notices[0], Outcome::Sent, "2.0.0", "250 ok");
    bench.advance(20);
    bench.answerAll(*bench.transport.open().at(0), Outcome::Deferred, "4.2.0", "450 busy");
    LONGS_EQUAL(1, bench.noticeDeliveries().size());
}

TEST(QmgrRounds, ReturnFullAttachesTheWholeMessageCutToTheLimit) {
    QmgrBench bench;
    TestMessage message;
    message.ret = queue::ReturnContent::Full;
    message.envid = "ENV-42";
    message.content = "Subject: big\r\n\r\n";
    for (int i = 0; i < 100; ++i) message.content += "body line " + std::to_string(i) + "\r\n";
    bench.submit(message);
    bench.answerAll(*bench.transport.deliveries.at(0), Outcome::Bounced, "5.1.1", "550 no");
    std::string notice = bench.content(bench.noticeDeliveries().at(0)->request.queueId);
    CHECK_TRUE(notice.find("Content-Type: message/rfc822") != std::string::npos);
    CHECK_TRUE(notice.find("Original-Envelope-Id: ENV-42") != std::string::npos);
    CHECK_TRUE(notice.find("body line 10\r\n") != std::string::npos);
    CHECK_TRUE(notice.find("body line 99\r\n") == std::string::npos);
    CHECK_TRUE(notice.find("cut to fit the size limit") != std::string::npos);
}
