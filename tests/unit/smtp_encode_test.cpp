// smtp_encode_test.cpp: unit tests for lib/smtp_encode.h, the SMTP client's DATA encoder
// (dot-stuffing, CR LF line ends, long line breaking), and its agreement with the
// server's DataReader.
#include <CppUTest/TestHarness.h>

#include <string>

#include "smtp_data.h"
#include "smtp_encode.h"
#include "text_escape.h"

using namespace postern;

namespace {

void checkEncodes(std::string_view content, std::string_view wire, size_t limit = 998) {
    STRCMP_EQUAL(printable(wire).c_str(), printable(encodeData(content, limit)).c_str());
    // Byte by byte gives the same wire form.
    DataEncoder encoder(limit);
    std::string out;
    for (char c : content) encoder.encode(std::string_view(&c, 1), out);
    encoder.finish(out);
    STRCMP_EQUAL(printable(wire).c_str(), printable(out).c_str());
}

// What a DataReader makes of the wire form, and where it stops.
std::string serverReads(const std::string& wire, size_t& consumed) {
    DataReader reader = DataReader::forData({});
    std::string content;
    consumed = reader.feed(wire, content);
    CHECK_TRUE(reader.finished());
    return content;
}

}  // namespace

TEST_GROUP(DataEncoder){};

TEST(DataEncoder, TerminatesAndCanonicalisesLineEnds) {
    checkEncodes("", ".\r\n");
    checkEncodes("a\r\nb\r\n", "a\r\nb\r\n.\r\n");
    checkEncodes("a\r\nb", "a\r\nb\r\n.\r\n");  // a last line without line end
    checkEncodes("a\nb\n", "a\r\nb\r\n.\r\n");
    checkEncodes("a\rb\r", "a\r\nb\r\n.\r\n");
    checkEncodes("a\r\r\nb", "a\r\n\r\nb\r\n.\r\n");
}

TEST(DataEncoder, DotStuffsEveryLineStart) {
    checkEncodes(".", "..\r\n.\r\n");
    checkEncodes(".hidden\r\nmid.dot\r\n..two\r\n", "..hidden\r\nmid.dot\r\n...two\r\n.\r\n");
    checkEncodes("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n");   // after a bare LF too
    checkEncodes("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n");   // and after a bare CR
}

TEST(DataEncoder, StoredSmugglingSequencesCannotEndOurData) {
    for (const char* content : {"x\n.\ny", "x\r.\ry", "x\r\n.\ny", "x\n.\r\ny", "x\r.\r\ny", "x\r\n.\ry"}) {
        const std::string wire = encodeData(content);
        size_t consumed = 0;
        serverReads(wire, consumed);
        LONGS_EQUAL(wire.size(), consumed);  // the server sees only our real end
        LONGS_EQUAL(wire.size() - 5, wire.find("\r\n.\r\n"));  // the only end sequence is the last
    }
}

TEST(DataEncoder, PieceBoundariesDoNotMatter) {
    DataEncoder encoder;
    std::string out;
    encoder.encode("line\r", out);
    encoder.encode("\n.dot\n", out);
    encoder.encode(".", out);
    encoder.encode("x\r", out);
    encoder.finish(out);
    STRCMP_EQUAL("line\r\n..dot\r\n..x\r\n.\r\n", out.c_str());
}

TEST(DataEncoder, BreaksLongLinesWithCrLfSpace) {
    const std::string exact(998, 'a');
    checkEncodes(exact + "\r\n", exact + "\r\n.\r\n");
    checkEncodes(exact + "b\r\n", exact + "\r\n b\r\n.\r\n");
    const std::string twice(998 * 2 + 10, 'c');
    const std::string wire = encodeData(twice);
    // 998, then a space + 997, then a space + 11.
    CHECK_EQUAL(std::string(998, 'c') + "\r\n " + std::string(997, 'c') + "\r\n " + std::string(11, 'c') + "\r\n.\r\n", wire);
    DataEncoder encoder;
    std::string out;
    encoder.encode(twice, out);
    CHECK_TRUE(encoder.brokenLines() == 2u);
}

TEST(DataEncoder, StuffedDotDoesNotCountTowardTheLimit) {
    checkEncodes("." + std::string(4, 'd'), ".." + std::string(4, 'd') + "\r\n.\r\n", 5);
    checkEncodes("." + std::string(5, 'd'), ".." + std::string(4, 'd') + "\r\n d\r\n.\r\n", 5);
}

TEST(DataEncoder, NoLimitMeansNoBreaks) {
    const std::string line(5000, 'e');
    checkEncodes(line, line + "\r\n.\r\n", 0);
}

TEST(DataEncoder, ServerReadsBackWhatTheClientSent) {
    const std::string content = "From: a@example.com\r\n\r\n.\r\n..\r\n.x\r\nend\r\n";
    const std::string wire = encodeData(content) + "QUIT\r\n";
    size_t consumed = 0;
    STRCMP_EQUAL(content.c_str(), serverReads(wire, consumed).c_str());
    LONGS_EQUAL(wire.size() - 6, consumed);
}

namespace {

// The encoder's rules applied one octet at a time, as the first version of
// smtp_encode.cpp did: the reference the run-based encoder must agree with.
struct ReferenceEncoder {
    explicit ReferenceEncoder(size_t lineLengthLimit) : limit(lineLengthLimit) {}
    size_t limit;
    size_t column = 0;
    bool atLineStart = true;
    bool crPending = false;
    uint64_t broken = 0;
    std::string out;

    void endLine() {
        out += "\r\n";
        column = 0;
        atLineStart = true;
    }
    void put(char c) {
        if (limit != 0 && column >= limit) {
            out += "\r\n ";
            column = 1;
            ++broken;
        } else if (atLineStart && c == '.') {
            out += '.';
        }
        atLineStart = false;
        out += c;
        ++column;
    }
    void encode(std::string_view content) {
        for (char c : content) {
            if (crPending) {
                crPending = false;
                endLine();
                if (c == '\n') continue;
            }
            if (c == '\r') {
                crPending = true;
            } else if (c == '\n') {
                endLine();
            } else {
                put(c);
            }
        }
    }
};

}  // namespace

TEST(DataEncoder, RunsAgreeWithTheOctetByOctetRules) {
    const char alphabet[] = {'a', 'b', '.', ' ', '\r', '\n'};
    uint32_t seed = 12345;
    auto next = [&seed](uint32_t bound) {
        seed = seed * 1103515245u + 12345u;
        return (seed >> 8) % bound;
    };
    for (int round = 0; round < 2000; ++round) {
        std::string content;
        size_t length = next(300);
        // Mostly ordinary octets, so runs and long lines occur.
        for (size_t i = 0; i < length; ++i) content += next(4) ? alphabet[next(2)] : alphabet[2 + next(4)];
        const size_t limits[] = {0, 1, 2, 3, 5, 17, 998};
        size_t limit = limits[next(7)];
        ReferenceEncoder reference(limit);
        reference.encode(content);
        DataEncoder encoder(limit);
        std::string out;
        for (size_t at = 0; at < content.size();) {
            size_t piece = std::min<size_t>(content.size() - at, 1 + next(40));
            encoder.encode(std::string_view(content).substr(at, piece), out);
            at += piece;
        }
        STRCMP_EQUAL(printable(reference.out).c_str(), printable(out).c_str());
        CHECK_TRUE(reference.broken == encoder.brokenLines());
    }
}
