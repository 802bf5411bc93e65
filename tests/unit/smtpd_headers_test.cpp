// smtpd_headers_test.cpp: unit tests for smtpd/message_headers.h: the Received:, Date: and
// Message-ID: lines, and the header scanner fed whole and split at every byte.
#include <string>
#include <vector>

#include "smtpd/message_headers.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;

namespace {

// Feeds `content` to a scanner in pieces of `piece` bytes; returns the stream offset where
// the header ended (feed or finish).
uint64_t scanInPieces(HeaderScanner& scanner, const std::string& content, size_t piece) {
    std::optional<uint64_t> end;
    for (size_t at = 0; at < content.size(); at += piece) {
        std::string_view part = std::string_view(content).substr(at, piece);
        if (auto found = scanner.feed(part)) end = at + *found;
    }
    if (auto finished = scanner.finish()) end = finished->offset;
    return end.value_or(UINT64_MAX);
}

}  // namespace

TEST_GROUP(SmtpdHeaders){};

TEST(SmtpdHeaders, ReceivedForARemoteClientWithTls) {
    ReceivedInfo info;
    info.myhostname = "mx.example";
    info.queueId = "0123456789ABCDEFG";
    info.when = 0;
    info.heloName = "client.example";
    info.clientHost = "unknown";
    info.clientAddress = "192.0.2.1";
    info.protocol = "ESMTPS";
    info.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)";
    info.recipient = "a@b.example";
    std::string header = receivedHeader(info);
    std::string expectedStart =
        "Received: from client.example (unknown [192.0.2.1])\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        "\tby mx.example (postern) with ESMTPS id 0123456789ABCDEFG\r\n"
        "\tfor <a@b.example>; ";
    STRCMP_EQUAL(expectedStart.c_str(), header.substr(0, expectedStart.size()).c_str());
    STRCMP_EQUAL((rfc5322Date(0) + "\r\n").c_str(), header.substr(expectedStart.size()).c_str());
}

TEST(SmtpdHeaders, ReceivedWithoutHeloTlsOrSingleRecipient) {
    ReceivedInfo info;
    info.myhostname = "mx.example";
    info.queueId = "ID";
    info.clientHost = "unknown";
    info.clientAddress = "2001:db8::1";
    info.protocol = "SMTP";
    std::string header = receivedHeader(info);
    CHECK_TRUE(
        header.starts_with("Received: from unknown [IPv6:2001:db8::1]\r\n\tby mx.example "
                           "(postern) with SMTP id ID; "));
}

TEST(SmtpdHeaders, ReceivedForALocalSubmission) {
    ReceivedInfo info;
    info.myhostname = "mx.example";
    info.queueId = "ID";
    info.local = true;
    info.uid = 1000;
    std::string header = receivedHeader(info);
    CHECK_TRUE(
        header.starts_with("Received: by mx.example (postern, from userid 1000)\r\n\tid ID; "));
}

TEST(SmtpdHeaders, DateIsRfc5322) {
    setenv("TZ", "UTC", 1);
    tzset();
    STRCMP_EQUAL("Thu, 1 Jan 1970 00:00:00 +0000 (UTC)", rfc5322Date(0).c_str());
    STRCMP_EQUAL("Sun, 9 Sep 2001 01:46:40 +0000 (UTC)", rfc5322Date(1000000000).c_str());
    unsetenv("TZ");
    tzset();
}

TEST(SmtpdHeaders, MessageIdHasPostfixForm) {
    STRCMP_EQUAL("Message-ID: <20010909014640.QID@mx.example>\r\n",
                 messageIdHeader(1000000000, "QID", "mx.example").c_str());
}

TEST(SmtpdHeaders, ScannerFindsEverythingWhateverTheSplit) {
    const std::string content =
        "Received: from a\r\n\tby b; x\r\n"
        "received: from c\r\n"
        "Message-ID:\r\n  <id@example>  \r\n"
        "DATE: today\r\n"
        "Subject : hello\r\n"
        "\r\n"
        "Received: in the body, not counted\r\n";
    const uint64_t headerEnd = content.find("\r\n\r\n") + 2;
    for (size_t piece = 1; piece <= content.size(); ++piece) {
        HeaderScanner scanner;
        LONGS_EQUAL(headerEnd, scanInPieces(scanner, content, piece));
        LONGS_EQUAL(2, scanner.receivedCount());
        CHECK_TRUE(scanner.sawDate());
        CHECK_TRUE(scanner.sawMessageId());
        STRCMP_EQUAL("<id@example>", scanner.messageId().c_str());
        CHECK_TRUE(scanner.headerEnd().blankSeparator);
    }
}

TEST(SmtpdHeaders, ScannerEndsHeaderAtABodyLine) {
    HeaderScanner scanner;
    const std::string content = "Subject: x\r\nthis is no header\r\nmore\r\n";
    LONGS_EQUAL(12, scanInPieces(scanner, content, 5));
    CHECK_FALSE(scanner.headerEnd().blankSeparator);
    CHECK_FALSE(scanner.sawDate());
    CHECK_FALSE(scanner.sawMessageId());
}

TEST(SmtpdHeaders, ScannerWithoutAnyHeader) {
    HeaderScanner scanner;
    LONGS_EQUAL(0, scanInPieces(scanner, "hello world\r\n", 3));
}

TEST(SmtpdHeaders, ScannerHeaderRunningToTheEnd) {
    HeaderScanner scanner;
    const std::string content = "Subject: x\r\nFrom: y";
    LONGS_EQUAL(content.size(), scanInPieces(scanner, content, 4));
    CHECK_FALSE(scanner.headerEnd().blankSeparator);
}

TEST(SmtpdHeaders, ScannerKeepsBoundedState) {
    HeaderScanner scanner;
    std::string huge = "Message-ID: <" + std::string(100000, 'x') + ">\r\n\r\n";
    scanInPieces(scanner, huge, 4096);
    CHECK_TRUE(scanner.messageId().size() <= HeaderScanner::kMaxValue);
    CHECK_TRUE(scanner.headerEnded());
}

TEST(SmtpdHeaders, ProtocolNames) {
    STRCMP_EQUAL("SMTP", protocolName(false, false, false).c_str());
    STRCMP_EQUAL("ESMTP", protocolName(true, false, false).c_str());
    STRCMP_EQUAL("ESMTPS", protocolName(true, true, false).c_str());
    STRCMP_EQUAL("UTF8SMTPS", protocolName(true, true, true).c_str());
    CHECK(clientProtocol(true, true) == queue::ClientProtocol::Esmtps);
    CHECK(clientProtocol(false, false) == queue::ClientProtocol::Smtp);
}
