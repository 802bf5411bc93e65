// smtpd_content_test.cpp: unit tests for smtpd/message_content.h with the in-memory queue:
// DATA and BDAT content reaches the queue file exactly (Received: first), smuggling
// sequences never end a message, local submissions get Date: and Message-ID:, and the
// limits refuse at the end (size, bare newlines under reject, header size, hops).
#include <memory>
#include <string>

#include "queue_memory_store.h"
#include "smtpd/message_content.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;
using postern::queue::MemoryQueueStore;

namespace {

const char* const kPrefix = "Received: by test\r\n";

struct ContentFixture {
    MemoryQueueStore store;
    ContentPolicy policy;

    std::unique_ptr<MessageContent> begin(DataReader reader) {
        queue::Envelope envelope;
        envelope.sender = "a@b.example";
        envelope.client.hostname = "unknown";
        envelope.client.address = "192.0.2.1";
        auto writer = store.createMessage(envelope, {{"c@d.example", "", 0}});
        CHECK_TRUE(writer.ok());
        return std::make_unique<MessageContent>(std::move(writer.value()), std::move(reader),
                                                policy, kPrefix);
    }
    std::unique_ptr<MessageContent> beginData() { return begin(DataReader::forData(policy.data)); }

    // Commits and reads back the content of the queued file.
    std::string commitAndRead(MessageContent& content) {
        CHECK_FALSE(content.rejection().has_value());
        auto writer = content.takeWriter();
        CHECK_TRUE(writer->commit().ok());
        auto handle =
            store.open(queue::QueueName::Incoming, content.queueId(), queue::Access::ReadOnly);
        CHECK_TRUE(handle.ok());
        auto bytes = handle.value()->readContent(0, 1 << 20);
        CHECK_TRUE(bytes.ok());
        return bytes.value();
    }
};

}  // namespace

TEST_GROUP(SmtpdContent) {
    ContentFixture fixture;
};

TEST(SmtpdContent, DataReachesTheQueueExactlyWhateverTheSplit) {
    const std::string wire = "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n.\r\nQUIT\r\n";
    for (size_t piece = 1; piece < wire.size(); ++piece) {
        ContentFixture local;
        auto content = local.beginData();
        size_t used = 0;
        for (size_t at = 0; at < wire.size() && !content->finished(); at += piece)
            used += content->feed(std::string_view(wire).substr(at, piece));
        CHECK_TRUE(content->finished());
        LONGS_EQUAL(wire.find("QUIT"), used);
        STRCMP_EQUAL((std::string(kPrefix) + "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n").c_str(),
                     local.commitAndRead(*content).c_str());
    }
}

TEST(SmtpdContent, SmugglingSequencesDoNotEndTheMessage) {
    const char* const sequences[] = {"\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r\n.\r", "\r.\r\n"};
    for (const char* sequence : sequences) {
        ContentFixture local;
        auto content = local.beginData();
        std::string wire =
            std::string("Subject: x\r\n\r\nfirst") + sequence + "MAIL FROM:<evil@example>\r\n";
        LONGS_EQUAL(wire.size(), content->feed(wire));
        CHECK_FALSE(content->finished());
        content->feed("\r\n.\r\n");
        CHECK_TRUE(content->finished());
        std::string stored = local.commitAndRead(*content);
        CHECK_TRUE(stored.find("MAIL FROM:<evil@example>") != std::string::npos);
    }
}

TEST(SmtpdContent, BareNewlineRejectedUnderReject) {
    fixture.policy.data.bareNewline = BareNewlinePolicy::reject;
    auto content = fixture.beginData();
    content->feed("Subject: x\n\nbody\r\n.\r\n");
    CHECK_TRUE(content->finished());
    auto refusal = content->rejection();
    CHECK_TRUE(refusal.has_value());
    LONGS_EQUAL(550, refusal->code);
}

TEST(SmtpdContent, LocalSubmissionGetsDateAndMessageIdBeforeTheBody) {
    fixture.policy.addMissingHeaders = true;
    fixture.policy.myhostname = "mx.example";
    fixture.policy.arrival = 1000000000;
    auto content = fixture.beginData();
    content->feed("Subject: x\r\n\r\nbody\r\n.\r\n");
    std::string id = content->queueId();
    std::string stored = fixture.commitAndRead(*content);
    std::string expected = std::string(kPrefix) + "Subject: x\r\n" + dateHeader(1000000000) +
                           messageIdHeader(1000000000, id, "mx.example") + "\r\nbody\r\n";
    STRCMP_EQUAL(expected.c_str(), stored.c_str());
    STRCMP_EQUAL(newMessageId(1000000000, id, "mx.example").c_str(), content->messageId().c_str());
}

TEST(SmtpdContent, LocalSubmissionKeepsItsOwnHeaders) {
    fixture.policy.addMissingHeaders = true;
    auto content = fixture.beginData();
    content->feed("Date: yesterday\r\nMessage-ID: <mine@example>\r\n\r\nbody\r\n.\r\n");
    std::string stored = fixture.commitAndRead(*content);
    STRCMP_EQUAL(
        (std::string(kPrefix) + "Date: yesterday\r\nMessage-ID: <mine@example>\r\n\r\nbody\r\n")
            .c_str(),
        stored.c_str());
    STRCMP_EQUAL("<mine@example>", content->messageId().c_str());
}

TEST(SmtpdContent, LocalSubmissionWithoutHeadersOrBody) {
    fixture.policy.addMissingHeaders = true;
    fixture.policy.arrival = 1000000000;
    auto content = fixture.begin(DataReader::forBdat(fixture.policy.data));
    content->feed("just text");
    content->finishChunks();
    std::string stored = fixture.commitAndRead(*content);
    std::string id = content->queueId();
    // The body line starts the body: our lines go before it, with the empty line.
    std::string expected = std::string(kPrefix) + dateHeader(1000000000) +
                           messageIdHeader(1000000000, id, "") + "\r\njust text";
    STRCMP_EQUAL(expected.c_str(), stored.c_str());
}

TEST(SmtpdContent, RemoteMessageIsNotChanged) {
    auto content = fixture.beginData();
    content->feed("Subject: x\r\n\r\nbody\r\n.\r\n");
    STRCMP_EQUAL((std::string(kPrefix) + "Subject: x\r\n\r\nbody\r\n").c_str(),
                 fixture.commitAndRead(*content).c_str());
    STRCMP_EQUAL("", content->messageId().c_str());
}

TEST(SmtpdContent, TooBigIsRefusedAndNotKept) {
    fixture.policy.data.messageSizeLimit = 100;
    auto content = fixture.beginData();
    content->feed("Subject: x\r\n\r\n" + std::string(200, 'a') + "\r\n.\r\n");
    CHECK_TRUE(content->finished());
    CHECK_TRUE(content->failedEarly());
    LONGS_EQUAL(552, content->rejection()->code);
}

TEST(SmtpdContent, TooManyHopsAreRefused) {
    fixture.policy.hopcountLimit = 2;
    auto content = fixture.beginData();
    content->feed("Received: 1\r\nReceived: 2\r\nReceived: 3\r\n\r\nx\r\n.\r\n");
    auto refusal = content->rejection();
    CHECK_TRUE(refusal.has_value());
    STRCMP_EQUAL("554 5.4.0 Error: too many hops", refusal->printable().c_str());
}

TEST(SmtpdContent, HopsAtTheLimitPass) {
    fixture.policy.hopcountLimit = 2;
    auto content = fixture.beginData();
    content->feed("Received: 1\r\nReceived: 2\r\n\r\nx\r\n.\r\n");
    CHECK_FALSE(content->rejection().has_value());
}

TEST(SmtpdContent, OversizedHeaderIsRefused) {
    fixture.policy.data.headerSizeLimit = 50;
    auto content = fixture.beginData();
    content->feed("Subject: " + std::string(100, 's') + "\r\n\r\nx\r\n.\r\n");
    LONGS_EQUAL(552, content->rejection()->code);
}

TEST(SmtpdContent, AnAbandonedMessageLeavesNothing) {
    {
        auto content = fixture.beginData();
        content->feed("Subject: x\r\n\r\nhalf a mess");
    }
    auto incoming = fixture.store.list(queue::QueueName::Incoming);
    CHECK_TRUE(incoming.ok());
    LONGS_EQUAL(0, incoming.value().size());
    auto stale = fixture.store.removeStaleTemporaries(std::chrono::seconds(0));
    CHECK_TRUE(stale.ok());
    LONGS_EQUAL(0, stale.value());
}
