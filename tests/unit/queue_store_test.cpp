// queue_store_test.cpp: the QueueStore behaviour both backends must share. Every
// QUEUE_STORE_TEST runs twice: in group QueueStoreFs (FsQueueStore in a temporary
// directory) and in group QueueStoreMemory (MemoryQueueStore on a fake clock).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "queue_format.h"
#include "queue_id.h"
#include "queue_store_fixture.h"
#include "queue_test_support.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::queue;
using namespace postern::queue::testing;

TEST_GROUP(QueueStoreFs) {
    std::unique_ptr<StoreFixture> fixture;
    void setup() override { fixture = std::make_unique<FsStoreFixture>(); }
    void teardown() override { fixture.reset(); }
};

TEST_GROUP(QueueStoreMemory) {
    std::unique_ptr<StoreFixture> fixture;
    void setup() override { fixture = std::make_unique<MemoryStoreFixture>(); }
    void teardown() override { fixture.reset(); }
};

// Defines one check and registers it in both groups.
#define QUEUE_STORE_TEST(name)                                \
    static void name##Check(StoreFixture& f);                 \
    TEST(QueueStoreFs, name) { name##Check(*fixture); }       \
    TEST(QueueStoreMemory, name) { name##Check(*fixture); }   \
    static void name##Check(StoreFixture& f)

namespace {

// Fails the test with the error when `status` is not ok.
void checkOk(const Status& status) { CHECK_TRUE_TEXT(status.ok(), status.error().c_str()); }

// Fails the test unless `status` failed with a message containing `expected`.
void checkFails(const Status& status, const std::string& expected) {
    CHECK_FALSE_TEXT(status.ok(), ("succeeded, expected: " + expected).c_str());
    if (status.error().find(expected) == std::string::npos)
        FAIL(("\"" + status.error() + "\" does not contain \"" + expected + "\"").c_str());
}

// Opens a message that must open.
std::unique_ptr<MessageHandle> openOk(QueueStore& store, QueueName queue, const std::string& id,
                                      Access access = Access::ReadWrite) {
    auto handle = store.open(queue, id, access);
    CHECK_TRUE_TEXT(handle.ok(), handle.ok() ? "" : handle.error().c_str());
    return std::move(handle.value());
}

// The IDs in a queue (the listing must succeed).
std::vector<std::string> ids(QueueStore& store, QueueName queue) {
    auto listed = store.list(queue);
    CHECK_TRUE(listed.ok());
    return listed.value();
}

// Reads the whole content through the handle in small pieces.
std::string readAllContent(MessageHandle& handle) {
    std::string content;
    for (;;) {
        auto piece = handle.readContent(content.size(), 5000);
        CHECK_TRUE(piece.ok());
        if (piece->empty()) return content;
        content += piece.value();
    }
}

}  // namespace

QUEUE_STORE_TEST(CommittedMessageIsListedAndReadsBack) {
    std::string content = sampleContent(150000);
    std::string id = storeMessage(f.store(), content);
    CHECK_TRUE(ids(f.store(), QueueName::Incoming) == std::vector<std::string>{id});
    auto handle = openOk(f.store(), QueueName::Incoming, id, Access::ReadOnly);
    STRCMP_EQUAL(id.c_str(), handle->id().c_str());
    STRCMP_EQUAL("sender@example.org", handle->message().envelope.sender.c_str());
    LONGS_EQUAL(3, handle->message().recipients.size());
    LONGS_EQUAL(content.size(), handle->message().contentLength);
    CHECK_TRUE(readAllContent(*handle) == content);
    checkFails(handle->readContent(content.size() + 1, 10).failure(), "beyond the content");
}

QUEUE_STORE_TEST(GroupCommitPublishesSeveralWritersWithOneSync) {
    std::vector<std::unique_ptr<MessageWriter>> writers;
    for (int i = 0; i < 3; ++i) {
        auto writer = f.store().createMessage(sampleEnvelope(), sampleRecipients());
        CHECK_TRUE(writer.ok());
        checkOk(writer.value()->appendContent(sampleContent(1000 + size_t(i))));
        checkOk(writer.value()->writeAndSync());
        writers.push_back(std::move(writer.value()));
    }
    // Written and synced but not published: temporaries are not messages.
    CHECK_TRUE(ids(f.store(), QueueName::Incoming).empty());
    std::vector<std::string> published;
    for (auto& writer : writers) {
        checkOk(writer->publish());
        published.push_back(writer->id());
    }
    checkOk(f.store().syncQueue(QueueName::Incoming));
    writers.clear();  // published writers leave their files alone
    std::sort(published.begin(), published.end());
    CHECK_TRUE(ids(f.store(), QueueName::Incoming) == published);
    for (const auto& id : published) openOk(f.store(), QueueName::Incoming, id);
}

QUEUE_STORE_TEST(AnAbandonedWriterLeavesNothingBehind) {
    std::string unsyncedTemporary, syncedTemporary;
    {
        auto writer = f.store().createMessage(sampleEnvelope(), sampleRecipients());
        checkOk(writer.value()->appendContent(sampleContent(100000)));
        unsyncedTemporary = temporaryFileName(writer.value()->id());
        CHECK_TRUE(f.rawFile(QueueName::Incoming, unsyncedTemporary).has_value());
    }
    {
        auto writer = f.store().createMessage(sampleEnvelope(), sampleRecipients());
        checkOk(writer.value()->appendContent(sampleContent(100)));
        checkOk(writer.value()->writeAndSync());
        syncedTemporary = temporaryFileName(writer.value()->id());
    }
    CHECK_FALSE(f.rawFile(QueueName::Incoming, unsyncedTemporary).has_value());
    CHECK_FALSE(f.rawFile(QueueName::Incoming, syncedTemporary).has_value());
    CHECK_TRUE(ids(f.store(), QueueName::Incoming).empty());
}

QUEUE_STORE_TEST(PublishingNeverReplacesAFileWithTheSameId) {
    auto writer = f.store().createMessage(sampleEnvelope(), sampleRecipients());
    std::string id = writer.value()->id();
    f.plantFile(QueueName::Incoming, id, "an older message");
    checkFails(writer.value()->commit(), "already in incoming");
    writer.value().reset();
    STRCMP_EQUAL("an older message", f.rawFile(QueueName::Incoming, id)->c_str());
    CHECK_FALSE(f.rawFile(QueueName::Incoming, temporaryFileName(id)).has_value());
}

QUEUE_STORE_TEST(ListingIsSortedAndSkipsOtherNames) {
    std::vector<std::string> planted = {makeQueueId(3000, 7, 0), makeQueueId(1000, 7, 0),
                                        makeQueueId(2000, 9, 1)};
    for (const auto& id : planted) f.plantFile(QueueName::Deferred, id, "x");
    f.plantFile(QueueName::Deferred, "README", "x");
    f.plantFile(QueueName::Deferred, temporaryFileName(planted[0]), "x");
    f.plantFile(QueueName::Deferred, planted[0] + "x", "x");
    std::sort(planted.begin(), planted.end());
    CHECK_TRUE(ids(f.store(), QueueName::Deferred) == planted);
    CHECK_TRUE(ids(f.store(), QueueName::Hold).empty());
}

QUEUE_STORE_TEST(MovesGoBetweenQueuesAndNeverOverwrite) {
    std::string id = storeMessage(f.store(), sampleContent(500));
    std::string original = *f.rawFile(QueueName::Incoming, id);
    checkOk(f.store().move(id, QueueName::Incoming, QueueName::Active));
    CHECK_TRUE(*f.store().find(id).value() == QueueName::Active);
    f.plantFile(QueueName::Deferred, id, "squatter");
    checkFails(f.store().move(id, QueueName::Active, QueueName::Deferred), "already in deferred");
    STRCMP_EQUAL("squatter", f.rawFile(QueueName::Deferred, id)->c_str());
    CHECK_TRUE(*f.rawFile(QueueName::Active, id) == original);
    checkFails(f.store().move(id, QueueName::Hold, QueueName::Active), "not in hold");
    checkFails(f.store().move(id, QueueName::Active, QueueName::Active), "already in active");
    checkOk(f.store().move(id, QueueName::Active, QueueName::Hold));
    CHECK_TRUE(ids(f.store(), QueueName::Hold) == std::vector<std::string>{id});
}

QUEUE_STORE_TEST(RemoveDeletesAndFindSaysWhere) {
    std::string id = storeMessage(f.store(), sampleContent(500));
    CHECK_TRUE(*f.store().find(id).value() == QueueName::Incoming);
    checkOk(f.store().remove(QueueName::Incoming, id));
    CHECK_FALSE(f.store().find(id).value().has_value());
    checkFails(f.store().remove(QueueName::Incoming, id), "not in incoming");
    checkFails(f.store().open(QueueName::Incoming, id, Access::ReadOnly).failure(),
               "not in incoming");
}

QUEUE_STORE_TEST(NamesThatAreNotIdsNeverReachAPath) {
    for (const char* name : {"../../../etc/passwd", "", ".tmp-x", "incoming"}) {
        checkFails(f.store().open(QueueName::Incoming, name, Access::ReadOnly).failure(),
                   "not a queue ID");
        checkFails(f.store().remove(QueueName::Incoming, name), "not a queue ID");
        checkFails(f.store().move(name, QueueName::Incoming, QueueName::Hold), "not a queue ID");
        checkFails(f.store().find(name).failure(), "not a queue ID");
        checkFails(f.store().quarantine(QueueName::Incoming, name).failure(), "not a queue ID");
    }
}

QUEUE_STORE_TEST(ABadNameIsShownWithoutControlCharacters) {
    checkFails(f.store().remove(QueueName::Hold, "evil\r\nname"), "not a queue ID: \"evil??name\"");
}

QUEUE_STORE_TEST(QuarantineMovesARefusedFileAndSaysWhy) {
    std::string bytes = sampleFileBytes(sampleContent(2000));
    std::string id = newQueueId();
    std::string cut = bytes.substr(0, bytes.size() - 3);
    f.plantFile(QueueName::Active, id, cut);
    checkFails(f.store().open(QueueName::Active, id, Access::ReadWrite).failure(),
               "truncated: no end record");
    auto reason = f.store().quarantine(QueueName::Active, id);
    CHECK_TRUE(reason.ok());
    STRCMP_EQUAL("truncated: no end record", reason.value().c_str());
    CHECK_TRUE(ids(f.store(), QueueName::Active).empty());
    CHECK_TRUE(*f.rawFile(QueueName::Corrupt, id) == cut);  // kept, byte for byte

    std::string sound = storeMessage(f.store(), sampleContent(100));
    checkFails(f.store().quarantine(QueueName::Incoming, sound).failure(), "sound");
    CHECK_TRUE(*f.store().find(sound).value() == QueueName::Incoming);
}

QUEUE_STORE_TEST(FilesCutAnywhereDoNotOpen) {
    std::string bytes = sampleFileBytes(sampleContent(70000));
    std::string id = newQueueId();
    for (size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 3) {
        f.plantFile(QueueName::Active, id, bytes.substr(0, cut));
        auto opened = f.store().open(QueueName::Active, id, Access::ReadOnly);
        CHECK_FALSE_TEXT(opened.ok(), std::to_string(cut).c_str());
    }
    f.plantFile(QueueName::Active, id, bytes);
    openOk(f.store(), QueueName::Active, id);
}

QUEUE_STORE_TEST(InPlaceUpdatesSurviveReopening) {
    std::string id = storeMessage(f.store(), sampleContent(3000));
    std::string before = *f.rawFile(QueueName::Incoming, id);
    auto handle = openOk(f.store(), QueueName::Incoming, id);
    std::string longReply(400, 'r');
    checkOk(handle->updateRecipient(0, {RecipientState::Delivered, "2.0.0", 1700000001000000,
                                        "250 2.0.0 Ok: queued as 4Q"}));
    checkOk(handle->updateRecipient(1, {RecipientState::Deferred, "4.4.1", 1700000002000000,
                                        longReply}));
    checkOk(handle->updateSchedule({1700000300000000, 1, kDelayWarningSent}));
    handle.reset();

    std::string after = *f.rawFile(QueueName::Incoming, id);
    auto reopened = openOk(f.store(), QueueName::Incoming, id);
    const QueueMessage& message = reopened->message();
    CHECK_TRUE(message.recipients[0].status.state == RecipientState::Delivered);
    STRCMP_EQUAL("250 2.0.0 Ok: queued as 4Q", message.recipients[0].status.reason.c_str());
    CHECK_TRUE(message.recipients[1].status.state == RecipientState::Deferred);
    STRCMP_EQUAL("4.4.1", message.recipients[1].status.dsnCode.c_str());
    CHECK_EQUAL(1700000002000000, message.recipients[1].status.lastAttemptMicros);
    CHECK_TRUE(message.recipients[1].status.reason.ends_with(kTruncationMarker));
    CHECK_TRUE(message.recipients[2].status.state == RecipientState::Pending);
    CHECK_EQUAL(1700000300000000, message.schedule.nextAttemptMicros);
    CHECK_EQUAL(1, message.schedule.attempts);
    CHECK_EQUAL(kDelayWarningSent, message.schedule.flags);
    // Only the slots changed: the file has the same size and the same bytes elsewhere.
    LONGS_EQUAL(before.size(), after.size());
    for (const QueuedRecipient& r : message.recipients) {
        before.replace(r.slotOffset, kStatusSlotSize, kStatusSlotSize, '.');
        after.replace(r.slotOffset, kStatusSlotSize, kStatusSlotSize, '.');
    }
    before.replace(message.scheduleOffset, kSchedulePayloadSize, kSchedulePayloadSize, '.');
    after.replace(message.scheduleOffset, kSchedulePayloadSize, kSchedulePayloadSize, '.');
    CHECK_TRUE(before == after);
}

QUEUE_STORE_TEST(ADeliveredRecipientStaysDelivered) {
    std::string id = storeMessage(f.store(), sampleContent(300));
    auto handle = openOk(f.store(), QueueName::Incoming, id);
    checkOk(handle->updateRecipient(0, {RecipientState::Delivered, "2.0.0", 1, "250 ok"}));
    checkFails(handle->updateRecipient(0, {RecipientState::Pending, "", 0, ""}),
               "recipient 0 is delivered, it cannot become pending");
    checkFails(handle->updateRecipient(0, {RecipientState::Delivered, "2.0.0", 2, "again"}),
               "is delivered");
    // Later updates of other recipients, a move and a reopen leave it delivered.
    checkOk(handle->updateRecipient(1, {RecipientState::Failed, "5.1.1", 3, "550 no such user"}));
    checkFails(handle->updateRecipient(1, {RecipientState::Deferred, "4.0.0", 4, "x"}),
               "is failed, it cannot become deferred");
    checkOk(handle->updateRecipient(1, {RecipientState::Bounced, "5.1.1", 3, "550 no such user"}));
    checkOk(f.store().move(id, QueueName::Incoming, QueueName::Deferred));
    checkOk(handle->updateRecipient(2, {RecipientState::Deferred, "4.4.1", 5, "timeout"}));
    handle.reset();
    auto reopened = openOk(f.store(), QueueName::Deferred, id);
    const auto& recipients = reopened->message().recipients;
    CHECK_TRUE(recipients[0].status.state == RecipientState::Delivered);
    STRCMP_EQUAL("250 ok", recipients[0].status.reason.c_str());
    CHECK_TRUE(recipients[1].status.state == RecipientState::Bounced);
    CHECK_TRUE(recipients[2].status.state == RecipientState::Deferred);  // via the moved file
}

QUEUE_STORE_TEST(BadUpdatesChangeNothing) {
    std::string id = storeMessage(f.store(), sampleContent(300));
    std::string before = *f.rawFile(QueueName::Incoming, id);
    auto reader = openOk(f.store(), QueueName::Incoming, id, Access::ReadOnly);
    checkFails(reader->updateRecipient(0, {RecipientState::Delivered, "2.0.0", 1, ""}),
               "read-only");
    checkFails(reader->updateSchedule({}), "read-only");
    auto writer = openOk(f.store(), QueueName::Incoming, id);
    checkFails(writer->updateRecipient(3, {}), "no recipient 3");
    checkFails(writer->updateRecipient(0, {RecipientState::Deferred, "4.4", 1, ""}),
               "malformed enhanced status code");
    checkFails(writer->updateSchedule({-1, 0, 0}), "negative");
    checkFails(writer->updateSchedule({0, 0, 0x80}), "unknown schedule flags");
    CHECK_TRUE(*f.rawFile(QueueName::Incoming, id) == before);
}

QUEUE_STORE_TEST(StaleTemporariesGoAfterTheGracePeriod) {
    auto live = f.store().createMessage(sampleEnvelope(), sampleRecipients());
    std::string stale = temporaryFileName(newQueueId());
    std::string fresh = temporaryFileName(newQueueId());
    std::string oldMessage = newQueueId();
    f.plantFile(QueueName::Incoming, stale, "interrupted", 7200);
    f.plantFile(QueueName::Incoming, fresh, "being written", 10);
    f.plantFile(QueueName::Deferred, oldMessage, "a message, not a temporary", 7200);
    auto removed = f.store().removeStaleTemporaries(std::chrono::seconds(3600));
    CHECK_TRUE(removed.ok());
    LONGS_EQUAL(1, removed.value());
    CHECK_FALSE(f.rawFile(QueueName::Incoming, stale).has_value());
    CHECK_TRUE(f.rawFile(QueueName::Incoming, fresh).has_value());
    CHECK_TRUE(f.rawFile(QueueName::Deferred, oldMessage).has_value());
    checkOk(live.value()->appendContent("Subject: x\r\n\r\nbody\r\n"));
    checkOk(live.value()->commit());
}

QUEUE_STORE_TEST(FreeBytesAreReported) {
    auto free = f.store().freeBytes();
    CHECK_TRUE(free.ok());
    CHECK_TRUE(free.value() > 0);
    checkOk(f.store().ensureLayout(kKeepOwner, kKeepGroup));  // idempotent
}

QUEUE_STORE_TEST(ABatchOfUpdatesIsAllOrNothing) {
    std::string id = storeMessage(f.store(), sampleContent(300));
    std::string before = *f.rawFile(QueueName::Incoming, id);
    auto handle = openOk(f.store(), QueueName::Incoming, id);
    // A refused change anywhere in the batch writes nothing of it.
    checkFails(handle->update({{{0, {RecipientState::Delivered, "2.0.0", 1, "250 ok"}},
                                {1, {RecipientState::Failed, "5.1.1", 2, "550 no"}},
                                {1, {RecipientState::Deferred, "4.0.0", 3, "x"}}},
                               std::nullopt}),
               "recipient 1 is failed, it cannot become deferred");
    checkFails(handle->update({{{0, {RecipientState::Delivered, "2.0.0", 1, "250 ok"}}},
                               Schedule{-1, 0, 0}}),
               "negative");
    CHECK_TRUE(*f.rawFile(QueueName::Incoming, id) == before);
    CHECK_TRUE(handle->message().recipients[0].status.state == RecipientState::Pending);

    checkOk(handle->update({{{0, {RecipientState::Delivered, "2.0.0", 1, "250 ok"}},
                             {1, {RecipientState::Failed, "5.1.1", 2, "550 no"}},
                             {1, {RecipientState::Bounced, "5.1.1", 2, "550 no"}},
                             {2, {RecipientState::Deferred, "4.4.1", 3, "timeout"}}},
                            Schedule{1700000300000000, 2, 0}}));
    CHECK_TRUE(handle->message().recipients[1].status.state == RecipientState::Bounced);
    handle.reset();
    auto reopened = openOk(f.store(), QueueName::Incoming, id);
    const QueueMessage& message = reopened->message();
    CHECK_TRUE(message.recipients[0].status.state == RecipientState::Delivered);
    CHECK_TRUE(message.recipients[1].status.state == RecipientState::Bounced);
    CHECK_TRUE(message.recipients[2].status.state == RecipientState::Deferred);
    STRCMP_EQUAL("timeout", message.recipients[2].status.reason.c_str());
    CHECK_EQUAL(2, message.schedule.attempts);
}
