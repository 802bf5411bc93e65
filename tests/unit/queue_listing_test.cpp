// queue_listing_test.cpp: the queue listing against a known queue: Postfix's mailq layout
// checked line by line (columns written out from showq_compat's long-ID formats, not from
// our formatter), the postqueue -j objects, and the filters.
#include "cli/queue_listing.h"

#include "cli_test_support.h"
#include "cli/json_text.h"
#include "queue_memory_store.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::cli;
using namespace postern::cli::testing;
using postern::queue::QueueName;
using postern::queue::RecipientState;
using postern::queue::RecipientStatus;

namespace {

const std::string kRefused = "connect to mx.example.net[192.0.2.1]:25: Connection refused";
const std::string kLongReason =
    "host mx.example.com[192.0.2.9] said: 452 4.2.2 Mailbox full, try again later (in reply to "
    "RCPT TO command)";

RecipientStatus deferred(const std::string& reason) {
    return {RecipientState::Deferred, "4.4.1", 1754000100000000, reason};
}

queue::Envelope envelopeFrom(const std::string& sender, int n) {
    queue::Envelope envelope;
    envelope.sender = sender;
    envelope.arrivalMicros = (int64_t(1754000000) + n) * 1000000 + 250000;
    envelope.client = {"localhost", "127.0.0.1", "localhost", queue::ClientProtocol::Esmtp, ""};
    return envelope;
}

// Three messages: active (2000 bytes), deferred from the null sender with mixed recipient
// states (500 bytes), on hold with a long reason (1000 bytes).
void plantKnownQueue(queue::QueueStore& store) {
    PlantedMessage active;
    active.id = testQueueId(1);
    active.queue = QueueName::Active;
    active.envelope = envelopeFrom("alice@example.org", 1);
    active.recipients = {{"bob@example.com", "", 0}};
    active.content = std::string(2000, 'a');
    plantMessage(store, active);

    PlantedMessage bounce;
    bounce.id = testQueueId(2);
    bounce.queue = QueueName::Deferred;
    bounce.envelope = envelopeFrom("", 2);
    bounce.recipients = {{"r1@example.net", "rfc822;orig+2B1@example.net", 0},
                         {"r2@example.net", "", 0},
                         {"done@example.net", "", 0},
                         {"r4@Sub.Example.NET", "", 0}};
    bounce.statuses = {deferred(kRefused), deferred(kRefused),
                       {RecipientState::Delivered, "2.0.0", 1754000100000000, "250 ok"},
                       {}};
    bounce.content = std::string(500, 'b');
    plantMessage(store, bounce);

    PlantedMessage held;
    held.id = testQueueId(3);
    held.queue = QueueName::Hold;
    held.envelope = envelopeFrom("\"odd user\"@example.org", 3);
    held.recipients = {{"full@example.com", "", 0}};
    held.statuses = {deferred(kLongReason)};
    held.content = std::string(1000, 'c');
    plantMessage(store, held);
}

std::string listAsMailq(queue::QueueStore& store, const ListFilter& filter = {}) {
    MailqFormatter formatter;
    std::string text;
    auto listed = forEachListedMessage(
        store, filter, [&](const ListedMessage& message) { text += formatter.message(message); },
        [](const std::string& warning) { FAIL(warning.c_str()); });
    CHECK_TRUE(listed.ok());
    return text + formatter.finish();
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
        out.push_back(text.substr(start, end - start));
    if (start != text.size()) out.push_back(text.substr(start) + "<no newline>");
    return out;
}

// Postfix's "%-17s %8s %-19s %s" with only the address: 47 spaces, then the address.
std::string recipientLine(const std::string& address) { return std::string(47, ' ') + address; }

std::string reasonLine(const std::string& reason) {
    size_t padding = reason.size() < 76 ? 76 - reason.size() : 0;
    return std::string(padding, ' ') + "(" + reason + ")";
}

}  // namespace

TEST_GROUP(QueueListing) {
    UtcZone* zone = nullptr;
    void setup() override { zone = new UtcZone; }
    void teardown() override { delete zone; }
};

TEST(QueueListing, MailqTextMatchesPostfixLayoutLineByLine) {
    queue::MemoryQueueStore store;
    plantKnownQueue(store);
    std::vector<std::string> expected = {
        "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------",
        testQueueId(1) + "*     2000 Thu Jul 31 22:13:21 alice@example.org",
        recipientLine("bob@example.com"),
        "",
        testQueueId(2) + "      500 Thu Jul 31 22:13:22 MAILER-DAEMON",
        reasonLine(kRefused),
        recipientLine("r1@example.net"),
        recipientLine("r2@example.net"),
        reasonLine("reason unavailable"),
        recipientLine("r4@Sub.Example.NET"),
        "",
        testQueueId(3) + "!     1000 Thu Jul 31 22:13:23 \"odd user\"@example.org",
        "(" + kLongReason + ")",
        recipientLine("full@example.com"),
        "",
        "-- 3 Kbytes in 3 Requests.",
    };
    std::vector<std::string> actual = lines(listAsMailq(store));
    CHECK_EQUAL(expected.size(), actual.size());
    for (size_t i = 0; i < expected.size() && i < actual.size(); ++i)
        STRCMP_EQUAL(expected[i].c_str(), actual[i].c_str());
}

TEST(QueueListing, EmptyQueueAndSingleRequest) {
    queue::MemoryQueueStore store;
    STRCMP_EQUAL("Mail queue is empty\n", listAsMailq(store).c_str());
    plantKnownQueue(store);
    ListFilter onlyHold;
    onlyHold.queues = {QueueName::Hold};
    std::vector<std::string> held = lines(listAsMailq(store, onlyHold));
    CHECK_EQUAL(6u, held.size());
    STRCMP_EQUAL("-- 0 Kbytes in 1 Request.", held.back().c_str());
}

TEST(QueueListing, FiltersBySenderAndRecipientDomain) {
    queue::MemoryQueueStore store;
    plantKnownQueue(store);
    auto idsFor = [&](const ListFilter& filter) {
        std::string ids;
        auto listed = forEachListedMessage(
            store, filter, [&](const ListedMessage& message) { ids += message.id + " "; },
            [](const std::string&) {});
        CHECK_TRUE(listed.ok());
        return ids;
    };
    ListFilter nullSender;
    nullSender.sender = "MAILER-DAEMON";
    STRCMP_EQUAL((testQueueId(2) + " ").c_str(), idsFor(nullSender).c_str());
    nullSender.sender = "<>";
    STRCMP_EQUAL((testQueueId(2) + " ").c_str(), idsFor(nullSender).c_str());
    ListFilter alice;
    alice.sender = "ALICE@example.org";
    STRCMP_EQUAL((testQueueId(1) + " ").c_str(), idsFor(alice).c_str());

    ListFilter domain;
    domain.recipientDomain = "EXAMPLE.com";
    STRCMP_EQUAL((testQueueId(1) + " " + testQueueId(3) + " ").c_str(), idsFor(domain).c_str());
    domain.recipientDomain = ".example.net";  // below example.net: only r4's sub.example.net
    STRCMP_EQUAL((testQueueId(2) + " ").c_str(), idsFor(domain).c_str());
    domain.recipientDomain = "done.example";  // no pending recipient there
    STRCMP_EQUAL("", idsFor(domain).c_str());
}

TEST(QueueListing, JsonLineHasPostqueueFields) {
    queue::MemoryQueueStore store;
    plantKnownQueue(store);
    ListFilter deferredOnly;
    deferredOnly.queues = {QueueName::Deferred};
    std::string json;
    auto listed = forEachListedMessage(
        store, deferredOnly, [&](const ListedMessage& message) { json += formatJsonLine(message); },
        [](const std::string&) {});
    CHECK_TRUE(listed.ok());
    std::string expected =
        "{\"queue_name\": \"deferred\", \"queue_id\": \"" + testQueueId(2) +
        "\", \"arrival_time\": 1754000002, \"message_size\": 500, \"forced_expire\": false, "
        "\"sender\": \"MAILER-DAEMON\", \"recipients\": ["
        "{\"address\": \"r1@example.net\", \"orig_address\": \"orig+1@example.net\", "
        "\"delay_reason\": \"" + kRefused + "\"}, "
        "{\"address\": \"r2@example.net\", \"delay_reason\": \"" + kRefused + "\"}, "
        "{\"address\": \"r4@Sub.Example.NET\"}]}\n";
    STRCMP_EQUAL(expected.c_str(), json.c_str());
}

TEST(QueueListing, JsonQuoteEscapesWhatJsonForbids) {
    STRCMP_EQUAL("\"a\\\"b\\\\c\"", jsonQuote("a\"b\\c").c_str());
    // Controls and invalid UTF-8 become escape text, so the output is always valid JSON.
    STRCMP_EQUAL("\"x\\\\r\\\\n\\\\x01\\\\xFF\"", jsonQuote("x\r\n\x01\xff").c_str());
    STRCMP_EQUAL("\"Grüße\"", jsonQuote("Grüße").c_str());
}

TEST(QueueListing, UnreadableMessageIsReportedAndSkipped) {
    queue::MemoryQueueStore store;
    plantKnownQueue(store);
    store.putFile(QueueName::Deferred, testQueueId(4), "POSTERNQ garbage");
    std::vector<std::string> warnings;
    int count = 0;
    auto listed = forEachListedMessage(
        store, {}, [&](const ListedMessage&) { ++count; },
        [&](const std::string& warning) { warnings.push_back(warning); });
    CHECK_TRUE(listed.ok());
    CHECK_EQUAL(3, count);
    CHECK_EQUAL(1u, warnings.size());
    CHECK_TRUE(warnings[0].starts_with(testQueueId(4) + ": "));
}
