// smtp_data_test.cpp: unit tests for lib/smtp_data.h, the server's end-of-data state
// machine: every SMTP smuggling variant, dot-unstuffing, chunking independence, limits
// and BDAT. Each DATA input is fed whole, byte by byte and in 7-byte pieces, and the
// three results must agree.
#include <CppUTest/TestHarness.h>

#include <string>
#include <vector>

#include "smtp_data.h"
#include "text_escape.h"

using namespace postern;

namespace {

struct Outcome {
    std::string content;
    size_t consumed = 0;
    bool finished = false;
    ContentStats stats;
    std::optional<SmtpReply> rejection;
};

Outcome feedInPieces(std::string_view input, const DataOptions& options, size_t pieceSize) {
    DataReader reader = DataReader::forData(options);
    Outcome outcome;
    for (size_t pos = 0; pos < input.size() && !reader.finished(); pos += pieceSize) {
        const std::string_view piece = input.substr(pos, pieceSize);
        const size_t used = reader.feed(piece, outcome.content);
        outcome.consumed += used;
        if (used < piece.size()) CHECK_TRUE(reader.finished());  // only the end stops a feed
    }
    outcome.finished = reader.finished();
    outcome.stats = reader.stats();
    outcome.rejection = reader.rejection();
    return outcome;
}

void checkSame(const Outcome& a, const Outcome& b) {
    STRCMP_EQUAL(printable(a.content).c_str(), printable(b.content).c_str());
    LONGS_EQUAL(a.consumed, b.consumed);
    CHECK_EQUAL(a.finished, b.finished);
    CHECK_TRUE(a.stats == b.stats);
}

Outcome readData(std::string_view input, const DataOptions& options = {}) {
    Outcome whole = feedInPieces(input, options, input.size() + 1);
    checkSame(whole, feedInPieces(input, options, 1));
    checkSame(whole, feedInPieces(input, options, 7));
    return whole;
}

const std::string kHead = "From: a@example.com\r\nSubject: hi\r\n\r\nfirst line";
const std::string kSmuggled = "MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n";
const std::string kTail = "\r\n.\r\n";
const std::string kNext = "QUIT\r\n";

// A message that hides `sequence` before a smuggled transaction; the real end follows.
void checkNotAnEnd(const std::string& sequence) {
    const std::string input = kHead + sequence + kSmuggled + "last" + kTail + kNext;
    Outcome o = readData(input);
    CHECK_TRUE(o.finished);
    if (o.consumed != input.size() - kNext.size())
        FAIL(("ended early at " + printable(sequence)).c_str());
    CHECK_TRUE(o.stats.bareNewline);
    CHECK_TRUE(o.content.find(kSmuggled) != std::string::npos);  // kept as content
    CHECK_FALSE(o.rejection.has_value());
    // The content never carries a bare CR or LF.
    for (size_t i = 0; i < o.content.size(); ++i) {
        if (o.content[i] == '\r') CHECK_TRUE(i + 1 < o.content.size() && o.content[i + 1] == '\n');
        if (o.content[i] == '\n') CHECK_TRUE(i > 0 && o.content[i - 1] == '\r');
    }
    // Under reject the same input is read to the same end and refused.
    Outcome rejected = readData(input, DataOptions{.bareNewline = BareNewlinePolicy::reject});
    LONGS_EQUAL(o.consumed, rejected.consumed);
    CHECK_TRUE(rejected.rejection.has_value());
    STRCMP_EQUAL("550 5.5.2 Error: bare <CR> or <LF> received\r\n", rejected.rejection->format().c_str());
}

}  // namespace

TEST_GROUP(DataReader){};

TEST(DataReader, PlainMessageEndsAtCrLfDotCrLf) {
    const std::string input = "Subject: x\r\n\r\nhello\r\n.\r\nMAIL FROM:<a@b>\r\n";
    Outcome o = readData(input);
    CHECK_TRUE(o.finished);
    LONGS_EQUAL(input.find("MAIL"), o.consumed);
    STRCMP_EQUAL("Subject: x\r\n\r\nhello\r\n", o.content.c_str());
    CHECK_TRUE(o.stats.size == o.content.size());
    CHECK_FALSE(o.stats.bareNewline);
    CHECK_FALSE(o.rejection.has_value());
}

TEST(DataReader, DotRightAfterDataIsAnEmptyMessage) {
    Outcome o = readData(".\r\nQUIT\r\n");
    CHECK_TRUE(o.finished);
    LONGS_EQUAL(3, o.consumed);
    STRCMP_EQUAL("", o.content.c_str());
}

TEST(DataReader, DotFirstIsNoEndWhenTheDataCommandEndedInABareLf) {
    DataReader reader = DataReader::forData({}, false);
    std::string out;
    LONGS_EQUAL(3, reader.feed(".\r\n", out));
    CHECK_FALSE(reader.finished());
    LONGS_EQUAL(6, reader.feed("x\r\n.\r\nQUIT", out));
    CHECK_TRUE(reader.finished());
    STRCMP_EQUAL("\r\nx\r\n", out.c_str());
}

TEST(DataReader, UnfinishedInputWaitsForMore) {
    for (const char* input : {"abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\r\n..\r\n"}) {
        Outcome o = readData(input);
        CHECK_FALSE(o.finished);
        LONGS_EQUAL(strlen(input), o.consumed);
    }
}

TEST(DataReader, DotUnstuffing) {
    STRCMP_EQUAL(".leading\r\n..two\r\nmid.dle\r\n.\r\n",
                 readData("..leading\r\n...two\r\nmid.dle\r\n..\r\n.\r\n").content.c_str());
    STRCMP_EQUAL("x\r\n", readData(".x\r\n.\r\n").content.c_str());  // a lone leading dot is dropped
}

TEST(DataReader, SmugglingSequencesNeverEndTheMessage) {
    for (const char* sequence : {"\n.\n", "\r.\r", "\r\n.\r", "\n.\r\n", "\r.\n", "\r\n.\n", "\r.\r\n",
                                 "\n.\r", "\n.\n\r", "\r\n.\r\r\n", "\r\n.\n\r\n", "\n\n.\n\n", "\r\r.\r\r",
                                 "\r\n.\r.\r\n", "\n..\n"})
        checkNotAnEnd(sequence);
}

TEST(DataReader, ADotLineWithMoreOnItIsContent) {
    const std::string input = std::string("a\r\n.\0\r\n. \r\n.x\r\n.\r\nQUIT", 22);
    Outcome o = readData(input);
    CHECK_TRUE(o.finished);
    LONGS_EQUAL(input.size() - 4, o.consumed);
    STRCMP_EQUAL("a\\r\\n\\x00\\r\\n \\r\\nx\\r\\n", printable(o.content).c_str());
}

TEST(DataReader, ExactSequenceAfterABareLineEndStillEnds) {
    // CR CR LF . CR LF holds the five bytes CR LF . CR LF: that is the real end.
    const std::string input = "body\r\r\n.\r\nQUIT\r\n";
    Outcome o = readData(input);
    CHECK_TRUE(o.finished);
    LONGS_EQUAL(input.find("QUIT"), o.consumed);
    STRCMP_EQUAL("body\r\n\r\n", o.content.c_str());
    CHECK_TRUE(o.stats.bareNewline);
    Outcome lf = readData("body\n\r\n.\r\nQUIT\r\n");
    CHECK_TRUE(lf.finished);
    STRCMP_EQUAL("body\r\n\r\n", lf.content.c_str());
}

TEST(DataReader, BareLineEndsBecomeCrLfAndBareDotLinesBecomeEmpty) {
    Outcome o = readData("a\nb\rc\n.\nd\r\n.\r\n");
    STRCMP_EQUAL("a\r\nb\r\nc\r\n\r\nd\r\n", o.content.c_str());
    CHECK_TRUE(o.stats.bareNewline);
    // A bare CR at the very start of data.
    STRCMP_EQUAL("\r\nx\r\n", readData("\rx\r\n.\r\n").content.c_str());
}

TEST(DataReader, CrLfSplitAcrossFeedsIsOneLineEnd) {
    DataReader reader = DataReader::forData({});
    std::string out;
    LONGS_EQUAL(2, reader.feed("a\r", out));
    LONGS_EQUAL(3, reader.feed("\n.\r", out));
    CHECK_FALSE(reader.finished());
    LONGS_EQUAL(1, reader.feed("\nQUIT", out));
    CHECK_TRUE(reader.finished());
    STRCMP_EQUAL("a\r\n", out.c_str());
    CHECK_FALSE(reader.stats().bareNewline);
    LONGS_EQUAL(0, reader.feed("more", out));
}

TEST(DataReader, EverySplitPointGivesTheSameResult) {
    const std::string input = "H: v\r\n cont\r\n\r\n..a\rb\nc\r\n.\n\xC3\xA9\r\n.\r\nNEXT";
    const Outcome whole = readData(input);
    for (size_t cut = 0; cut <= input.size(); ++cut) {
        DataReader reader = DataReader::forData({});
        Outcome split;
        split.consumed = reader.feed(std::string_view(input).substr(0, cut), split.content);
        if (!reader.finished()) split.consumed += reader.feed(std::string_view(input).substr(cut), split.content);
        split.finished = reader.finished();
        split.stats = reader.stats();
        checkSame(whole, split);
    }
}

TEST(DataReader, SizeLimitStopsStoringButReadsToTheEnd) {
    const std::string body = std::string(100, 'x') + "\r\n";
    const std::string input = body + body + body + ".\r\nQUIT\r\n";
    Outcome o = readData(input, DataOptions{.messageSizeLimit = 250});
    CHECK_TRUE(o.finished);
    LONGS_EQUAL(input.find("QUIT"), o.consumed);
    CHECK_TRUE(o.stats.tooBig);
    CHECK_TRUE(o.stats.size == 306u);
    LONGS_EQUAL(250, o.content.size());  // the first 250 octets, whatever the pieces
    STRCMP_EQUAL("552 5.3.4 Error: message file too big\r\n", o.rejection->format().c_str());
    Outcome fits = readData(input, DataOptions{.messageSizeLimit = 306});
    CHECK_FALSE(fits.stats.tooBig);
    LONGS_EQUAL(306, fits.content.size());
    CHECK_FALSE(fits.rejection.has_value());
}

TEST(DataReader, SizeLimitMayCutBetweenCrAndLf) {
    // Found by fuzz_smtp_data: the stored prefix of a too big message may end in a CR.
    Outcome o = readData("abc\r\ndef\r\n.\r\n", DataOptions{.messageSizeLimit = 4});
    STRCMP_EQUAL("abc\r", o.content.c_str());
    CHECK_TRUE(o.stats.tooBig);
}

TEST(DataReader, BareNewlineRejectionComesBeforeSize) {
    Outcome o = readData("a\nbbbbbbbbbb\r\n.\r\n",
                         DataOptions{.bareNewline = BareNewlinePolicy::reject, .messageSizeLimit = 5});
    CHECK_TRUE(o.stats.tooBig);
    LONGS_EQUAL(550, o.rejection->code);
}

TEST(DataReader, EightBitDetection) {
    CHECK_FALSE(readData("plain\r\n.\r\n").stats.eightBit);
    CHECK_TRUE(readData("caf\xC3\xA9\r\n.\r\n").stats.eightBit);
    CHECK_TRUE(readData(".\xFF\r\n.\r\n").stats.eightBit);
}

TEST(DataReader, LongLinesAreKeptWholeAndCounted) {
    const std::string line(3000, 'y');
    Outcome o = readData("short\r\n" + line + "\r\n" + line + "y\r\n.\r\n", DataOptions{.lineLengthLimit = 2048});
    CHECK_TRUE(o.stats.longestLine == 3001u);
    CHECK_TRUE(o.stats.overlongLines == 2u);
    LONGS_EQUAL(7 + 3002 + 3003, o.content.size());
    // The unstuffed dot does not count toward the length.
    CHECK_TRUE(readData(".." + std::string(10, 'z') + "\r\n.\r\n").stats.longestLine == 11u);
}

TEST(DataReader, HeaderSectionSize) {
    const std::string headers = "From: a@example.com\r\nSubject: one\r\n two\r\n";
    Outcome o = readData(headers + "\r\nbody: not a header\r\n.\r\n");
    CHECK_TRUE(o.stats.headerSize == headers.size());
    CHECK_FALSE(o.stats.headerTooBig);
    // Without an empty line, the first line that is no header starts the body.
    CHECK_TRUE(readData("A: 1\r\nnot a header\r\nB: 2\r\n.\r\n").stats.headerSize == 6u);
    CHECK_TRUE(readData("Obsolete : spacing\r\n\r\n.\r\n").stats.headerSize == 20u);
    CHECK_TRUE(readData(" leading space\r\nA: 1\r\n.\r\n").stats.headerSize == 0u);
    CHECK_TRUE(readData(":no name\r\n.\r\n").stats.headerSize == 0u);
    CHECK_TRUE(readData("\r\nA: 1\r\n.\r\n").stats.headerSize == 0u);
}

TEST(DataReader, HeaderSizeLimitIsPerLogicalHeader) {
    const DataOptions options{.headerSizeLimit = 25};
    CHECK_FALSE(readData("A: 0123456789\r\nB: 0123456789\r\n\r\n.\r\n", options).stats.headerTooBig);
    CHECK_TRUE(readData("A: 0123456789\r\n 0123456789\r\n\r\n.\r\n", options).stats.headerTooBig);
    CHECK_FALSE(readData("A: 1\r\n\r\n" + std::string(100, 'b') + "\r\n.\r\n", options).stats.headerTooBig);
}

TEST_GROUP(BdatReader){};

TEST(BdatReader, NoDotHandlingAndNoEndSequence) {
    DataReader reader = DataReader::forBdat({});
    std::string out;
    const std::string chunk = "Subject: x\r\n\r\n.\r\n..dots\r\n";
    LONGS_EQUAL(chunk.size(), reader.feed(chunk, out));
    CHECK_FALSE(reader.finished());
    reader.finish(out);
    CHECK_TRUE(reader.finished());
    STRCMP_EQUAL(chunk.c_str(), out.c_str());
    CHECK_TRUE(reader.stats().headerSize == 12u);
}

TEST(BdatReader, NormalizesBareLineEndsAcrossChunks) {
    DataReader reader = DataReader::forBdat({});
    std::string out;
    reader.feed("a\nb\r", out);
    reader.feed("\nc\r", out);   // CR LF split across chunks: one line end
    reader.feed("d\r", out);     // bare CR
    reader.finish(out);          // a CR held at the very end is bare too
    STRCMP_EQUAL("a\r\nb\r\nc\r\nd\r\n", out.c_str());
    CHECK_TRUE(reader.stats().bareNewline);
}

TEST(BdatReader, RejectPolicyFlagsBareLineEnds) {
    DataReader reader = DataReader::forBdat(DataOptions{.bareNewline = BareNewlinePolicy::reject});
    std::string out;
    reader.feed("a\nb", out);
    reader.finish(out);
    LONGS_EQUAL(550, reader.rejection()->code);
    CHECK_TRUE(reader.stats().longestLine == 1u);
}

TEST(BdatReader, BinaryKeepsEveryByte) {
    DataReader reader = DataReader::forBdat({}, true);
    std::string out;
    const std::string bytes("a\nb\rc\r\n\0\xFF\r", 11);
    reader.feed(bytes, out);
    reader.finish(out);
    STRCMP_EQUAL(printable(bytes).c_str(), printable(out).c_str());
    CHECK_FALSE(reader.stats().bareNewline);
    CHECK_TRUE(reader.stats().eightBit);
    CHECK_TRUE(reader.stats().size == bytes.size());
    CHECK_FALSE(reader.rejection().has_value());
}

TEST(BdatReader, SizeLimit) {
    DataReader reader = DataReader::forBdat(DataOptions{.messageSizeLimit = 10});
    std::string out;
    reader.feed("0123456789", out);
    CHECK_FALSE(reader.stats().tooBig);
    reader.feed("\r\n", out);
    reader.finish(out);
    CHECK_TRUE(reader.stats().tooBig);
    LONGS_EQUAL(552, reader.rejection()->code);
    STRCMP_EQUAL("0123456789", out.c_str());
}
