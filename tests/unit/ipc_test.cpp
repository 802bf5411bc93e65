// ipc_test.cpp: unit tests for lib/ipc.h: frame round trips, the strict decoder (every
// truncation point, oversized, repeated, malformed names, leftovers) and AttributeReader.
#include "ipc.h"

#include <limits>
#include <string>

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::ipc;

namespace {

const FrameRules kRules{kDefaultMaxFrameBytes, {{"test", 1}}};

std::string u32(uint32_t v) {
    std::string out;
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
    return out;
}

// A body by hand: protocol "test" version 1, the given count, then raw attribute bytes.
std::string rawBody(uint32_t count, const std::string& attributes) {
    return std::string("\x04test\x00\x01", 7) + u32(count) + attributes;
}

std::string rawAttribute(const std::string& name, const std::string& value) {
    return static_cast<char>(name.size()) + name + u32(value.size()) + value;
}

std::string frameOf(const std::string& body) {
    return "PSTN" + u32(body.size()) + body;
}

DecodeResult decode(const std::string& bytes) {
    return decodeFrame(bytes, kRules);
}

void checkRefused(const std::string& bytes, const char* reason) {
    DecodeResult result = decode(bytes);
    LONGS_EQUAL(static_cast<int>(DecodeStatus::Error), static_cast<int>(result.status));
    if (result.error.find(reason) == std::string::npos) FAIL(result.error.c_str());
}

Message sample() {
    Message message("test", 1);
    message.addString("text", std::string("a\0b\xff\r\n", 6))
        .addString("empty", "")
        .addInt("small", std::numeric_limits<int64_t>::min())
        .addInt("big", std::numeric_limits<int64_t>::max())
        .addInt("zero", 0)
        .addBool("yes", true)
        .addBool("no", false);
    return message;
}

}  // namespace

TEST_GROUP(IpcFrame){};

TEST(IpcFrame, RoundTripsEveryAttributeType) {
    std::string frame = encodeFrame(sample());
    DecodeResult result = decode(frame);
    LONGS_EQUAL(static_cast<int>(DecodeStatus::Message), static_cast<int>(result.status));
    LONGS_EQUAL(frame.size(), result.frameBytes);
    STRCMP_EQUAL("test", result.message.protocol().c_str());
    LONGS_EQUAL(1, result.message.version());
    LONGS_EQUAL(7, result.message.attributes().size());
    STRCMP_EQUAL("small", result.message.attributes()[2].name.c_str());

    AttributeReader reader(result.message);
    CHECK(std::string("a\0b\xff\r\n", 6) == reader.string("text"));
    CHECK(reader.string("empty").empty());
    CHECK(std::numeric_limits<int64_t>::min() ==
          reader.int64("small", std::numeric_limits<int64_t>::min(), 0));
    CHECK(std::numeric_limits<int64_t>::max() ==
          reader.int64("big", 0, std::numeric_limits<int64_t>::max()));
    LONGS_EQUAL(0, reader.int64("zero", 0, 0));
    CHECK_TRUE(reader.boolean("yes"));
    CHECK_FALSE(reader.boolean("no"));
    CHECK_FALSE(reader.optionalString("absent").has_value());
    CHECK_TRUE(reader.finish().ok());
}

TEST(IpcFrame, KnownBytes) {
    Message message("test", 1);
    message.addString("k", "v");
    std::string expected = frameOf(rawBody(1, rawAttribute("k", "v")));
    CHECK(expected == encodeFrame(message));
}

TEST(IpcFrame, EveryPrefixOfAFrameNeedsMore) {
    std::string frame = encodeFrame(sample());
    for (size_t cut = 0; cut < frame.size(); ++cut) {
        DecodeResult result = decode(frame.substr(0, cut));
        if (result.status != DecodeStatus::NeedMore)
            FAIL(("prefix " + std::to_string(cut)).c_str());
        LONGS_EQUAL(cut < kFrameHeaderBytes ? 0 : frame.size(), result.frameBytes);
    }
}

TEST(IpcFrame, EveryTruncatedBodyIsRefused) {
    std::string body = encodeFrame(sample()).substr(kFrameHeaderBytes);
    for (size_t cut = 0; cut < body.size(); ++cut) {
        DecodeResult result = decode(frameOf(body.substr(0, cut)));
        if (result.status != DecodeStatus::Error)
            FAIL(("body cut at " + std::to_string(cut)).c_str());
    }
}

TEST(IpcFrame, TrailingBytesInsideAFrameAreRefused) {
    checkRefused(frameOf(encodeFrame(sample()).substr(kFrameHeaderBytes) + "x"), "trailing");
}

TEST(IpcFrame, TwoFramesBackToBack) {
    Message second("test", 1);
    second.addString("n", "2");
    std::string first = encodeFrame(sample());
    std::string stream = first + encodeFrame(second);
    DecodeResult one = decode(stream);
    LONGS_EQUAL(first.size(), one.frameBytes);
    DecodeResult two = decode(stream.substr(one.frameBytes));
    LONGS_EQUAL(static_cast<int>(DecodeStatus::Message), static_cast<int>(two.status));
    STRCMP_EQUAL("2", two.message.find("n")->c_str());
}

TEST(IpcFrame, OversizedFrameIsRefusedFromTheHeaderAlone) {
    FrameRules small{64, {{"test", 1}}};
    std::string header = "PSTN" + u32(64 - kFrameHeaderBytes + 1);
    DecodeResult result = decodeFrame(header, small);
    LONGS_EQUAL(static_cast<int>(DecodeStatus::Error), static_cast<int>(result.status));
    CHECK(result.error.find("exceeds") != std::string::npos);
    std::string fits = frameOf(rawBody(1, rawAttribute("k", std::string(64 - 8 - 7 - 4 - 6, 'x'))));
    LONGS_EQUAL(64, fits.size());
    LONGS_EQUAL(static_cast<int>(DecodeStatus::Message),
                static_cast<int>(decodeFrame(fits, small).status));
    checkRefused("PSTN" + u32(0xffffffff), "exceeds");
}

TEST(IpcFrame, GarbageIsRefusedAtTheFirstWrongByte) {
    checkRefused("X", "magic");
    checkRefused("PSTX", "magic");
    checkRefused("GET / HTTP/1.0\r\n\r\n", "magic");
}

TEST(IpcFrame, RepeatedAttributeIsRefused) {
    checkRefused(frameOf(rawBody(2, rawAttribute("k", "1") + rawAttribute("k", "2"))),
                 "repeated attribute k");
}

TEST(IpcFrame, BadAttributeNamesAreRefused) {
    checkRefused(frameOf(rawBody(1, rawAttribute("", "v"))), "invalid attribute #1 name");
    checkRefused(frameOf(rawBody(1, rawAttribute("a b", "v"))), "invalid");
    checkRefused(frameOf(rawBody(1, rawAttribute(std::string("a\0", 2), "v"))), "invalid");
    checkRefused(frameOf(rawBody(1, rawAttribute("caf\xc3\xa9", "v"))), "invalid");
    checkRefused(frameOf(rawBody(1, rawAttribute("x\x7f", "v"))), "invalid");
}

TEST(IpcFrame, OversizedFieldsAreRefused) {
    std::string hugeValue = std::string("\x01k", 2) + u32(1000) + "short";
    checkRefused(frameOf(rawBody(1, hugeValue)), "truncated attribute #1 value");
    checkRefused(frameOf(rawBody(1000, rawAttribute("k", "v"))), "does not fit");
    checkRefused(frameOf(rawBody(2, rawAttribute("k", "v"))), "does not fit");
}

TEST(IpcFrame, UnexpectedProtocolOrVersionIsRefused) {
    Message other("status", 1);
    checkRefused(encodeFrame(other), "unexpected protocol status version 1");
    Message newer("test", 2);
    checkRefused(encodeFrame(newer), "unexpected protocol test version 2");
    checkRefused(frameOf(std::string("\x00\x00\x01", 3) + u32(0)), "invalid protocol name");
}

TEST(IpcFrame, ParsesOnlyStrictDecimal) {
    CHECK(parseDecimal("0") == 0);
    CHECK(parseDecimal("-17") == -17);
    CHECK(parseDecimal("9223372036854775807") == std::numeric_limits<int64_t>::max());
    for (const char* bad : {"", "-", "-0", "01", "+1", " 1", "1 ", "1a", "0x10",
                            "9223372036854775808", "-9223372036854775809"}) {
        if (parseDecimal(bad).has_value()) FAIL(bad);
    }
}

TEST_GROUP(IpcReader){};

TEST(IpcReader, RefusesLeftovers) {
    Message message("test", 1);
    message.addString("wanted", "x").addString("extra", "y");
    AttributeReader reader(message);
    STRCMP_EQUAL("x", reader.string("wanted").c_str());
    Status status = reader.finish();
    CHECK_FALSE(status.ok());
    STRCMP_EQUAL("unexpected attribute extra", status.error().c_str());
}

TEST(IpcReader, MissingRequiredAttribute) {
    Message message("test", 1);
    AttributeReader reader(message);
    CHECK_TRUE(reader.optionalInt64("n", 0, 1) == std::nullopt);
    CHECK_TRUE(reader.ok());
    reader.string("id");
    STRCMP_EQUAL("missing attribute id", reader.finish().error().c_str());
}

TEST(IpcReader, RangeAndTypeErrorsAreStickyAndFirstWins) {
    Message message("test", 1);
    message.addInt("count", 1001).addString("flag", "yes").addString("id", "abc");
    AttributeReader reader(message);
    LONGS_EQUAL(0, reader.int64("count", 0, 1000));
    CHECK_FALSE(reader.ok());
    CHECK_FALSE(reader.boolean("flag"));
    CHECK(reader.string("id").empty());
    STRCMP_EQUAL("attribute count out of range [0, 1000]", reader.finish().error().c_str());
}

TEST(IpcReader, MalformedValuesAreErrors) {
    Message message("test", 1);
    message.addString("n", "12x").addString("b", "true");
    AttributeReader numbers(message);
    numbers.int64("n", 0, 100);
    STRCMP_EQUAL("attribute n is not a decimal integer", numbers.finish().error().c_str());
    AttributeReader flags(message);
    flags.optionalBoolean("b");
    STRCMP_EQUAL("attribute b is not a boolean", flags.finish().error().c_str());
}
