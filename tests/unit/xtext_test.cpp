// xtext_test.cpp: unit tests for lib/xtext.h (RFC 3461 xtext, RFC 6533 utf-8-addr-xtext).
#include <CppUTest/TestHarness.h>

#include <string>

#include "xtext.h"

using namespace postern;

TEST_GROUP(Xtext){};

TEST(Xtext, DecodesPlainAndHexChars) {
    auto decoded = decodeXtext("abc+2Bdef+3D+20x");
    CHECK_TRUE(decoded.ok());
    STRCMP_EQUAL("abc+def= x", decoded->c_str());
    auto nul = decodeXtext("a+00b");
    CHECK_TRUE(nul.ok());
    LONGS_EQUAL(3, nul->size());
    CHECK_EQUAL('\0', (*nul)[1]);
    CHECK_TRUE(decodeXtext("").ok());
}

TEST(Xtext, RefusesWhatTheGrammarDoesNotAllow) {
    CHECK_FALSE(decodeXtext("a+2b").ok());   // lowercase hex
    CHECK_FALSE(decodeXtext("a+2").ok());    // short
    CHECK_FALSE(decodeXtext("a+").ok());
    CHECK_FALSE(decodeXtext("a+G0").ok());
    CHECK_FALSE(decodeXtext("a=b").ok());    // '=' must be encoded
    CHECK_FALSE(decodeXtext("a b").ok());    // space
    CHECK_FALSE(decodeXtext("a\x7F").ok());  // DEL
    CHECK_FALSE(decodeXtext("caf\xC3\xA9").ok());
    STRCMP_EQUAL("character not allowed in xtext: ' '", decodeXtext("a b").error().c_str());
    STRCMP_EQUAL("bad xtext escape at offset 1 (need + and two uppercase hex digits)",
                 decodeXtext("a+2b").error().c_str());
}

TEST(Xtext, EncodesAndRoundTrips) {
    STRCMP_EQUAL("a+2Bb+3Dc+20d+0D+0A+FF", encodeXtext("a+b=c d\r\n\xFF").c_str());
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    auto back = decodeXtext(encodeXtext(all));
    CHECK_TRUE(back.ok());
    CHECK_TRUE(*back == all);
}

TEST_GROUP(Utf8AddrXtext){};

TEST(Utf8AddrXtext, DecodesEmbeddedUnicode) {
    auto decoded = decodeUtf8AddrXtext("caf\\x{E9}@example.com", false);
    CHECK_TRUE(decoded.ok());
    STRCMP_EQUAL("caf\xC3\xA9@example.com", decoded->c_str());
    auto plus = decodeUtf8AddrXtext("a\\x{2B}b\\x{3D}c\\x{5C}@x", false);
    CHECK_TRUE(plus.ok());
    STRCMP_EQUAL("a+b=c\\@x", plus->c_str());
    auto emoji = decodeUtf8AddrXtext("\\x{1F600}@x", false);
    CHECK_TRUE(emoji.ok());
    STRCMP_EQUAL("\xF0\x9F\x98\x80@x", emoji->c_str());
}

TEST(Utf8AddrXtext, RawUtf8OnlyInUnitext) {
    CHECK_FALSE(decodeUtf8AddrXtext("caf\xC3\xA9@x", false).ok());
    CHECK_TRUE(decodeUtf8AddrXtext("caf\xC3\xA9@x", true).ok());
    CHECK_FALSE(decodeUtf8AddrXtext("caf\xC3@x", true).ok());  // malformed
}

TEST(Utf8AddrXtext, RefusesBadEscapes) {
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{e9}", false).ok());      // lowercase
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{E}", false).ok());       // one digit
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{00E9}", false).ok());    // leading zero
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{D800}", false).ok());    // surrogate
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{110000}", false).ok());  // too big
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{00}", false).ok());      // NUL
    CHECK_FALSE(decodeUtf8AddrXtext("a\\x{E9", false).ok());       // unclosed
    CHECK_FALSE(decodeUtf8AddrXtext("a\\b", false).ok());          // bare backslash
    CHECK_FALSE(decodeUtf8AddrXtext("a+b", false).ok());
    CHECK_FALSE(decodeUtf8AddrXtext("a=b", false).ok());
    CHECK_FALSE(decodeUtf8AddrXtext("a b", false).ok());
    STRCMP_EQUAL("character not allowed in utf-8-addr-xtext at offset 1",
                 decodeUtf8AddrXtext("a\\x{e9}", false).error().c_str());
}

TEST(Utf8AddrXtext, EncodesAsciiOnlyAndRoundTrips) {
    const std::string address = "j\xC3\xB6rg+tag=1\\x@b\xC3\xBC" "cher.example";
    const std::string encoded = encodeUtf8AddrXtext(address);
    STRCMP_EQUAL("j\\x{F6}rg\\x{2B}tag\\x{3D}1\\x{5C}x@b\\x{FC}cher.example", encoded.c_str());
    auto back = decodeUtf8AddrXtext(encoded, false);
    CHECK_TRUE(back.ok());
    CHECK_TRUE(*back == address);
    STRCMP_EQUAL("\\x{0A}", encodeUtf8AddrXtext("\n").c_str());
}
