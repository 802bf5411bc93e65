// smtpd_session_test.cpp: unit tests for smtpd/session.h: a real Session on a socket pair
// (SessionDriver), the in-memory queue and a real commit pool. The test plays the client.
#include <chrono>
#include <string>

#include "smtpd_session_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;
using postern::smtpd::testing::SessionDriver;

namespace {

bool startsWith(const std::string& text, const std::string& prefix) {
    return text.rfind(prefix, 0) == 0;
}

// The queue ID in "250 2.0.0 Ok: queued as ID".
std::string queuedId(const std::string& reply) {
    const std::string marker = "queued as ";
    size_t at = reply.find(marker);
    if (at == std::string::npos) return {};
    return reply.substr(at + marker.size(), 17);
}

}  // namespace

TEST_GROUP(SmtpdSession) {
    SessionDriver driver;
};

TEST(SmtpdSession, GreetsAndOffersTheExtensions) {
    driver.open();
    STRCMP_EQUAL("220 mx.test ESMTP postern\r\n", driver.reply().c_str());
    STRCMP_EQUAL(
        "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n"
        "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        driver.command("EHLO client.test").c_str());
    STRCMP_EQUAL("250 mx.test\r\n", driver.command("HELO client.test").c_str());
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", driver.command("NOOP").c_str());
    CHECK_TRUE(startsWith(driver.command("HELP"), "214 2.0.0 "));
    STRCMP_EQUAL("252 2.0.0 someone\r\n", driver.command("VRFY someone").c_str());
    STRCMP_EQUAL("502 5.5.1 Error: command not implemented\r\n",
                 driver.command("STARTTLS").c_str());
    STRCMP_EQUAL("221 2.0.0 Bye\r\n", driver.command("QUIT").c_str());
    CHECK_TRUE(driver.closedByServer());
    CHECK_TRUE(driver.finished);
    CHECK_TRUE(driver.logs.contains("connect from unknown[192.0.2.1]"));
    CHECK_TRUE(
        driver.logs.contains("disconnect from unknown[192.0.2.1] helo=1 ehlo=1 "
                             "starttls=0/1 noop=1 vrfy=1 help=1 quit=1 commands=6/7"));
}

TEST(SmtpdSession, AMessageIsQueuedWithItsEnvelope) {
    driver.open("192.0.2.1");
    driver.reply();
    CHECK_TRUE(driver.beginTransaction("a@sender.test", {"b@relay.test"}));
    STRCMP_EQUAL("354 End data with <CR><LF>.<CR><LF>\r\n", driver.command("DATA").c_str());
    driver.send("Subject: hello\r\n\r\n..dot\r\nbody\r\n.\r\n");
    std::string queued = driver.reply();
    CHECK_TRUE(startsWith(queued, "250 2.0.0 Ok: queued as "));
    std::string id = queuedId(queued);
    CHECK_TRUE(driver.logs.contains(id + ": client=unknown[192.0.2.1]"));
    CHECK_TRUE(driver.logs.contains(id + ": message-id=<>"));
    auto incoming = driver.incoming();
    LONGS_EQUAL(1, incoming.size());
    STRCMP_EQUAL(id.c_str(), incoming[0].c_str());
    auto message = driver.message(id);
    CHECK_TRUE(message.has_value());
    STRCMP_EQUAL("a@sender.test", message->envelope.sender.c_str());
    LONGS_EQUAL(1, message->recipients.size());
    STRCMP_EQUAL("b@relay.test", message->recipients[0].recipient.address.c_str());
    STRCMP_EQUAL("client.test", message->envelope.client.heloName.c_str());
    STRCMP_EQUAL("192.0.2.1", message->envelope.client.address.c_str());
    CHECK(message->envelope.client.protocol == queue::ClientProtocol::Esmtp);
    std::string content = driver.content(id);
    CHECK_TRUE(startsWith(content,
                          "Received: from client.test (unknown [192.0.2.1])\r\n"
                          "\tby mx.test (postern) with ESMTP id " +
                              id + "\r\n\tfor <b@relay.test>; "));
    CHECK_TRUE(content.ends_with("\r\nSubject: hello\r\n\r\n.dot\r\nbody\r\n"));
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", driver.command("RSET").c_str());
}

TEST(SmtpdSession, RelayControl) {
    driver.open("192.0.2.1");
    driver.reply();
    driver.command("EHLO client.test");
    driver.command("MAIL FROM:<a@sender.test>");
    STRCMP_EQUAL("554 5.7.1 <x@elsewhere.test>: Relay access denied\r\n",
                 driver.command("RCPT TO:<x@elsewhere.test>").c_str());
    STRCMP_EQUAL("250 2.1.5 Ok\r\n", driver.command("RCPT TO:<x@RELAY.test>").c_str());
    // A bare local part gets @myorigin and is judged by that domain.
    CHECK_TRUE(
        startsWith(driver.command("RCPT TO:<postmaster>"), "554 5.7.1 <postmaster@mx.test>"));
    CHECK_TRUE(driver.logs.contains(
        "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@elsewhere.test>: Relay "
        "access denied; from=<a@sender.test> to=<x@elsewhere.test> proto=ESMTP "
        "helo=<client.test>"));
}

TEST(SmtpdSession, MynetworksMayRelayAnywhere) {
    driver.open("10.1.2.3", true);
    driver.reply();
    CHECK_TRUE(driver.beginTransaction("a@sender.test", {"x@anywhere.test", "y@else.test"}));
}

TEST(SmtpdSession, SequenceErrors) {
    driver.open();
    driver.reply();
    driver.command("EHLO client.test");
    STRCMP_EQUAL("503 5.5.1 Error: need MAIL command\r\n",
                 driver.command("RCPT TO:<b@relay.test>").c_str());
    STRCMP_EQUAL("503 5.5.1 Error: need MAIL command\r\n", driver.command("DATA").c_str());
    driver.command("MAIL FROM:<>");
    STRCMP_EQUAL("503 5.5.1 Error: nested MAIL command\r\n",
                 driver.command("MAIL FROM:<>").c_str());
    STRCMP_EQUAL("503 5.5.1 Error: need RCPT command\r\n", driver.command("DATA").c_str());
    STRCMP_EQUAL("502 5.5.2 Error: command not recognized\r\n", driver.command("WHAT").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
                 driver.command("MAIL TO:<x>").c_str());
}

TEST(SmtpdSession, PipelinedGroupIsAnswered) {
    driver.open();
    driver.reply();
    driver.command("EHLO client.test");
    driver.send(
        "MAIL FROM:<a@sender.test>\r\nRCPT TO:<b@relay.test>\r\nRCPT "
        "TO:<c@relay.test>\r\nDATA\r\n");
    STRCMP_EQUAL("250 2.1.0 Ok\r\n", driver.reply().c_str());
    STRCMP_EQUAL("250 2.1.5 Ok\r\n", driver.reply().c_str());
    STRCMP_EQUAL("250 2.1.5 Ok\r\n", driver.reply().c_str());
    CHECK_TRUE(startsWith(driver.reply(), "354 "));
    driver.send("x\r\n.\r\n");
    CHECK_TRUE(startsWith(driver.reply(), "250 2.0.0 Ok: queued as "));
    LONGS_EQUAL(2, driver.message(driver.incoming()[0])->recipients.size());
}

TEST(SmtpdSession, PipeliningAfterEhloIsASynchronizationError) {
    driver.open();
    driver.reply();
    driver.send("EHLO client.test\r\nMAIL FROM:<a@sender.test>\r\n");
    STRCMP_EQUAL("554 5.5.0 Error: SMTP protocol synchronization\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
}

TEST(SmtpdSession, ContentBeforeThe354IsASynchronizationError) {
    driver.open();
    driver.reply();
    driver.command("EHLO client.test");
    driver.command("MAIL FROM:<a@sender.test>");
    driver.command("RCPT TO:<b@relay.test>");
    driver.send("DATA\r\nSubject: early\r\n\r\nx\r\n.\r\n");
    STRCMP_EQUAL("554 5.5.0 Error: SMTP protocol synchronization\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
    LONGS_EQUAL(0, driver.incoming().size());
}

TEST(SmtpdSession, SmugglingCannotEndTheMessageEarly) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.command("DATA");
    driver.send(
        "Subject: x\r\n\r\nfirst\n.\nMAIL FROM:<evil@x>\nRCPT TO:<b@relay.test>\nDATA\n"
        "smuggled\n.\r\nQUIT\r\n");
    // Nothing ended the message yet: no reply.
    STRCMP_EQUAL("", driver.reply(200).c_str());
    driver.send("\r\n.\r\n");
    std::string queued = driver.reply();
    CHECK_TRUE(startsWith(queued, "250 2.0.0 Ok: queued as "));
    LONGS_EQUAL(1, driver.incoming().size());
    CHECK_TRUE(driver.content(queuedId(queued)).find("MAIL FROM:<evil@x>") != std::string::npos);
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", driver.command("NOOP").c_str());
}

TEST(SmtpdSession, BdatChunks) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.send("BDAT 14\r\nSubject: x\r\n\r\n");
    STRCMP_EQUAL("250 2.0.0 Ok: 14 bytes\r\n", driver.reply().c_str());
    driver.send("BDAT 9 LAST\r\nbody\r\n.\r\n");
    std::string queued = driver.reply();
    CHECK_TRUE(startsWith(queued, "250 2.0.0 Ok: queued as "));
    CHECK_TRUE(driver.content(queuedId(queued)).ends_with("\r\nSubject: x\r\n\r\nbody\r\n.\r\n"));
    STRCMP_EQUAL("503 5.5.1 Error: need MAIL command\r\n", driver.command("DATA").c_str());
}

TEST(SmtpdSession, BdatWithoutTransactionSkipsTheChunk) {
    driver.open();
    driver.reply();
    driver.command("EHLO client.test");
    driver.send("BDAT 12 LAST\r\nRSET\r\nQUIT\r\n");
    STRCMP_EQUAL("503 5.5.1 Error: need MAIL command\r\n", driver.reply().c_str());
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", driver.command("NOOP").c_str());
}

TEST(SmtpdSession, DataAndBdatDoNotMix) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.send("BDAT 3\r\nabc");
    driver.reply();
    STRCMP_EQUAL("503 5.5.1 Error: DATA after BDAT\r\n", driver.command("DATA").c_str());
}

TEST(SmtpdSession, AClientLeavingInDataLeavesNothing) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.command("DATA");
    driver.send("Subject: x\r\n\r\nhalf a message");
    driver.spin();
    driver.closeClient();
    driver.spin();
    CHECK_TRUE(driver.finished);
    CHECK_TRUE(driver.logs.contains("lost connection after DATA from unknown[192.0.2.1]"));
    CHECK_TRUE(driver.logs.contains("ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4"));
    LONGS_EQUAL(0, driver.incoming().size());
    auto stale = driver.store.removeStaleTemporaries(std::chrono::seconds(0));
    CHECK_TRUE(stale.ok());
    LONGS_EQUAL(0, stale.value());
}

TEST(SmtpdSession, AHalfClosedClientIsStillAnswered) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.send("BDAT 7 LAST\r\nhello\r\nQUIT\r\n");
    driver.shutdownClientWrite();
    CHECK_TRUE(startsWith(driver.reply(), "250 2.0.0 Ok: queued as "));
    STRCMP_EQUAL("221 2.0.0 Bye\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
    LONGS_EQUAL(1, driver.incoming().size());
    CHECK_FALSE(driver.logs.contains("lost connection"));
}

TEST(SmtpdSession, AHalfClosedClientInDataLosesItsMessage) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.command("DATA");
    driver.send("Subject: x\r\n\r\nno end");
    driver.shutdownClientWrite();
    CHECK_TRUE(driver.closedByServer());
    CHECK_TRUE(driver.logs.contains("lost connection after DATA from unknown[192.0.2.1]"));
    LONGS_EQUAL(0, driver.incoming().size());
}

TEST(SmtpdSession, RecipientLimit) {
    driver.config.smtpd.recipient_limit = 2;
    SessionDriver limited(driver.config);
    limited.open();
    limited.reply();
    CHECK_TRUE(limited.beginTransaction("a@sender.test", {"1@relay.test", "2@relay.test"}));
    STRCMP_EQUAL("452 4.5.3 Error: too many recipients\r\n",
                 limited.command("RCPT TO:<3@relay.test>").c_str());
}

TEST(SmtpdSession, SizeLimits) {
    Config config = SessionDriver::testConfig();
    config.message_size_limit = 100;
    SessionDriver limited(config);
    limited.open();
    limited.reply();
    limited.command("EHLO client.test");
    STRCMP_EQUAL("552 5.3.4 Message size exceeds fixed limit\r\n",
                 limited.command("MAIL FROM:<a@sender.test> SIZE=101").c_str());
    CHECK_TRUE(limited.beginTransaction("a@sender.test", {"b@relay.test"}));
    limited.command("DATA");
    limited.send(std::string(200, 'x') + "\r\n.\r\n");
    STRCMP_EQUAL("552 5.3.4 Error: message file too big\r\n", limited.reply().c_str());
    LONGS_EQUAL(0, limited.incoming().size());
    // The session goes on, with a fresh transaction.
    STRCMP_EQUAL("503 5.5.1 Error: need MAIL command\r\n", limited.command("DATA").c_str());
}

TEST(SmtpdSession, InsufficientStorage) {
    Config config = SessionDriver::testConfig();
    config.queue_minfree = 1000000;
    SessionDriver full(config);
    full.store.setFreeBytes(10);
    full.open();
    full.reply();
    full.command("EHLO client.test");
    STRCMP_EQUAL("452 4.3.1 Insufficient system storage\r\n",
                 full.command("MAIL FROM:<a@sender.test>").c_str());
}

TEST(SmtpdSession, HardErrorLimitEndsTheSession) {
    Config config = SessionDriver::testConfig();
    config.smtpd.hard_error_limit = 3;
    SessionDriver strict(config);
    strict.open();
    strict.reply();
    CHECK_TRUE(startsWith(strict.command("BAD1"), "502 "));
    CHECK_TRUE(startsWith(strict.command("BAD2"), "502 "));
    CHECK_TRUE(startsWith(strict.command("BAD3"), "502 "));
    STRCMP_EQUAL("421 4.7.0 mx.test Error: too many errors\r\n", strict.reply().c_str());
    CHECK_TRUE(strict.closedByServer());
}

TEST(SmtpdSession, SoftErrorLimitDelaysErrorReplies) {
    Config config = SessionDriver::testConfig();
    config.smtpd.soft_error_limit = 1;
    config.smtpd.error_sleep_time = 1;
    SessionDriver slow(config);
    slow.open();
    slow.reply();
    auto started = std::chrono::steady_clock::now();
    CHECK_TRUE(startsWith(slow.command("BAD"), "502 "));
    CHECK_TRUE(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(900));
    // Good replies are not delayed.
    started = std::chrono::steady_clock::now();
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", slow.command("NOOP").c_str());
    CHECK_TRUE(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
}

TEST(SmtpdSession, LongCommandLine) {
    driver.open();
    driver.reply();
    STRCMP_EQUAL("500 5.5.0 Error: line too long\r\n",
                 driver.command("NOOP " + std::string(5000, 'x')).c_str());
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", driver.command("NOOP").c_str());
}

TEST(SmtpdSession, EncryptRequiresStarttls) {
    Config config = SessionDriver::testConfig();
    config.smtpd.tls.security_level = SmtpdTlsConfig::Level::Encrypt;
    SessionDriver strict(config);
    strict.open();
    strict.reply();
    strict.command("EHLO client.test");
    STRCMP_EQUAL("530 5.7.0 Must issue a STARTTLS command first\r\n",
                 strict.command("MAIL FROM:<a@sender.test>").c_str());
    strict.send("BDAT 4 LAST\r\nabcd");
    STRCMP_EQUAL("530 5.7.0 Must issue a STARTTLS command first\r\n", strict.reply().c_str());
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", strict.command("NOOP").c_str());
}

TEST(SmtpdSession, LocalSubmission) {
    driver.open("127.0.0.1", true, true);
    driver.reply();
    std::string ehlo = driver.command("EHLO localhost");
    CHECK_TRUE(ehlo.find("STARTTLS") == std::string::npos);
    CHECK_TRUE(driver.beginTransaction("user@mx.test", {"x@anywhere.test"}));
    driver.command("DATA");
    driver.send("Subject: local\r\n\r\nbody\r\n.\r\n");
    std::string id = queuedId(driver.reply());
    std::string content = driver.content(id);
    CHECK_TRUE(
        startsWith(content, "Received: by mx.test (postern, from userid 1000)\r\n\tid " + id));
    CHECK_TRUE(content.find("\r\nSubject: local\r\nDate: ") != std::string::npos);
    CHECK_TRUE(content.find("\r\nMessage-ID: <") != std::string::npos);
    CHECK_TRUE(content.ends_with(">\r\n\r\nbody\r\n"));
}

TEST(SmtpdSession, ARefusedSessionHearsOnlyTheRefusal) {
    driver.create();
    driver.session()->refuse(makeReply(421, "4.7.0", "mx.test Error: too many connections"));
    STRCMP_EQUAL("421 4.7.0 mx.test Error: too many connections\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
    CHECK_TRUE(driver.finished);
}

TEST(SmtpdSession, DrainClosesAnIdleSession) {
    driver.open();
    driver.reply();
    driver.session()->drain();
    STRCMP_EQUAL("421 4.3.2 mx.test Error: service shutting down\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
}

TEST(SmtpdSession, DrainLetsATransactionFinish) {
    driver.open();
    driver.reply();
    CHECK_TRUE(driver.beginTransaction());
    driver.session()->drain();
    driver.command("DATA");
    driver.send("x\r\n.\r\n");
    CHECK_TRUE(startsWith(driver.reply(), "250 2.0.0 Ok: queued as "));
    STRCMP_EQUAL("421 4.3.2 mx.test Error: service shutting down\r\n", driver.reply().c_str());
    CHECK_TRUE(driver.closedByServer());
}

TEST(SmtpdSession, Timeout) {
    Config config = SessionDriver::testConfig();
    config.smtpd.timeout = 1;
    SessionDriver slow(config);
    slow.open();
    slow.reply();
    STRCMP_EQUAL("421 4.4.2 mx.test Error: timeout exceeded\r\n", slow.reply(3000).c_str());
    CHECK_TRUE(slow.closedByServer());
}
