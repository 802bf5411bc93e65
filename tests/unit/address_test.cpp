// address_test.cpp: unit tests for lib/address.h (envelope paths, RFC 5321 / 6531).
#include <CppUTest/TestHarness.h>

#include <string>

#include "address.h"

using namespace postern;

namespace {

const AddressOptions kAscii{};
const AddressOptions kUtf8{.smtputf8 = true};

Address parsed(std::string_view text, PathType type = PathType::forward, const AddressOptions& options = kAscii) {
    auto result = parsePath(text, type, options);
    if (!result) FAIL(("expected to parse: " + std::string(text) + ": " + result.error()).c_str());
    return result.value();
}

std::string refusal(std::string_view text, PathType type = PathType::forward, const AddressOptions& options = kAscii) {
    auto result = parsePath(text, type, options);
    if (result) FAIL(("expected a refusal: " + std::string(text)).c_str());
    return result.error();
}

}  // namespace

TEST_GROUP(Address){};

TEST(Address, ParsesPlainMailbox) {
    Address a = parsed("<John.Smith@Example.COM>");
    STRCMP_EQUAL("John.Smith", a.local.c_str());
    STRCMP_EQUAL("Example.COM", a.domain.c_str());
    STRCMP_EQUAL("example.com", a.routingDomain().c_str());
    STRCMP_EQUAL("John.Smith@Example.COM", a.toString().c_str());
    CHECK_FALSE(a.isNull());
    CHECK_FALSE(a.needsSmtpUtf8());
}

TEST(Address, AcceptsAllAtextCharacters) {
    Address a = parsed("<a!#$%&'*+-/=?^_`{|}~z@x.example>");
    STRCMP_EQUAL("a!#$%&'*+-/=?^_`{|}~z", a.local.c_str());
    STRCMP_EQUAL("a!#$%&'*+-/=?^_`{|}~z@x.example", a.toString().c_str());
}

TEST(Address, NullPathOnlyAsSender) {
    Address a = parsed("<>", PathType::reverse);
    CHECK_TRUE(a.isNull());
    STRCMP_EQUAL("", a.toString().c_str());
    STRCMP_EQUAL("null recipient address", refusal("<>", PathType::forward).c_str());
}

TEST(Address, PostmasterWithoutDomainOnlyAsRecipient) {
    Address a = parsed("<Postmaster>");
    STRCMP_EQUAL("Postmaster", a.local.c_str());
    STRCMP_EQUAL("", a.domain.c_str());
    STRCMP_EQUAL("Postmaster", a.toString().c_str());
    CHECK_FALSE(a.isNull());
    STRCMP_EQUAL("missing domain", refusal("<postmaster>", PathType::reverse).c_str());
    STRCMP_EQUAL("missing domain", refusal("<john>").c_str());
}

TEST(Address, QuotedLocalPartIsUnquotedAndRequotedWhenNeeded) {
    Address a = parsed("<\"john doe\"@example.com>");
    STRCMP_EQUAL("john doe", a.local.c_str());
    STRCMP_EQUAL("\"john doe\"@example.com", a.toString().c_str());
    Address escaped = parsed("<\"a\\\"b\\\\c\"@example.com>");
    STRCMP_EQUAL("a\"b\\c", escaped.local.c_str());
    STRCMP_EQUAL("\"a\\\"b\\\\c\"@example.com", escaped.toString().c_str());
    // Quotes that were not needed are dropped in the canonical form.
    STRCMP_EQUAL("john@example.com", parsed("<\"john\"@example.com>").toString().c_str());
    // A quoted string may hold '>' and '@'.
    STRCMP_EQUAL("a>b@c", parsed("<\"a>b@c\"@example.com>").local.c_str());
    STRCMP_EQUAL("\"\"@example.com", parsed("<\"\"@example.com>").toString().c_str());
}

TEST(Address, LenientDotsAreKeptButQuoted) {
    STRCMP_EQUAL("\"john..doe\"@example.com", parsed("<john..doe@example.com>").toString().c_str());
    STRCMP_EQUAL("\".john\"@example.com", parsed("<.john@example.com>").toString().c_str());
    STRCMP_EQUAL("\"john.\"@example.com", parsed("<john.@example.com>").toString().c_str());
}

TEST(Address, SourceRouteIsStripped) {
    Address a = parsed("<@a.example,@b.example:user@c.example>");
    STRCMP_EQUAL("user@c.example", a.toString().c_str());
    STRCMP_EQUAL("user@c.example", parsed("<@a.example:user@c.example>", PathType::reverse).toString().c_str());
    STRCMP_EQUAL("bad source route", refusal("<@a.example user@c.example>").c_str());
    STRCMP_EQUAL("bad source route", refusal("<@a.example,b.example:user@c.example>").c_str());
    STRCMP_EQUAL("bad source route: empty domain", refusal("<@:user@c.example>").c_str());
}

TEST(Address, DomainLiterals) {
    STRCMP_EQUAL("[192.0.2.1]", parsed("<user@[192.0.2.1]>").domain.c_str());
    STRCMP_EQUAL("[IPv6:2001:db8::1]", parsed("<user@[IPv6:2001:db8::1]>").domain.c_str());
    STRCMP_EQUAL("[ipv6:::1]", parsed("<user@[ipv6:::1]>").domain.c_str());
    STRCMP_EQUAL("bad IPv4 address literal", refusal("<user@[192.0.2.256]>").c_str());
    STRCMP_EQUAL("bad IPv4 address literal", refusal("<user@[192.0.2]>").c_str());
    STRCMP_EQUAL("bad IPv4 address literal", refusal("<user@[1.2.3.4.5]>").c_str());
    STRCMP_EQUAL("bad IPv6 address literal", refusal("<user@[IPv6:2001:db8::g]>").c_str());
    STRCMP_EQUAL("unsupported address literal", refusal("<user@[x400:foo]>").c_str());
    STRCMP_EQUAL("unbalanced brackets in domain literal", refusal("<user@[192.0.2.1>").c_str());
    STRCMP_EQUAL("unbalanced brackets in domain literal", refusal("<user@[[192.0.2.1]>").c_str());
    STRCMP_EQUAL("unbalanced brackets in domain", refusal("<user@exa]mple.com>").c_str());
}

TEST(Address, DomainNameSyntax) {
    STRCMP_EQUAL("mail_host.example", parsed("<u@mail_host.example>").domain.c_str());  // Postfix tolerates '_'
    STRCMP_EQUAL("empty label in domain", refusal("<u@example..com>").c_str());
    STRCMP_EQUAL("empty label in domain", refusal("<u@example.com.>").c_str());
    STRCMP_EQUAL("empty domain", refusal("<u@>").c_str());
    STRCMP_EQUAL("domain label starts or ends with '-'", refusal("<u@-example.com>").c_str());
    STRCMP_EQUAL("domain label starts or ends with '-'", refusal("<u@example-.com>").c_str());
    STRCMP_EQUAL("character not allowed in domain: !", refusal("<u@exa!mple.com>").c_str());
    STRCMP_EQUAL("space in address outside quotes", refusal("<u@exa mple.com>").c_str());
    STRCMP_EQUAL("domain label longer than 63 octets", refusal("<u@" + std::string(64, 'a') + ".com>").c_str());
}

TEST(Address, RefusesBadCharactersAndStructure) {
    STRCMP_EQUAL("control character in address: \\x00", refusal(std::string("<a\0b@example.com>", 18)).c_str());
    STRCMP_EQUAL("control character in address: \\r", refusal("<a\rb@example.com>").c_str());
    STRCMP_EQUAL("control character in address: \\n", refusal("<a\nb@example.com>").c_str());
    STRCMP_EQUAL("control character in address: \\t", refusal("<a\tb@example.com>").c_str());
    STRCMP_EQUAL("control character in address: \\x7F", refusal("<a\x7F" "b@example.com>").c_str());
    STRCMP_EQUAL("control character in address: \\x01", refusal("<\"a\x01\"@example.com>").c_str());
    STRCMP_EQUAL("space in address outside quotes", refusal("<john doe@example.com>").c_str());
    STRCMP_EQUAL("unbalanced quote in local part", refusal("<\"john@example.com>").c_str());
    STRCMP_EQUAL("misplaced quote in local part", refusal("<jo\"hn\"@example.com>").c_str());
    STRCMP_EQUAL("junk after quoted local part", refusal("<\"john\"x@example.com>").c_str());
    STRCMP_EQUAL("unbalanced angle brackets", refusal("<john@example.com").c_str());
    STRCMP_EQUAL("unbalanced angle brackets", refusal("<").c_str());
    STRCMP_EQUAL("character not allowed in local part: <", refusal("<<john@example.com>>").c_str());
    STRCMP_EQUAL("character not allowed in local part: (", refusal("<jo(hn)@example.com>").c_str());
    STRCMP_EQUAL("bad source route", refusal("<@example.com>").c_str());
    STRCMP_EQUAL("empty local part", parseMailbox("@example.com", kAscii).error().c_str());
    STRCMP_EQUAL("character not allowed in domain: @", refusal("<a@b@example.com>").c_str());
    STRCMP_EQUAL("bad quoted pair in local part", refusal("<\"a\\\xC3\xA9\"@x.example>", PathType::forward, kUtf8).c_str());
}

TEST(Address, BareAddressWithoutBracketsIsPostfixLenient) {
    STRCMP_EQUAL("user@example.com", parsed("user@example.com").toString().c_str());
    AddressOptions strict{.requireBrackets = true};
    STRCMP_EQUAL("address must be enclosed in <>", refusal("user@example.com", PathType::forward, strict).c_str());
    STRCMP_EQUAL("address must be enclosed in <>", refusal("").c_str());
}

TEST(Address, Utf8OnlyWithSmtputf8) {
    const std::string path = "<j\xC3\xB6rg@b\xC3\xBC" "cher.example>";
    STRCMP_EQUAL("non-ASCII character in address without SMTPUTF8", refusal(path).c_str());
    CHECK_TRUE(pathNeedsSmtpUtf8(path));
    CHECK_FALSE(pathNeedsSmtpUtf8("<jorg@example.com>"));
    Address a = parsed(path, PathType::forward, kUtf8);
    STRCMP_EQUAL("j\xC3\xB6rg", a.local.c_str());
    STRCMP_EQUAL("b\xC3\xBC" "cher.example", a.domain.c_str());
    CHECK_TRUE(a.needsSmtpUtf8());
    STRCMP_EQUAL("\"j\xC3\xB6 rg\"@x.example", parsed("<\"j\xC3\xB6 rg\"@x.example>", PathType::forward, kUtf8).toString().c_str());
    STRCMP_EQUAL("malformed UTF-8 in address", refusal("<j\xC3@x.example>", PathType::forward, kUtf8).c_str());
    // A non-ASCII domain label: routing lowercases ASCII only.
    STRCMP_EQUAL("b\xC3\x9C" "cher.example", parsed("<u@B\xC3\x9C" "CHER.example>", PathType::forward, kUtf8).routingDomain().c_str());
}

TEST(Address, LengthLimits) {
    const std::string local64(64, 'a');
    const std::string local65(65, 'a');
    STRCMP_EQUAL(local64.c_str(), parsed("<" + local64 + "@x.example>").local.c_str());
    STRCMP_EQUAL("local part longer than 64 octets", refusal("<" + local65 + "@x.example>").c_str());
    // The limit counts the local part as written, quotes included.
    STRCMP_EQUAL("local part longer than 64 octets", refusal("<\"" + std::string(63, 'a') + "\"@x.example>").c_str());
    AddressOptions lenient{.lenientLength = true};
    STRCMP_EQUAL(local65.c_str(), parsed("<" + local65 + "@x.example>", PathType::forward, lenient).local.c_str());

    std::string domain;
    while (domain.size() < 250) domain += std::string(49, 'd') + ".";
    domain += "examp";  // 255 octets
    LONGS_EQUAL(255, domain.size());
    STRCMP_EQUAL(domain.c_str(), parsed("u@" + domain, PathType::forward, lenient).domain.c_str());
    STRCMP_EQUAL("domain longer than 255 octets", refusal("u@" + domain + "x", PathType::forward, lenient).c_str());
    // 256 octets for the whole path, brackets included.
    const std::string path256 = "<" + std::string(60, 'l') + "@" + domain.substr(0, 193) + ">";
    LONGS_EQUAL(256, path256.size());
    CHECK_TRUE(parsePath(path256, PathType::forward, kAscii).ok());
    const std::string path257 = "<" + std::string(60, 'l') + "@" + domain.substr(0, 194) + ">";
    STRCMP_EQUAL("path longer than 256 octets", refusal(path257).c_str());
    CHECK_TRUE(parsePath(path257, PathType::forward, lenient).ok());
}

TEST(Address, ParseMailboxWithoutBrackets) {
    auto a = parseMailbox("\"x y\"@example.com", kAscii);
    CHECK_TRUE(a.ok());
    STRCMP_EQUAL("x y", a->local.c_str());
    CHECK_FALSE(parseMailbox("<x@example.com>", kAscii).ok());
    CHECK_FALSE(parseMailbox("@a:x@example.com", kAscii).ok());
}

TEST(Address, CanonicalFormParsesBackToTheSameAddress) {
    for (const char* text : {"<\"a b\"@x.example>", "<\"a\\\\b\"@x.example>", "<a..b@x.example>",
                             "<\"\\\"\"@x.example>", "<a@[IPv6:::1]>", "<\"\"@x.example>"}) {
        Address first = parsed(text);
        Address again = parsed("<" + first.toString() + ">");
        CHECK_TRUE(first == again);
    }
    STRCMP_EQUAL("a.b", quoteLocalPart("a.b").c_str());
    STRCMP_EQUAL("\"a b\"", quoteLocalPart("a b").c_str());
    STRCMP_EQUAL("\"\"", quoteLocalPart("").c_str());
    STRCMP_EQUAL("\"a(b)\"", quoteLocalPart("a(b)").c_str());
}
