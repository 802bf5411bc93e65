// text_escape_test.cpp: unit tests for lib/text_escape.h and lib/utf8.h.
#include <CppUTest/TestHarness.h>

#include <string>

#include "text_escape.h"
#include "utf8.h"

using namespace postern;

TEST_GROUP(Utf8){};

TEST(Utf8, AcceptsWellFormedSequences) {
    CHECK_TRUE(isValidUtf8(""));
    CHECK_TRUE(isValidUtf8("plain ascii"));
    CHECK_TRUE(isValidUtf8("gr\xC3\xBC\xC3\x9F"));           // grüß
    CHECK_TRUE(isValidUtf8("\xE2\x82\xAC"));                 // €
    CHECK_TRUE(isValidUtf8("\xF0\x9F\x98\x80"));             // U+1F600
    CHECK_TRUE(isValidUtf8("\xF4\x8F\xBF\xBF"));             // U+10FFFF
}

TEST(Utf8, RefusesMalformedSequences) {
    CHECK_FALSE(isValidUtf8("\x80"));                // lone continuation
    CHECK_FALSE(isValidUtf8("\xC3"));                // truncated
    CHECK_FALSE(isValidUtf8("\xC0\xAF"));            // overlong '/'
    CHECK_FALSE(isValidUtf8("\xE0\x80\xAF"));        // overlong 3-byte
    CHECK_FALSE(isValidUtf8("\xED\xA0\x80"));        // surrogate U+D800
    CHECK_FALSE(isValidUtf8("\xF4\x90\x80\x80"));    // above U+10FFFF
    CHECK_FALSE(isValidUtf8("\xF8\x88\x80\x80\x80"));// 5-byte form
    CHECK_FALSE(isValidUtf8("\xE2\x82"));            // truncated €
}

TEST(Utf8, DecodesAndEncodesCodePoints) {
    const std::string euro = "\xE2\x82\xAC";
    LONGS_EQUAL(3, utf8SequenceLength(euro, 0));
    LONGS_EQUAL(0x20AC, utf8CodePoint(euro, 0));
    for (char32_t cp : {U'A', U'\u00E9', U'\u20AC', U'\U0001F600', U'\U0010FFFF'}) {
        std::string encoded;
        appendUtf8(encoded, cp);
        CHECK_TRUE(isValidUtf8(encoded));
        LONGS_EQUAL(cp, utf8CodePoint(encoded, 0));
    }
    CHECK_TRUE(hasNonAscii("a\xC3\xA9"));
    CHECK_FALSE(hasNonAscii("abc~\x7F"));
}

TEST_GROUP(TextEscape){};

TEST(TextEscape, KeepsPrintableText) {
    STRCMP_EQUAL("hello, world <a@b> \\ ok", printable("hello, world <a@b> \\ ok").c_str());
    STRCMP_EQUAL("gr\xC3\xBC\xC3\x9F", printable("gr\xC3\xBC\xC3\x9F").c_str());
}

TEST(TextEscape, EscapesControlsAndLineEnds) {
    STRCMP_EQUAL("a\\r\\nb\\tc", printable("a\r\nb\tc").c_str());
    STRCMP_EQUAL("\\x00\\x1B[31m\\x7F", printable(std::string("\0\x1B[31m\x7F", 7)).c_str());
}

TEST(TextEscape, EscapesInvalidUtf8AndC1Controls) {
    STRCMP_EQUAL("\\xC3(", printable("\xC3(").c_str());
    STRCMP_EQUAL("\\xC2\\x9B", printable("\xC2\x9B").c_str());           // U+009B CSI
    STRCMP_EQUAL("a\\xE2\\x80\\xA8b", printable("a\xE2\x80\xA8" "b").c_str());  // U+2028
}

TEST(TextEscape, AsciiModeEscapesAllNonAscii) {
    STRCMP_EQUAL("gr\\xC3\\xBC", printable("gr\xC3\xBC", EscapeCharset::ascii).c_str());
    CHECK_TRUE(isPrintable("gr\xC3\xBC"));
    CHECK_FALSE(isPrintable("gr\xC3\xBC", EscapeCharset::ascii));
}

TEST(TextEscape, IsIdempotent) {
    const std::string nasty("x\r\n\0\xFF\xC2\x85y\\x41", 11);
    const std::string once = printable(nasty);
    STRCMP_EQUAL(once.c_str(), printable(once).c_str());
    CHECK_TRUE(isPrintable(once));
}

TEST(TextEscape, TruncatesAtWholeEscapes) {
    STRCMP_EQUAL("abcde", printableTruncated("abcde", 5).c_str());
    STRCMP_EQUAL("ab...", printableTruncated("abcdef", 5).c_str());
    // "\r" escapes to two characters: it must not be cut in half.
    STRCMP_EQUAL("a...", printableTruncated("a\rbcdef", 5).c_str());
    STRCMP_EQUAL("a\\r...", printableTruncated("a\rbcdef", 6).c_str());
    // A UTF-8 character is never split.
    STRCMP_EQUAL("...", printableTruncated("\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 5).c_str());
    STRCMP_EQUAL("", printableTruncated("abcdef", 2).c_str());
}
