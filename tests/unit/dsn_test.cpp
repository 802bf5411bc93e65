// dsn_test.cpp: unit tests for lib/dsn.h: a complete failure notice compared with a golden
// file (tests/unit/golden/dsn_failure.eml; POSTERN_UPDATE_GOLDEN=1 rewrites it), escaping
// of hostile replies and addresses, the MIME boundary, the returned part, BODY= choice.
#include "dsn.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

namespace {

constexpr int64_t kArrival = 1700000000000000;  // Tue, 14 Nov 2023 22:13:20 +0000

dsn::Report sampleReport() {
    dsn::Report report;
    report.kind = dsn::Kind::Failure;
    report.reportingMta = "mx1.example.com";
    report.dsnQueueId = "4ZXbc012340001abc";
    report.queueId = "4ZXba987650001xyz";
    report.sender = "alice@example.org";
    report.envid = "QQ314159";
    report.arrivalMicros = kArrival;
    report.nowMicros = kArrival + 90 * 1000000;
    dsn::RecipientReport bob;
    bob.address = "bob@example.net";
    bob.orcpt = "rfc822;bob@old.example.net";
    bob.status = "5.1.1";
    bob.remoteMta = "mx.example.net";
    bob.diagnostic = "550 5.1.1 <bob@example.net>: no such user";
    bob.lastAttemptMicros = kArrival + 60 * 1000000;
    dsn::RecipientReport carol;
    carol.address = "carol@example.com";
    carol.status = "5.4.4";
    carol.diagnostic = "Host or domain name not found";
    report.recipients = {bob, carol};
    report.original = "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n";
    return report;
}

std::string goldenPath(const char* name) {
    std::string source = __FILE__;
    return source.substr(0, source.rfind('/') + 1) + "golden/" + name;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> result;
    size_t start = 0;
    for (size_t end; (end = text.find("\r\n", start)) != std::string::npos; start = end + 2)
        result.push_back(text.substr(start, end - start));
    if (start < text.size()) result.push_back(text.substr(start));
    return result;
}

bool hasLineStarting(const std::string& text, const std::string& prefix) {
    for (const auto& line : lines(text)) {
        if (line.starts_with(prefix)) return true;
    }
    return false;
}

}  // namespace

TEST_GROUP(Dsn){};

TEST(Dsn, FailureNoticeMatchesTheGoldenFile) {
    std::string built = dsn::build(sampleReport()).content;
    std::string path = goldenPath("dsn_failure.eml");
    if (const char* update = std::getenv("POSTERN_UPDATE_GOLDEN"); update && *update == '1') {
        std::ofstream(path, std::ios::binary) << built;
    }
    std::string golden = readFile(path);
    CHECK_FALSE_TEXT(golden.empty(), ("missing golden file " + path).c_str());
    STRCMP_EQUAL(golden.c_str(), built.c_str());
}

TEST(Dsn, EveryLineEndsInCrlfAndFitsTheLineLimit) {
    dsn::Report report = sampleReport();
    report.recipients[0].diagnostic = std::string(5000, 'x');
    std::string built = dsn::build(report).content;
    CHECK_TRUE(built.ends_with("\r\n"));
    for (size_t at = 0; (at = built.find('\n', at)) != std::string::npos; ++at)
        CHECK_TRUE(at > 0 && built[at - 1] == '\r');
    for (const auto& line : lines(built)) CHECK_TRUE(line.size() <= 998);
}

TEST(Dsn, HostileRepliesAndAddressesCannotAddLines) {
    dsn::Report report = sampleReport();
    report.recipients[0].diagnostic = "550 no\r\nX-Injected: yes\r\n\r\n--boundary";
    report.recipients[0].remoteMta = "evil\r\nX-Injected-Host: 1";
    report.recipients[1].address = "carol@example.com\r\nX-Injected-Rcpt: 1";
    report.recipients[1].orcpt = "rfc822;x\nX-Injected-Orcpt: 1";
    report.envid = "id\rX-Injected-Envid: 1";
    report.sender = "alice@example.org\r\nBcc: victim@example.com";
    std::string built = dsn::build(report).content;
    for (const char* injected : {"X-Injected", "Bcc:", "--boundary"})
        CHECK_FALSE_TEXT(hasLineStarting(built, injected), injected);
    CHECK_TRUE(built.find("550 no\\r\\nX-Injected: yes") != std::string::npos);
    CHECK_TRUE(built.find('\n') == built.find("\r\n") + 1);
    for (size_t at = 0; (at = built.find_first_of("\r\n", at)) != std::string::npos; at += 2)
        CHECK_TRUE(built.compare(at, 2, "\r\n") == 0);
}

TEST(Dsn, BoundaryNeverOccursInTheOriginal) {
    dsn::Report report = sampleReport();
    std::string first = dsn::build(report).content;
    size_t start = first.find("boundary=\"") + 10;
    std::string boundary = first.substr(start, first.find('"', start) - start);
    report.original += "Comment: --" + boundary + "\r\n";
    std::string second = dsn::build(report).content;
    start = second.find("boundary=\"") + 10;
    std::string other = second.substr(start, second.find('"', start) - start);
    CHECK_TRUE(other != boundary);
    CHECK_TRUE(report.original.find("--" + other) == std::string::npos);
    CHECK_TRUE(other.size() <= 70);
}

TEST(Dsn, EightBitOriginalMakesAnEightBitNotice) {
    dsn::Report report = sampleReport();
    CHECK_TRUE(dsn::build(report).bodyType == queue::BodyType::SevenBit);
    report.original = "Subject: gr\xC3\xBC\xC3\x9F\r\n";
    dsn::Notice notice = dsn::build(report);
    CHECK_TRUE(notice.bodyType == queue::BodyType::EightBitMime);
    CHECK_TRUE(hasLineStarting(notice.content, "Content-Transfer-Encoding: 8bit"));
    report.originalBinary = true;
    report.returnFull = true;
    notice = dsn::build(report);
    CHECK_TRUE(notice.bodyType == queue::BodyType::BinaryMime);
    CHECK_TRUE(hasLineStarting(notice.content, "Content-Type: message/rfc822"));
    CHECK_TRUE(hasLineStarting(notice.content, "Content-Transfer-Encoding: binary"));
}

TEST(Dsn, Utf8AddressesUseTheUtf8AddressType) {
    dsn::Report report = sampleReport();
    report.recipients[0].address = "j\xC3\xB6rg@example.net";
    report.recipients[0].orcpt = "utf-8;j\xC3\xB6rg@example.net";
    std::string built = dsn::build(report).content;
    CHECK_TRUE(hasLineStarting(built, "Final-Recipient: utf-8; j\\x{F6}rg@example.net"));
    CHECK_TRUE(hasLineStarting(built, "Original-Recipient: utf-8; j\\x{F6}rg@example.net"));
}

TEST(Dsn, MissingOrMalformedStatusGetsTheActionsDefault) {
    dsn::Report report = sampleReport();
    report.recipients[0].status = "";
    report.recipients[1].status = "5.1";
    std::string built = dsn::build(report).content;
    CHECK_FALSE(hasLineStarting(built, "Status: 5.1\r"));
    size_t first = built.find("Status: 5.0.0");
    CHECK_TRUE(first != std::string::npos);
    CHECK_TRUE(built.find("Status: 5.0.0", first + 1) != std::string::npos);
    report.kind = dsn::Kind::Delay;
    for (auto& recipient : report.recipients) recipient.action = dsn::Action::Delayed;
    CHECK_TRUE(dsn::build(report).content.find("Status: 4.0.0") != std::string::npos);
}

TEST(Dsn, DelayNoticeSaysWhenItStopsTrying) {
    dsn::Report report = sampleReport();
    report.kind = dsn::Kind::Delay;
    report.nowMicros = kArrival + 4 * 3600 * int64_t(1000000);
    for (auto& recipient : report.recipients) {
        recipient.action = dsn::Action::Delayed;
        recipient.status = "4.4.1";
        recipient.willRetryUntilMicros = kArrival + 5 * 86400 * int64_t(1000000);
    }
    std::string built = dsn::build(report).content;
    CHECK_TRUE(hasLineStarting(built, "Subject: Delayed Mail (still being retried)"));
    CHECK_TRUE(hasLineStarting(built, "Action: delayed"));
    CHECK_TRUE(hasLineStarting(built, "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000"));
    CHECK_TRUE(built.find("after\r\n4 hours.") != std::string::npos);
    CHECK_TRUE(hasLineStarting(built, "Content-Type: text/rfc822-headers"));
}

TEST(Dsn, SuccessNoticeReportsRelayed) {
    dsn::Report report = sampleReport();
    report.kind = dsn::Kind::Success;
    report.recipients.resize(1);
    report.recipients[0].action = dsn::Action::Relayed;
    report.recipients[0].status = "2.0.0";
    report.recipients[0].diagnostic = "250 2.0.0 Ok: queued as 123";
    std::string built = dsn::build(report).content;
    CHECK_TRUE(hasLineStarting(built, "Subject: Successful Mail Delivery Report"));
    CHECK_TRUE(hasLineStarting(built, "Action: relayed"));
    CHECK_TRUE(hasLineStarting(built, "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as 123"));
    CHECK_TRUE(hasLineStarting(built, "<bob@example.net>: handed over to host mx.example.net"));
}

TEST(Dsn, ReturnedPartIsTheHeaderOrTheWholeMessageCutAtALine) {
    std::string content = "Subject: a\r\nFrom: b\r\n\r\nbody line 1\r\nbody line 2\r\n";
    LONGS_EQUAL(21, dsn::headerSectionLength(content));
    LONGS_EQUAL(0, dsn::headerSectionLength("\r\nbody\r\n"));
    LONGS_EQUAL(12, dsn::headerSectionLength("Subject: a\r\n"));

    dsn::Returned headers = dsn::returnedPart(content, false, 1000);
    STRCMP_EQUAL("Subject: a\r\nFrom: b\r\n", headers.bytes.c_str());
    CHECK_FALSE(headers.truncated);
    dsn::Returned full = dsn::returnedPart(content, true, 1000);
    STRCMP_EQUAL(content.c_str(), full.bytes.c_str());
    dsn::Returned cut = dsn::returnedPart(content, true, 40);
    STRCMP_EQUAL("Subject: a\r\nFrom: b\r\n\r\nbody line 1\r\n", cut.bytes.c_str());
    CHECK_TRUE(cut.truncated);
    dsn::Returned tiny = dsn::returnedPart(content, false, 5);
    STRCMP_EQUAL("", tiny.bytes.c_str());
    CHECK_TRUE(tiny.truncated);
}

TEST(Dsn, DiagnosticTypeFollowsTheReplyShape) {
    dsn::Report report = sampleReport();
    std::string built = dsn::build(report).content;
    CHECK_TRUE(hasLineStarting(built, "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>"));
    CHECK_TRUE(hasLineStarting(built, "Diagnostic-Code: X-Postern; Host or domain name not found"));
}

TEST(Dsn, DatesAndRelayHosts) {
    STRCMP_EQUAL("Tue, 14 Nov 2023 22:13:20 +0000", dsn::rfc5322Date(kArrival).c_str());
    STRCMP_EQUAL("Thu, 1 Jan 1970 00:00:00 +0000", dsn::rfc5322Date(0).c_str());
    STRCMP_EQUAL("mx.example.com", dsn::relayHost("mx.example.com[192.0.2.1]:25").c_str());
    STRCMP_EQUAL("", dsn::relayHost("none").c_str());
    STRCMP_EQUAL("", dsn::relayHost("").c_str());
}
