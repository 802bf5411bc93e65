// queue_format_test.cpp: unit tests for the queue file format: lib/queue_format.h,
// lib/queue_reader.h and lib/queue_writer.h (round trip, truncation, corruption).
#include <random>
#include <string>
#include <vector>

#include "queue_format.h"
#include "queue_id.h"
#include "queue_memory_store.h"
#include "queue_reader.h"
#include "queue_test_support.h"
#include "tests/unit/queue_reencode.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::queue;
using namespace postern::queue::testing;

namespace {

struct RawRecord {
    uint8_t type;
    std::string payload;
};

// Splits a well-formed file into its records (the test's own view of the layout).
std::vector<RawRecord> splitRecords(const std::string& file) {
    std::vector<RawRecord> records;
    PayloadReader in(std::string_view(file).substr(kFileHeaderSize));
    while (in.remaining() > 0) {
        uint8_t type = in.u8();
        uint32_t length = in.u32();
        records.push_back({type, std::string(in.bytes(length))});
    }
    CHECK_FALSE(in.failed());
    return records;
}

// Builds a file from a header and records.
std::string joinRecords(const std::vector<RawRecord>& records) {
    std::string file = encodeFileHeader();
    for (const RawRecord& record : records)
        appendRecord(file, RecordType(record.type), record.payload);
    return file;
}

// The index of the first record of `type`.
size_t indexOf(const std::vector<RawRecord>& records, RecordType type) {
    for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].type == uint8_t(type)) return i;
    }
    FAIL("record type not found");
    return 0;
}

// Checks that `bytes` is refused with an error containing `expected`.
void checkRefused(const std::string& bytes, const std::string& expected) {
    auto parsed = parseQueueFile(bytes);
    CHECK_FALSE_TEXT(parsed.ok(), ("accepted, expected: " + expected).c_str());
    if (parsed.error().find(expected) == std::string::npos)
        FAIL(("\"" + parsed.error() + "\" does not contain \"" + expected + "\"").c_str());
}

// Parses `bytes`; true when refused, or when accepted and encoding the result gives
// exactly `bytes` back (no two files mean the same message).
bool refusedOrCanonical(const std::string& bytes) {
    auto parsed = parseQueueFile(bytes);
    if (!parsed) return true;
    const QueueMessage& message = parsed.value();
    if (message.fileSize != bytes.size()) return false;
    if (message.contentOffset + message.contentLength + kRecordHeaderSize != bytes.size())
        return false;
    std::string_view content = std::string_view(bytes).substr(message.contentOffset,
                                                              message.contentLength);
    return reencode(message, content) == bytes;
}

}  // namespace

TEST_GROUP(QueueFormat){};

TEST(QueueFormat, RoundTripKeepsEveryField) {
    std::string content = sampleContent(200000);  // more than one write buffer
    std::string bytes = sampleFileBytes(content);
    auto parsed = parseQueueFile(bytes);
    CHECK_TRUE_TEXT(parsed.ok(), parsed.ok() ? "" : parsed.error().c_str());
    const QueueMessage& message = parsed.value();
    Envelope expected = sampleEnvelope();
    CHECK_EQUAL(kFormatVersion, message.version);
    CHECK_EQUAL(expected.arrivalMicros, message.envelope.arrivalMicros);
    for (RecordType type : kStringRecordTypes)
        STRCMP_EQUAL(envelopeString(expected, type)->c_str(),
                     envelopeString(message.envelope, type)->c_str());
    CHECK_TRUE(message.envelope.ret == ReturnContent::Headers);
    CHECK_TRUE(message.envelope.body == BodyType::EightBitMime);
    CHECK_TRUE(message.envelope.smtputf8);
    CHECK_TRUE(message.envelope.client.protocol == ClientProtocol::Esmtps);
    auto recipients = sampleRecipients();
    LONGS_EQUAL(recipients.size(), message.recipients.size());
    for (size_t i = 0; i < recipients.size(); ++i) {
        const QueuedRecipient& got = message.recipients[i];
        STRCMP_EQUAL(recipients[i].address.c_str(), got.recipient.address.c_str());
        STRCMP_EQUAL(recipients[i].orcpt.c_str(), got.recipient.orcpt.c_str());
        LONGS_EQUAL(recipients[i].notify, got.recipient.notify);
        CHECK_TRUE(got.status.state == RecipientState::Pending);
        CHECK_EQUAL('P', bytes[got.slotOffset]);
    }
    LONGS_EQUAL(content.size(), message.contentLength);
    CHECK_TRUE(bytes.compare(message.contentOffset, message.contentLength, content) == 0);
    CHECK_EQUAL(0, message.schedule.attempts);
    CHECK_EQUAL(bytes.size(), message.fileSize);
    CHECK_TRUE(refusedOrCanonical(bytes));
}

TEST(QueueFormat, NullSenderAndEmptyContentRoundTrip) {
    MemoryQueueStore store;
    Envelope envelope;  // null sender, no client details, arrival from the ID
    auto writer = store.createMessage(envelope, {{"postmaster", "", 0}});
    CHECK_TRUE(writer.ok());
    CHECK_TRUE(writer.value()->commit().ok());
    std::string id = writer.value()->id();
    auto parsed = parseQueueFile(*store.fileBytes(QueueName::Incoming, id));
    CHECK_TRUE(parsed.ok());
    STRCMP_EQUAL("", parsed->envelope.sender.c_str());
    CHECK_EQUAL(*queueIdArrivalMicros(id), parsed->envelope.arrivalMicros);
    CHECK_EQUAL(0, parsed->contentLength);
    STRCMP_EQUAL("postmaster", parsed->recipients.at(0).recipient.address.c_str());
}

TEST(QueueFormat, EveryPrefixIsIncomplete) {
    std::string bytes = sampleFileBytes(sampleContent(300));
    CHECK_TRUE(parseQueueFile(bytes).ok());
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto parsed = parseQueueFile(std::string_view(bytes).substr(0, cut));
        CHECK_FALSE_TEXT(parsed.ok(), ("accepted at cut " + std::to_string(cut)).c_str());
        const std::string& why = parsed.error();
        bool saysWhy = why.find("truncated") != std::string::npos ||
                       why.find("beyond end of file") != std::string::npos;
        CHECK_TRUE_TEXT(saysWhy, (std::to_string(cut) + ": " + why).c_str());
    }
}

TEST(QueueFormat, BytesAfterTheEndRecordAreRefused) {
    std::string bytes = sampleFileBytes(sampleContent(300));
    checkRefused(bytes + "x", "1 bytes after the end record");
    std::string twoEnds = bytes;
    appendRecord(twoEnds, RecordType::End, {});
    checkRefused(twoEnds, "5 bytes after the end record");
}

TEST(QueueFormat, AFileCutBeforeTheSizesArePatchedIsRefused) {
    MemoryQueueStore store;
    auto writer = store.createMessage(sampleEnvelope(), sampleRecipients());
    CHECK_TRUE(writer.ok());
    std::string content = sampleContent(100000);
    CHECK_TRUE(writer.value()->appendContent(content).ok());
    // What a crash leaves: the temporary file as written so far (placeholders in place).
    std::string partial = *store.fileBytes(QueueName::Incoming,
                                           temporaryFileName(writer.value()->id()));
    CHECK_TRUE(partial.size() > 65536);
    checkRefused(partial, "beyond end of file");
    // Even with the rest of the content and an end record glued on, the sizes do not fit.
    size_t contentWritten = partial.size() - partial.find("Subject: test");
    std::string glued = partial + content.substr(contentWritten);
    appendRecord(glued, RecordType::End, {});
    CHECK_FALSE(parseQueueFile(glued).ok());
}

TEST(QueueFormat, TheReasonForARefusalNamesTheRecord) {
    std::string bytes = sampleFileBytes(sampleContent(300));
    auto records = splitRecords(bytes);
    checkRefused("XOSTERNQ" + bytes.substr(8), "not a queue file (bad magic)");
    std::string version2 = bytes;
    version2[11] = 2;
    checkRefused(version2, "unsupported queue file version 2");
    checkRefused(bytes.substr(0, 5), "truncated: 5 bytes, shorter than the header");

    std::string unknownType = bytes;
    unknownType[kFileHeaderSize] = 0x51;
    checkRefused(unknownType, "record 1 at offset 12: unknown record type 0x51");

    size_t content = indexOf(records, RecordType::Content);
    auto parsed = parseQueueFile(bytes);
    std::string huge = bytes;
    for (size_t i = 1; i <= 4; ++i) huge[parsed->contentOffset - i] = char(0xFF);
    checkRefused(huge, "record " + std::to_string(content + 1) + " (content) at offset " +
                           std::to_string(parsed->contentOffset - kRecordHeaderSize) +
                           ": length 4294967295 beyond end of file");
}

TEST(QueueFormat, RecordsOutOfOrderOrMissingAreRefused) {
    auto records = splitRecords(sampleFileBytes(sampleContent(300)));
    size_t sender = indexOf(records, RecordType::Sender);
    size_t content = indexOf(records, RecordType::Content);
    size_t firstRecipient = indexOf(records, RecordType::Recipient);

    auto without = [&](size_t index) {
        auto copy = records;
        copy.erase(copy.begin() + long(index));
        return joinRecords(copy);
    };
    checkRefused(without(records.size() - 1), "truncated: no end record");
    checkRefused(without(0), "the schedule must come first");
    checkRefused(without(indexOf(records, RecordType::Envid)), "envelope records missing");
    checkRefused(without(content), "expected a recipient or the content");

    auto duplicated = records;
    duplicated.insert(duplicated.begin() + long(sender), records[sender]);
    checkRefused(joinRecords(duplicated), "(sender) at offset");
    checkRefused(joinRecords(duplicated), "duplicate record");

    auto noRecipients = records;
    noRecipients.erase(noRecipients.begin() + long(firstRecipient),
                       noRecipients.begin() + long(content));
    checkRefused(joinRecords(noRecipients), "expected an envelope record or a recipient");

    auto late = records;
    late.insert(late.end() - 1, records[firstRecipient]);
    checkRefused(joinRecords(late), "expected the end record after the content");

    // The envelope records may come in any order.
    auto swapped = records;
    std::swap(swapped[sender], swapped[sender + 1]);
    CHECK_TRUE(parseQueueFile(joinRecords(swapped)).ok());
}

TEST(QueueFormat, BadFieldValuesAreRefused) {
    auto records = splitRecords(sampleFileBytes(sampleContent(300)));
    auto with = [&](RecordType type, auto change) {
        auto copy = records;
        change(copy[indexOf(copy, type)].payload);
        return joinRecords(copy);
    };
    checkRefused(with(RecordType::Sender, [](std::string& p) { p += "\r\nRCPT TO:<x>"; }),
                 "sender contains a control character");
    checkRefused(with(RecordType::Recipient, [](std::string& p) { p[kStatusSlotSize] = 9; }),
                 "invalid NOTIFY flags 9");
    checkRefused(with(RecordType::Recipient, [](std::string& p) { p[0] = 'X'; }),
                 "unknown recipient state 88");
    checkRefused(with(RecordType::Recipient, [](std::string& p) { p += "x"; }),
                 "recipient lengths do not add up");
    checkRefused(with(RecordType::EnvelopeScalars, [](std::string& p) { p[17] = 4; }),
                 "unknown BODY value");
    checkRefused(with(RecordType::Schedule, [](std::string& p) { p[15] = 2; }),
                 "unknown schedule flags");
    checkRefused(with(RecordType::End, [](std::string& p) { p = "x"; }), "length 1 too large");
    checkRefused(with(RecordType::Sender, [](std::string& p) { p.assign(4097, 'a'); }),
                 "length 4097 too large");
}

TEST(QueueFormat, SingleByteFlipsAreRefusedOrParsedConsistently) {
    std::string bytes = sampleFileBytes(sampleContent(120));
    size_t accepted = 0, refused = 0;
    for (size_t at = 0; at < bytes.size(); ++at) {
        for (uint8_t mask : {0x01, 0x02, 0x20, 0x80, 0xFF}) {
            std::string flipped = bytes;
            flipped[at] = char(flipped[at] ^ mask);
            CHECK_TRUE_TEXT(refusedOrCanonical(flipped), ("flip at " + std::to_string(at)).c_str());
            (parseQueueFile(flipped).ok() ? accepted : refused)++;
        }
    }
    // Both outcomes occur: content and times may change, structure may not.
    CHECK_TRUE(accepted > 100);
    CHECK_TRUE(refused > 1000);
}

TEST(QueueFormat, RandomDamageNeverCrashes) {
    std::string bytes = sampleFileBytes(sampleContent(500));
    std::mt19937 random(20240601);
    for (int round = 0; round < 3000; ++round) {
        std::string damaged = bytes;
        int changes = 1 + int(random() % 8);
        for (int i = 0; i < changes; ++i) damaged[random() % damaged.size()] = char(random());
        if (round % 3 == 0) damaged.resize(random() % (damaged.size() + 64), char(random()));
        CHECK_TRUE(refusedOrCanonical(damaged));
    }
    // Garbage behind a valid header.
    for (int round = 0; round < 1000; ++round) {
        std::string garbage = encodeFileHeader();
        size_t length = random() % 600;
        for (size_t i = 0; i < length; ++i) garbage.push_back(char(random()));
        CHECK_TRUE(refusedOrCanonical(garbage));
    }
}

TEST(QueueFormat, LongReasonsAreCutVisiblyAndNeverMidCharacter) {
    std::string fits(kReasonCapacity, 'a');
    STRCMP_EQUAL(fits.c_str(), truncateReason(fits).c_str());
    std::string cut = truncateReason(fits + "b");
    LONGS_EQUAL(kReasonCapacity, cut.size());
    CHECK_TRUE(cut.ends_with(kTruncationMarker));
    // A two-byte character straddling the cut is dropped whole.
    size_t keep = kReasonCapacity - kTruncationMarker.size();
    std::string accented = std::string(keep - 1, 'a') + "\xC3\xA9" + std::string(50, 'z');
    std::string cutAccented = truncateReason(accented);
    STRCMP_EQUAL((std::string(keep - 1, 'a') + std::string(kTruncationMarker)).c_str(),
                 cutAccented.c_str());
}

TEST(QueueFormat, StatusSlotsRoundTripAndRefuseBadCodes) {
    RecipientStatus status{RecipientState::Deferred, "4.4.1", 1700000000000000,
                           "connect to mx.example.com[192.0.2.1]:25: Connection refused"};
    std::string slot = encodeStatusSlot(status);
    LONGS_EQUAL(kStatusSlotSize, slot.size());
    auto decoded = decodeStatusSlot(slot);
    CHECK_TRUE(decoded.ok());
    CHECK_TRUE(decoded->state == RecipientState::Deferred);
    STRCMP_EQUAL("4.4.1", decoded->dsnCode.c_str());
    CHECK_EQUAL(status.lastAttemptMicros, decoded->lastAttemptMicros);
    STRCMP_EQUAL(status.reason.c_str(), decoded->reason.c_str());
    for (const char* bad : {"4.4", "3.1.1", "4.1234.1", "4..1", "4.4.1 "}) {
        status.dsnCode = bad;
        CHECK_FALSE_TEXT(validateStatus(status).ok(), bad);
    }
    status.dsnCode = "5.123.456";
    CHECK_TRUE(validateStatus(status).ok());
}

TEST(QueueFormat, TheWriterRefusesWhatTheReaderWouldRefuse) {
    MemoryQueueStore store;
    Envelope envelope = sampleEnvelope();
    CHECK_FALSE(store.createMessage(envelope, {}).ok());
    CHECK_FALSE(store.createMessage(envelope, {{"", "", 0}}).ok());
    CHECK_FALSE(store.createMessage(envelope, {{"a@b", "", kNotifyNever | kNotifyDelay}}).ok());
    envelope.client.heloName = "evil\nname";
    auto refused = store.createMessage(envelope, sampleRecipients());
    CHECK_FALSE(refused.ok());
    STRCMP_EQUAL("helo name contains a control character", refused.error().c_str());
    // No temporary file is left behind by a refused message.
    std::vector<std::string> none;
    CHECK_TRUE(store.list(QueueName::Incoming).value() == none);
    CHECK_EQUAL(0, store.removeStaleTemporaries(std::chrono::seconds(-1)).value());
}
