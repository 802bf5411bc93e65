// smtp_reply_test.cpp: unit tests for lib/smtp_reply.h: formatting, the incremental
// reply reader and EHLO capabilities.
#include <CppUTest/TestHarness.h>

#include <string>

#include "smtp_reply.h"

using namespace postern;

namespace {

// Feeds text to a fresh reader in one piece and returns the first reply.
SmtpReply readOne(std::string_view text, ReplyLimits limits = {}) {
    ReplyReader reader(limits);
    reader.feed(text);
    auto reply = reader.next();
    if (!reply) FAIL(("reader error: " + reply.error()).c_str());
    if (!reply->has_value()) FAIL("reply incomplete");
    return **reply;
}

std::string readError(std::string_view text, ReplyLimits limits = {}) {
    ReplyReader reader(limits);
    reader.feed(text);
    for (;;) {
        auto reply = reader.next();
        if (!reply) return reply.error();
        if (!reply->has_value()) FAIL("expected an error, reader wants more bytes");
    }
}

}  // namespace

TEST_GROUP(SmtpReplyFormat){};

TEST(SmtpReplyFormat, SingleAndMultiLine) {
    STRCMP_EQUAL("250 2.0.0 Ok\r\n", makeReply(250, "2.0.0", "Ok").format().c_str());
    STRCMP_EQUAL("250-2.0.0 first\r\n250-2.0.0 second\r\n250 2.0.0 last\r\n",
                 makeReply(250, "2.0.0", "first\nsecond\nlast").format().c_str());
    STRCMP_EQUAL("250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
                 (SmtpReply{250, "", {"mx.example", "PIPELINING", "8BITMIME"}}).format().c_str());
    STRCMP_EQUAL("354 End data with <CR><LF>.<CR><LF>\r\n",
                 makeReply(354, "", "End data with <CR><LF>.<CR><LF>").format().c_str());
    STRCMP_EQUAL("250\r\n", (SmtpReply{250, "", {}}).format().c_str());
    STRCMP_EQUAL("250 2.0.0\r\n", (SmtpReply{250, "2.0.0", {""}}).format().c_str());
}

TEST(SmtpReplyFormat, EmptyContinuationLineKeepsItsDash) {
    // Found by fuzz_smtp_reply: "250-" once lost its dash and ended the reply early.
    STRCMP_EQUAL("250-\r\n250 x\r\n", (SmtpReply{250, "", {"", "x"}}).format().c_str());
    STRCMP_EQUAL("250-\r\n250\r\n", (SmtpReply{250, "", {"", ""}}).format().c_str());
}

TEST(SmtpReplyFormat, UntrustedTextCannotBreakTheFraming) {
    SmtpReply reply{550, "5.1.1", {"<a\r\n250 ok\xC3\xA9>"}};
    STRCMP_EQUAL("550 5.1.1 <a\\r\\n250 ok\\xC3\\xA9>\r\n", reply.format().c_str());
}

TEST(SmtpReplyFormat, PrintableIsOneEscapedLine) {
    SmtpReply reply{550, "5.7.1", {"first", "sec\x1Bond"}};
    STRCMP_EQUAL("550 5.7.1 first sec\\x1Bond", reply.printable().c_str());
    LONGS_EQUAL(5, reply.replyClass());
}

TEST(SmtpReplyFormat, EnhancedCodeSyntax) {
    CHECK_TRUE(parseEnhancedCode("2.0.0").has_value());
    CHECK_TRUE(parseEnhancedCode("5.123.456").has_value());
    CHECK_FALSE(parseEnhancedCode("3.0.0").has_value());
    CHECK_FALSE(parseEnhancedCode("2.0").has_value());
    CHECK_FALSE(parseEnhancedCode("2.0.0.0").has_value());
    CHECK_FALSE(parseEnhancedCode("2.1234.0").has_value());
    CHECK_FALSE(parseEnhancedCode("2..0").has_value());
    CHECK_FALSE(parseEnhancedCode("2.0.x").has_value());
    CHECK_FALSE(parseEnhancedCode("").has_value());
}

TEST_GROUP(ReplyReader){};

TEST(ReplyReader, SingleLineWithEnhancedCode) {
    SmtpReply reply = readOne("250 2.1.0 Ok\r\n");
    LONGS_EQUAL(250, reply.code);
    STRCMP_EQUAL("2.1.0", reply.enhanced.c_str());
    LONGS_EQUAL(1, reply.lines.size());
    STRCMP_EQUAL("Ok", reply.lines[0].c_str());
}

TEST(ReplyReader, MultiLineStripsTheEnhancedCodeOfEveryLine) {
    SmtpReply reply = readOne("550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n");
    STRCMP_EQUAL("5.7.1", reply.enhanced.c_str());
    LONGS_EQUAL(3, reply.lines.size());
    STRCMP_EQUAL("first", reply.lines[0].c_str());
    STRCMP_EQUAL("third", reply.lines[2].c_str());
}

TEST(ReplyReader, EnhancedCodeMustMatchTheClass) {
    SmtpReply reply = readOne("250 5.0.0 odd\r\n");
    STRCMP_EQUAL("", reply.enhanced.c_str());
    STRCMP_EQUAL("5.0.0 odd", reply.lines[0].c_str());
    STRCMP_EQUAL("", readOne("220 mx.example ESMTP\r\n").enhanced.c_str());
    STRCMP_EQUAL("2.0.0", readOne("250 2.0.0\r\n").enhanced.c_str());
    STRCMP_EQUAL("", readOne("250 2.0.0\r\n").lines[0].c_str());
}

TEST(ReplyReader, CodeOnlyAndBareLf) {
    SmtpReply bare = readOne("250\r\n");
    LONGS_EQUAL(250, bare.code);
    STRCMP_EQUAL("", bare.lines[0].c_str());
    SmtpReply lf = readOne("250-a\n250 b\n");
    LONGS_EQUAL(2, lf.lines.size());
    STRCMP_EQUAL("b", lf.lines[1].c_str());
}

TEST(ReplyReader, CrAloneIsNotALineEndButIsKeptAndEscaped) {
    ReplyReader reader;
    reader.feed("250 a\rb\r");
    auto none = reader.next();
    CHECK_TRUE(none.ok());
    CHECK_FALSE(none->has_value());
    reader.feed("\n");
    auto reply = reader.next();
    CHECK_TRUE(reply.ok() && reply->has_value());
    STRCMP_EQUAL("a\rb", (*reply)->lines[0].c_str());
    STRCMP_EQUAL("250 a\\rb", (*reply)->printable().c_str());
}

TEST(ReplyReader, NulAndControlsStayInTextButNotInPrintable) {
    SmtpReply reply = readOne(std::string("550 5.1.1 a\0b\x1B[2J\r\n", 19));
    LONGS_EQUAL(7, reply.lines[0].size());
    STRCMP_EQUAL("550 5.1.1 a\\x00b\\x1B[2J", reply.printable().c_str());
}

TEST(ReplyReader, ByteByByteGivesTheSameReplies) {
    const std::string wire = "250-mx.example\r\n250-SIZE 1000\r\n250 8BITMIME\r\n354 go\r\n";
    ReplyReader reader;
    std::vector<SmtpReply> replies;
    for (char c : wire) {
        reader.feed(std::string_view(&c, 1));
        for (;;) {
            auto reply = reader.next();
            CHECK_TRUE(reply.ok());
            if (!reply->has_value()) break;
            replies.push_back(**reply);
        }
    }
    LONGS_EQUAL(2, replies.size());
    LONGS_EQUAL(3, replies[0].lines.size());
    LONGS_EQUAL(354, replies[1].code);
    LONGS_EQUAL(0, reader.buffered());
}

TEST(ReplyReader, PipelinedRepliesComeOutInOrder) {
    ReplyReader reader;
    reader.feed("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End");
    LONGS_EQUAL(250, (*reader.next())->code);
    STRCMP_EQUAL("2.1.5", (*reader.next())->enhanced.c_str());
    CHECK_FALSE(reader.next()->has_value());
    LONGS_EQUAL(7, reader.buffered());
    reader.feed(" data\r\n");
    STRCMP_EQUAL("End data", (*reader.next())->lines[0].c_str());
}

TEST(ReplyReader, DiscardBufferedDropsPlaintextInjectedAfterStarttls) {
    ReplyReader reader;
    reader.feed("220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 x\r\n550 half");
    LONGS_EQUAL(220, (*reader.next())->code);
    CHECK_TRUE(reader.buffered() > 0);
    reader.discardBuffered();
    LONGS_EQUAL(0, reader.buffered());
    CHECK_FALSE(reader.next()->has_value());
    reader.feed("250 after tls\r\n");
    STRCMP_EQUAL("after tls", (*reader.next())->lines[0].c_str());
}

TEST(ReplyReader, ProtocolErrors) {
    STRCMP_EQUAL("reply code changed within a reply: 251 b", readError("250-a\r\n251 b\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: 25", readError("25\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: ", readError("\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: 250x", readError("250x\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: 199 no", readError("199 no\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: 260 no", readError("260 no\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: 650 no", readError("650 no\r\n").c_str());
    STRCMP_EQUAL("malformed reply line: abc", readError("abc\r\n").c_str());
}

TEST(ReplyReader, AnErrorIsFinal) {
    ReplyReader reader;
    reader.feed("bad\r\n");
    CHECK_FALSE(reader.next().ok());
    reader.feed("250 ok\r\n");
    CHECK_FALSE(reader.next().ok());
}

TEST(ReplyReader, Bounds) {
    ReplyLimits limits{.maxLineLength = 10, .maxLines = 3, .maxReplySize = 100};
    // A long line is truncated to maxLineLength, the rest dropped.
    SmtpReply truncated = readOne("250 " + std::string(50, 'x') + "\r\n", limits);
    STRCMP_EQUAL("xxxxxx", truncated.lines[0].c_str());
    STRCMP_EQUAL("reply with more than 3 lines", readError("250-a\r\n250-b\r\n250-c\r\n250 d\r\n", limits).c_str());
    CHECK_TRUE(readOne("250-a\r\n250-b\r\n250 c\r\n", limits).lines.size() == 3);
    STRCMP_EQUAL("reply longer than 100 bytes", readError("250 " + std::string(200, 'x'), limits).c_str());
    STRCMP_EQUAL("reply longer than 100 bytes",
                 readError("250-" + std::string(40, 'x') + "\r\n250-" + std::string(40, 'x') + "\r\n250-xxxxxxxxxxxxxx", limits).c_str());
}

TEST_GROUP(EhloCapabilities){};

TEST(EhloCapabilities, ReadsEveryKnownExtension) {
    SmtpReply reply = readOne(
        "250-mx.example Hello client\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
        "250-binarymime\r\n250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n250-CHUNKING\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 XFOO bar\r\n");
    ServerCapabilities caps = parseEhloCapabilities(reply);
    STRCMP_EQUAL("mx.example Hello client", caps.greeting.c_str());
    CHECK_TRUE(caps.pipelining);
    CHECK_TRUE(caps.size);
    CHECK_TRUE(caps.sizeLimit == 10240000u);
    CHECK_TRUE(caps.eightBitMime);
    CHECK_TRUE(caps.binaryMime);
    CHECK_TRUE(caps.smtputf8);
    CHECK_TRUE(caps.dsn);
    CHECK_TRUE(caps.starttls);
    CHECK_TRUE(caps.chunking);
    CHECK_TRUE(caps.enhancedStatusCodes);
}

TEST(EhloCapabilities, NothingAdvertised) {
    ServerCapabilities caps = parseEhloCapabilities(readOne("250 mx.example\r\n"));
    CHECK_FALSE(caps.pipelining || caps.size || caps.eightBitMime || caps.smtputf8 || caps.dsn ||
                caps.starttls || caps.chunking || caps.enhancedStatusCodes || caps.binaryMime);
}

TEST(EhloCapabilities, SizeWithoutOrWithBadNumberMeansNoFixedLimit) {
    ServerCapabilities plain = parseEhloCapabilities(readOne("250-mx\r\n250 SIZE\r\n"));
    CHECK_TRUE(plain.size);
    CHECK_TRUE(plain.sizeLimit == 0u);
    ServerCapabilities huge = parseEhloCapabilities(readOne("250-mx\r\n250 size 99999999999999999999999\r\n"));
    CHECK_TRUE(huge.size);
    CHECK_TRUE(huge.sizeLimit == 0u);
    // A keyword is a whole word: "SIZEX" and "PIPELININGX" are not extensions we know.
    ServerCapabilities other = parseEhloCapabilities(readOne("250-mx\r\n250-SIZEX 10\r\n250 PIPELININGX\r\n"));
    CHECK_FALSE(other.size || other.pipelining);
}
