// qmgr_notices_test.cpp: unit tests for qmgr/notices.h: who gets which notice (NOTIFY=),
// and a notice written into an in-memory queue (envelope, BODY=, returned part).
#include "qmgr/notices.h"
#include "queue_memory_store.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;
using queue::QueueName;

namespace {

// Queues a message from alice with this content and returns an open handle on it.
std::unique_ptr<queue::MessageHandle> queued(queue::MemoryQueueStore& store,
                                             const std::string& content, queue::ReturnContent ret) {
    queue::Envelope envelope;
    envelope.sender = "alice@example.org";
    envelope.ret = ret;
    envelope.client.hostname = "client.example";
    envelope.client.address = "192.0.2.1";
    auto writer = store.createMessage(envelope, {{"bob@example.net", "", 0}});
    CHECK_TRUE(writer.ok());
    CHECK_TRUE(writer.value()->appendContent(content).ok());
    CHECK_TRUE(writer.value()->commit().ok());
    auto handle = store.open(QueueName::Incoming, writer.value()->id(), queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    return std::move(handle.value());
}

std::vector<dsn::RecipientReport> bobFailed() {
    dsn::RecipientReport report;
    report.address = "bob@example.net";
    report.status = "5.1.1";
    report.diagnostic = "550 5.1.1 no such user";
    return {report};
}

}  // namespace

TEST_GROUP(QmgrNotices){};

TEST(QmgrNotices, NotifyDecidesWhoGetsWhichNotice) {
    using dsn::Kind;
    const uint8_t success = queue::kNotifySuccess, failure = queue::kNotifyFailure,
                  delay = queue::kNotifyDelay, never = queue::kNotifyNever;
    // No NOTIFY: failures and delays, never success.
    CHECK_TRUE(wantsNotice(0, Kind::Failure));
    CHECK_TRUE(wantsNotice(0, Kind::Delay));
    CHECK_FALSE(wantsNotice(0, Kind::Success));
    CHECK_FALSE(wantsNotice(never, Kind::Failure));
    CHECK_FALSE(wantsNotice(never, Kind::Delay));
    CHECK_FALSE(wantsNotice(never, Kind::Success));
    CHECK_TRUE(wantsNotice(success, Kind::Success));
    CHECK_FALSE(wantsNotice(success, Kind::Failure));
    CHECK_FALSE(wantsNotice(success, Kind::Delay));
    CHECK_TRUE(wantsNotice(failure | delay, Kind::Delay));
    CHECK_FALSE(wantsNotice(failure, Kind::Delay));
    CHECK_TRUE(wantsNotice(success | failure, Kind::Failure));
}

TEST(QmgrNotices, ANoticeIsANewMessageFromTheNullSender) {
    queue::MemoryQueueStore store;
    Settings settings;
    settings.myhostname = "mx.test.example";
    settings.bounceSizeLimit = 1000;
    NoticeWriter writer(store, settings);
    auto original =
        queued(store, "Subject: caf\xC3\xA9\r\n\r\nbody\r\n", queue::ReturnContent::Headers);
    auto id = writer.write(*original, dsn::Kind::Failure, bobFailed(), 1700000000000000);
    CHECK_TRUE_TEXT(id.ok(), id.ok() ? "" : id.error().c_str());
    auto notice = store.open(QueueName::Incoming, *id, queue::Access::ReadOnly);
    CHECK_TRUE(notice.ok());
    const queue::QueueMessage& message = notice.value()->message();
    STRCMP_EQUAL("", message.envelope.sender.c_str());
    LONGS_EQUAL(1, message.recipients.size());
    STRCMP_EQUAL("alice@example.org", message.recipients[0].recipient.address.c_str());
    CHECK_TRUE(message.envelope.body == queue::BodyType::EightBitMime);  // the returned header
    std::string content = *notice.value()->readContent(0, 100000);
    CHECK_TRUE(content.find("Message-ID: <" + *id + "@mx.test.example>") != std::string::npos);
    CHECK_TRUE(content.find("X-Postern-Queue-ID: " + original->id()) != std::string::npos);
    CHECK_TRUE(content.find("Subject: caf\xC3\xA9\r\n") != std::string::npos);
    CHECK_TRUE(content.find("\r\nbody\r\n") == std::string::npos);  // headers only
}

TEST(QmgrNotices, TheWholeMessageOnlyForAFailureWithRetFull) {
    queue::MemoryQueueStore store;
    Settings settings;
    NoticeWriter writer(store, settings);
    auto original = queued(store, "Subject: x\r\n\r\nthe body\r\n", queue::ReturnContent::Full);
    auto failure = writer.write(*original, dsn::Kind::Failure, bobFailed(), 1700000000000000);
    auto delay = writer.write(*original, dsn::Kind::Delay, bobFailed(), 1700000000000000);
    CHECK_TRUE(failure.ok() && delay.ok());
    auto read = [&](const std::string& id) {
        auto handle = store.open(QueueName::Incoming, id, queue::Access::ReadOnly);
        return *handle.value()->readContent(0, 100000);
    };
    CHECK_TRUE(read(*failure).find("the body") != std::string::npos);
    CHECK_TRUE(read(*failure).find("Content-Type: message/rfc822") != std::string::npos);
    CHECK_TRUE(read(*delay).find("the body") == std::string::npos);
    CHECK_TRUE(read(*delay).find("Content-Type: text/rfc822-headers") != std::string::npos);
}
