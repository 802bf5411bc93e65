// smtp_client_report_test.cpp: unit tests for smtp/report (Postfix's delay format and the
// recipient log line) and smtp/verdict (reply classes, codes and Postfix's reason texts).
#include "smtp/report.h"
#include "smtp/verdict.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

TEST_GROUP(SmtpClientReport){};

TEST(SmtpClientReport, DelaysReadLikePostfix) {
    STRCMP_EQUAL("0", formatDelay(0).c_str());
    STRCMP_EQUAL("0", formatDelay(9'999).c_str());
    STRCMP_EQUAL("0.01", formatDelay(10'000).c_str());
    STRCMP_EQUAL("0.1", formatDelay(100'000).c_str());
    STRCMP_EQUAL("0.33", formatDelay(339'000).c_str());
    STRCMP_EQUAL("1", formatDelay(1'000'000).c_str());
    STRCMP_EQUAL("1.2", formatDelay(1'290'000).c_str());
    STRCMP_EQUAL("9.9", formatDelay(9'999'999).c_str());
    STRCMP_EQUAL("115", formatDelay(115'700'000).c_str());
    STRCMP_EQUAL("0", formatDelay(-5'000'000).c_str());
}

TEST(SmtpClientReport, DelaysSplitIntoFourParts) {
    DeliveryTimes times{1'000'000, 1'010'000, 1'010'000, 1'510'000};
    STRCMP_EQUAL("delay=1.2, delays=0.01/0/0.5/0.7", delayFields(times, 2'210'000).c_str());
    times.transactionStart = 0;  // MAIL never sent: all of it was set-up
    STRCMP_EQUAL("delay=1.2, delays=0.01/0/1.2/0", delayFields(times, 2'210'000).c_str());
}

TEST(SmtpClientReport, LogLineHasPostfixFields) {
    DeliveryTimes times{0, 0, 0, 0};
    Verdict verdict = sent(makeReply(250, "2.0.0", "Ok: queued as ABC"));
    STRCMP_EQUAL(
        "to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=0, delays=0/0/0/0, dsn=2.0.0, "
        "status=sent (250 2.0.0 Ok: queued as ABC)",
        recipientLogText("a@b.example", {"mx.b.example[192.0.2.1]:25", 1, 0}, times, 0, verdict).c_str());
}

TEST(SmtpClientReport, ReusedConnectionAddsConnUseAfterRelay) {
    DeliveryTimes times{0, 0, 0, 0};
    Verdict verdict = sent(makeReply(250, "2.0.0", "Ok"));
    STRCMP_EQUAL(
        "to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, conn_use=3, delay=0, delays=0/0/0/0, "
        "dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        recipientLogText("a@b.example", {"mx.b.example[192.0.2.1]:25", 3, 0}, times, 0, verdict).c_str());
}

TEST(SmtpClientReport, SoftBounceTurnsBouncesIntoDeferrals) {
    Verdict hard = bounce("5.1.1", "unknown user");
    Verdict soft = softened(hard);
    CHECK(soft.outcome == RecipientOutcome::Deferred);
    STRCMP_EQUAL("4.1.1", soft.dsn.c_str());
    STRCMP_EQUAL("unknown user", soft.text.c_str());
    CHECK(softened(sent(makeReply(250, "2.0.0", "Ok"))).outcome == RecipientOutcome::Sent);
}

TEST_GROUP(SmtpClientVerdict){};

TEST(SmtpClientVerdict, ReplyClassDecidesOutcomeAndCode) {
    Verdict rejected = replyFailure("mx[192.0.2.1]", makeReply(550, "5.1.1", "no such user"), "RCPT TO");
    CHECK(rejected.outcome == RecipientOutcome::Bounced);
    STRCMP_EQUAL("5.1.1", rejected.dsn.c_str());
    STRCMP_EQUAL("host mx[192.0.2.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)",
                 rejected.text.c_str());
    Verdict later = replyFailure("mx[192.0.2.1]", makeReply(451, "", "try later"), "MAIL FROM");
    CHECK(later.outcome == RecipientOutcome::Deferred);
    STRCMP_EQUAL("4.0.0", later.dsn.c_str());
    // An enhanced code of the wrong class is not believed.
    STRCMP_EQUAL("5.0.0", dsnOf(makeReply(554, "4.7.1", "x")).c_str());
    // A positive reply where a failure is reported (250 to DATA) defers.
    Verdict odd = replyFailure("mx[192.0.2.1]", makeReply(250, "2.0.0", "fine"), "DATA");
    CHECK(odd.outcome == RecipientOutcome::Deferred);
    STRCMP_EQUAL("4.0.0", odd.dsn.c_str());
}

TEST(SmtpClientVerdict, LocalReasonsReadLikePostfix) {
    STRCMP_EQUAL("connect to mx[192.0.2.1]:25: Connection refused",
                 connectFailed("mx[192.0.2.1]:25", "Connection refused").text.c_str());
    STRCMP_EQUAL("4.4.1", connectFailed("r", "x").dsn.c_str());
    STRCMP_EQUAL("lost connection with mx[192.0.2.1] while sending message body",
                 lostConnection("mx[192.0.2.1]", "sending message body").text.c_str());
    STRCMP_EQUAL("conversation with mx[192.0.2.1] timed out while receiving the initial server greeting",
                 timedOut("mx[192.0.2.1]", "receiving the initial server greeting").text.c_str());
    STRCMP_EQUAL("host mx[192.0.2.1] refused to talk to me: 554 5.7.1 go away",
                 refusedToTalk("mx[192.0.2.1]", makeReply(554, "5.7.1", "go away")).text.c_str());
}

TEST(SmtpClientVerdict, TextsAreEscaped) {
    Verdict verdict = deferral("4.0.0", std::string("a\nb\0c", 5));
    STRCMP_EQUAL("a\\nb\\x00c", verdict.text.c_str());
}
