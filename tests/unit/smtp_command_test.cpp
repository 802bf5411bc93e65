// smtp_command_test.cpp: unit tests for lib/smtp_command.h: verbs, paths and the reply
// of every refusal (ESMTP parameters are in smtp_params_test.cpp).
#include <CppUTest/TestHarness.h>

#include <string>

#include "smtp_command.h"

using namespace postern;

namespace {

SmtpCommand accepted(std::string_view line, const CommandContext& context = {}) {
    auto result = parseCommand(line, context);
    if (!result.ok()) FAIL(("expected to parse: " + std::string(line) + " -> " + result.error().detail).c_str());
    return result.command();
}

// The wire reply of a refused line, without the final CR LF.
std::string refusal(std::string_view line, const CommandContext& context = {}) {
    auto result = parseCommand(line, context);
    if (result.ok()) FAIL(("expected a refusal: " + std::string(line)).c_str());
    std::string wire = result.error().reply.format();
    return wire.substr(0, wire.size() - 2);
}

}  // namespace

TEST_GROUP(SmtpCommand){};

TEST(SmtpCommand, RecognisesEveryVerbIgnoringCase) {
    LONGS_EQUAL(static_cast<int>(Verb::helo), static_cast<int>(accepted("helo client.example").verb));
    LONGS_EQUAL(static_cast<int>(Verb::ehlo), static_cast<int>(accepted("EhLo client.example").verb));
    LONGS_EQUAL(static_cast<int>(Verb::mail), static_cast<int>(accepted("mail from:<a@b.example>").verb));
    LONGS_EQUAL(static_cast<int>(Verb::rcpt), static_cast<int>(accepted("Rcpt To:<a@b.example>").verb));
    LONGS_EQUAL(static_cast<int>(Verb::data), static_cast<int>(accepted("data").verb));
    LONGS_EQUAL(static_cast<int>(Verb::bdat), static_cast<int>(accepted("bdat 10").verb));
    LONGS_EQUAL(static_cast<int>(Verb::rset), static_cast<int>(accepted("RSET").verb));
    LONGS_EQUAL(static_cast<int>(Verb::noop), static_cast<int>(accepted("NOOP anything at all").verb));
    LONGS_EQUAL(static_cast<int>(Verb::quit), static_cast<int>(accepted("quit").verb));
    LONGS_EQUAL(static_cast<int>(Verb::vrfy), static_cast<int>(accepted("VRFY postmaster").verb));
    LONGS_EQUAL(static_cast<int>(Verb::help), static_cast<int>(accepted("HELP").verb));
    LONGS_EQUAL(static_cast<int>(Verb::starttls), static_cast<int>(accepted("StartTLS").verb));
    STRCMP_EQUAL("STARTTLS", std::string(verbName(Verb::starttls)).c_str());
    STRCMP_EQUAL("UNKNOWN", std::string(verbName(Verb::unknown)).c_str());
}

TEST(SmtpCommand, KeepsTheArgumentTrimmed) {
    STRCMP_EQUAL("client.example", accepted("EHLO   client.example  ").argument.c_str());
    STRCMP_EQUAL("[192.0.2.1]", accepted("HELO\t[192.0.2.1]").argument.c_str());
    STRCMP_EQUAL("", accepted("  NOOP  ").argument.c_str());
}

TEST(SmtpCommand, RefusesUnknownEmptyAndControlCharacters) {
    STRCMP_EQUAL("502 5.5.2 Error: command not recognized", refusal("EXPN staff").c_str());
    STRCMP_EQUAL("502 5.5.2 Error: command not recognized", refusal("MAILFROM:<a@b.example>").c_str());
    STRCMP_EQUAL("500 5.5.2 Error: bad syntax", refusal("").c_str());
    STRCMP_EQUAL("500 5.5.2 Error: bad syntax", refusal("   ").c_str());
    STRCMP_EQUAL("500 5.5.2 Error: bad syntax", refusal(std::string("NOOP\0x", 6)).c_str());
    STRCMP_EQUAL("500 5.5.2 Error: bad syntax", refusal("NOOP\rx").c_str());
    STRCMP_EQUAL("500 5.5.2 Error: bad syntax", refusal("NOOP\x7F").c_str());
    STRCMP_EQUAL("control character in command", parseCommand("NO\nOP").error().detail.c_str());
}

TEST(SmtpCommand, SimpleVerbsCheckTheirArguments) {
    STRCMP_EQUAL("501 Syntax: HELO hostname", refusal("HELO").c_str());
    STRCMP_EQUAL("501 Syntax: EHLO hostname", refusal("EHLO  ").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: VRFY address", refusal("VRFY").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: DATA", refusal("DATA now").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: RSET", refusal("RSET all").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: STARTTLS", refusal("STARTTLS x").c_str());
    LONGS_EQUAL(static_cast<int>(Verb::data), static_cast<int>(parseCommand("DATA x").error().verb));
}

TEST(SmtpCommand, MailFromPath) {
    SmtpCommand mail = accepted("MAIL FROM:<sender@example.com>");
    STRCMP_EQUAL("sender@example.com", mail.path.toString().c_str());
    CHECK_TRUE(accepted("MAIL FROM:<>").path.isNull());
    // Postfix leniency: a space after the colon, a path without brackets.
    STRCMP_EQUAL("a@b.example", accepted("MAIL FROM: <a@b.example>").path.toString().c_str());
    STRCMP_EQUAL("a@b.example", accepted("MAIL FROM:a@b.example").path.toString().c_str());
    STRCMP_EQUAL("john doe", accepted("MAIL FROM:<\"john doe\"@b.example> SIZE=10").path.local.c_str());
    STRCMP_EQUAL("a>b", accepted("MAIL FROM:<\"a>b\"@b.example>").path.local.c_str());
    STRCMP_EQUAL("u@c.example", accepted("MAIL FROM:<@a.example,@b.example:u@c.example>").path.toString().c_str());
}

TEST(SmtpCommand, MailFromRefusals) {
    STRCMP_EQUAL("501 5.5.4 Syntax: MAIL FROM:<address>", refusal("MAIL").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: MAIL FROM:<address>", refusal("MAIL FROM:").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: MAIL FROM:<address>", refusal("MAIL TO:<a@b.example>").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: MAIL FROM:<address>", refusal("MAIL FROM <a@b.example>").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<a@b.example").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<a@b.example>x").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<a b@b.example>").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<\"a@b.example>").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<a@b..example>").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<postmaster>").c_str());
    STRCMP_EQUAL("501 5.1.7 Bad sender address syntax", refusal("MAIL FROM:<" + std::string(65, 'a') + "@b.example>").c_str());
    STRCMP_EQUAL("empty label in domain", parseCommand("MAIL FROM:<a@b..example>").error().detail.c_str());
}

TEST(SmtpCommand, AddressLengthLeniencyComesFromTheContext) {
    CommandContext lenient;
    lenient.addressOptions.lenientLength = true;
    STRCMP_EQUAL(std::string(65, 'a').c_str(),
                 accepted("MAIL FROM:<" + std::string(65, 'a') + "@b.example>", lenient).path.local.c_str());
}

TEST(SmtpCommand, RcptToPath) {
    STRCMP_EQUAL("rcpt@example.com", accepted("RCPT TO:<rcpt@example.com>").path.toString().c_str());
    STRCMP_EQUAL("postmaster", accepted("RCPT TO:<postmaster>").path.toString().c_str());
    STRCMP_EQUAL("POSTMASTER", accepted("RCPT TO: <POSTMASTER>").path.toString().c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: RCPT TO:<address>", refusal("RCPT").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: RCPT TO:<address>", refusal("RCPT FROM:<a@b.example>").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: RCPT TO:<address>", refusal("RCPT TO:").c_str());
    STRCMP_EQUAL("501 5.1.3 Bad recipient address syntax", refusal("RCPT TO:<>").c_str());
    STRCMP_EQUAL("501 5.1.3 Bad recipient address syntax", refusal("RCPT TO:<user>").c_str());
    STRCMP_EQUAL("501 5.1.3 Bad recipient address syntax", refusal("RCPT TO:<a@[300.1.1.1]>").c_str());
}

TEST(SmtpCommand, UnicodeAddressNeedsSmtputf8) {
    const std::string sender = "MAIL FROM:<j\xC3\xB6rg@example.com>";
    STRCMP_EQUAL("553 5.6.7 Must declare SMTPUTF8 to send unicode address", refusal(sender).c_str());
    STRCMP_EQUAL("j\xC3\xB6rg", accepted(sender + " SMTPUTF8").path.local.c_str());
    const std::string recipient = "RCPT TO:<m\xC3\xBCller@example.com>";
    STRCMP_EQUAL("553 5.6.7 Must declare SMTPUTF8 to send unicode address", refusal(recipient).c_str());
    CommandContext utf8;
    utf8.transactionSmtputf8 = true;
    STRCMP_EQUAL("m\xC3\xBCller", accepted(recipient, utf8).path.local.c_str());
    STRCMP_EQUAL("501 5.1.3 Bad recipient address syntax", refusal("RCPT TO:<m\xC3@example.com>", utf8).c_str());
}

TEST(SmtpCommand, Bdat) {
    SmtpCommand chunk = accepted("BDAT 1000");
    LONGS_EQUAL(1000, chunk.chunkSize);
    CHECK_FALSE(chunk.lastChunk);
    SmtpCommand last = accepted("BDAT 0 last");
    LONGS_EQUAL(0, last.chunkSize);
    CHECK_TRUE(last.lastChunk);
    CHECK_TRUE(accepted("BDAT 18446744073709551615 LAST").chunkSize == UINT64_MAX);
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT x").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT -1").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT 18446744073709551616").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT 10 FIRST").c_str());
    STRCMP_EQUAL("501 5.5.4 Syntax: BDAT count [LAST]", refusal("BDAT 10 LAST x").c_str());
    CommandContext noChunking;
    noChunking.offerChunking = false;
    STRCMP_EQUAL("502 5.5.2 Error: command not recognized", refusal("BDAT 10", noChunking).c_str());
}

TEST(SmtpCommand, RefusalRepliesEscapeWhatTheClientSent) {
    // A parameter echoed in the reply cannot inject a line; non-ASCII is escaped too.
    STRCMP_EQUAL("555 5.5.4 Unsupported option: X=\\xC3\\xA9",
                 refusal("MAIL FROM:<a@b.example> X=\xC3\xA9").c_str());
}
