// routes_test.cpp: unit tests for lib/routes.h (next hop forms, the route table's lookup
// order) and lib/hostport.h (host:port addresses).
#include "routes.h"

#include "hostport.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

namespace {

NextHop hop(const char* text) {
    auto parsed = parseNextHop(text);
    CHECK_TEXT(parsed.ok(), parsed.ok() ? "" : parsed.error().c_str());
    return parsed.value();
}

void checkHop(const char* text, NextHop::Kind kind, const char* host, int port) {
    NextHop parsed = hop(text);
    CHECK_TEXT(parsed.kind == kind, text);
    STRCMP_EQUAL_TEXT(host, parsed.host.c_str(), text);
    LONGS_EQUAL_TEXT(port, parsed.port, text);
}

Route route(const char* domain, const char* nexthop) {
    Route entry;
    entry.domain = domain;
    entry.nexthop = hop(nexthop);
    return entry;
}

// The next hop the table picks for a domain, or "none".
std::string routeFor(const RouteTable& table, const char* domain) {
    const Route* found = table.lookup(domain);
    return found ? found->nexthop.toString() : "none";
}

}  // namespace

TEST_GROUP(NextHop){};

TEST(NextHop, ParsesEveryForm) {
    using Kind = NextHop::Kind;
    checkHop("mx", Kind::RecipientMx, "", 25);
    checkHop("MX", Kind::RecipientMx, "", 25);
    checkHop("mx:2525", Kind::RecipientMx, "", 2525);
    checkHop("relay.example", Kind::HostMx, "relay.example", 25);
    checkHop("Relay.Example.", Kind::HostMx, "relay.example", 25);
    checkHop("relay.example:587", Kind::HostMx, "relay.example", 587);
    checkHop("localhost", Kind::HostMx, "localhost", 25);
    checkHop("[relay.example]", Kind::Literal, "relay.example", 25);
    checkHop("[relay.example]:2525", Kind::Literal, "relay.example", 2525);
    checkHop("[10.1.2.3]:25", Kind::Literal, "10.1.2.3", 25);
    checkHop("[10.1.2.3]", Kind::Literal, "10.1.2.3", 25);
    checkHop("[2001:db8::1]:2525", Kind::Literal, "2001:db8::1", 2525);
    checkHop("[::1]", Kind::Literal, "::1", 25);
}

TEST(NextHop, RejectsMalformedForms) {
    for (const char* bad : {"",
                            " ",
                            "relay example",
                            " mx",
                            "mx ",
                            "relay.example:",
                            "relay.example:0",
                            "relay.example:65536",
                            "relay.example:25x",
                            "relay.example:-1",
                            "[10.1.2.3:25",
                            "10.1.2.3]:25",
                            "[10.1.2.3]]:25",
                            "[[10.1.2.3]]",
                            "[]:25",
                            "[]",
                            "[10.1.2.3]25",
                            "[10.1.2.3]:",
                            "[10.1.2.3]:x",
                            "2001:db8::1",
                            "10.1.2.3",
                            "10.1.2.3:25",
                            "relay..example",
                            "-relay.example",
                            "relay.example\t",
                            "rel@y.example",
                            ":25",
                            "[bad host]:25"}) {
        auto parsed = parseNextHop(bad);
        CHECK_TEXT(!parsed.ok(), bad);
    }
    STRCMP_EQUAL("\"[10.1.2.3:25\": unbalanced brackets",
                 parseNextHop("[10.1.2.3:25").error().c_str());
    STRCMP_EQUAL("\"relay.example:99999\": bad port \"99999\"",
                 parseNextHop("relay.example:99999").error().c_str());
    STRCMP_CONTAINS("[10.1.2.3]:25", parseNextHop("10.1.2.3").error().c_str());
    STRCMP_CONTAINS("needs brackets", parseNextHop("2001:db8::1").error().c_str());
    STRCMP_EQUAL("empty next hop", parseNextHop("").error().c_str());
}

TEST(NextHop, PrintsTheCanonicalForm) {
    for (const char* text : {"mx", "mx:2525", "relay.example", "relay.example:587",
                             "[relay.example]:25", "[10.1.2.3]:2525", "[2001:db8::1]:25"}) {
        STRCMP_EQUAL(text, hop(text).toString().c_str());
    }
    STRCMP_EQUAL("relay.example", hop("relay.example:25").toString().c_str());
    STRCMP_EQUAL("[10.1.2.3]:25", hop("[10.1.2.3]").toString().c_str());
    CHECK(hop(hop("[::1]:26").toString().c_str()) == hop("[::1]:26"));
}

TEST_GROUP(RouteTable){};

TEST(RouteTable, ExactDomainFirst) {
    RouteTable table({route("*", "[10.0.0.9]:25"), route(".example.com", "parent.example:25"),
                      route("example.com", "[10.0.0.1]:25")});
    STRCMP_EQUAL("[10.0.0.1]:25", routeFor(table, "example.com").c_str());
    LONGS_EQUAL(3, table.size());
}

TEST(RouteTable, ParentEntriesMatchSubdomainsOnlyNearestFirst) {
    RouteTable table(
        {route(".example.com", "outer.example"), route(".b.example.com", "inner.example")});
    STRCMP_EQUAL("inner.example", routeFor(table, "a.b.example.com").c_str());
    STRCMP_EQUAL("inner.example", routeFor(table, "x.y.b.example.com").c_str());
    STRCMP_EQUAL("outer.example", routeFor(table, "c.example.com").c_str());
    STRCMP_EQUAL("outer.example", routeFor(table, "b.example.com").c_str());
    // ".example.com" is for the subdomains, not example.com itself.
    STRCMP_EQUAL("none", routeFor(table, "example.com").c_str());
    STRCMP_EQUAL("none", routeFor(table, "notexample.com").c_str());
}

TEST(RouteTable, ExactBeatsParentAndParentBeatsWildcard) {
    RouteTable table({route("*", "wild.example"), route(".example.com", "parent.example"),
                      route("a.example.com", "exact.example")});
    STRCMP_EQUAL("exact.example", routeFor(table, "a.example.com").c_str());
    STRCMP_EQUAL("parent.example", routeFor(table, "b.example.com").c_str());
    STRCMP_EQUAL("parent.example", routeFor(table, "x.a.example.com").c_str());
    STRCMP_EQUAL("wild.example", routeFor(table, "example.com").c_str());
    STRCMP_EQUAL("wild.example", routeFor(table, "other.org").c_str());
    STRCMP_EQUAL("wild.example", routeFor(table, "").c_str());
}

TEST(RouteTable, NothingMatchesWithoutWildcard) {
    RouteTable table({route("example.com", "mx")});
    CHECK(table.lookup("example.org") == nullptr);
    CHECK(table.lookup("sub.example.com") == nullptr);
    CHECK(RouteTable().lookup("example.com") == nullptr);
}

TEST(RouteTable, IgnoresCaseAndOneTrailingDot) {
    RouteTable table(
        {route("Example.COM", "[10.0.0.1]:25"), route(".Corp.Example", "relay.corp.example")});
    STRCMP_EQUAL("[10.0.0.1]:25", routeFor(table, "EXAMPLE.com.").c_str());
    STRCMP_EQUAL("relay.corp.example", routeFor(table, "Mail.CORP.example.").c_str());
}

TEST(RouteTable, RouteDescribesItself) {
    Route plain = route("*", "mx");
    STRCMP_EQUAL("* => mx", plain.toString().c_str());
    Route secured = route("partner.example", "[10.1.2.3]:25");
    secured.hasOwnTls = true;
    secured.tls.security_level = SmtpTlsPolicy::Level::Verify;
    secured.tls.match = {"mx.partner.example"};
    STRCMP_EQUAL("partner.example => [10.1.2.3]:25 (tls verify, match mx.partner.example)",
                 secured.toString().c_str());
}

TEST(RouteTable, TlsLevelNames) {
    using Level = SmtpTlsPolicy::Level;
    for (Level level : {Level::None, Level::May, Level::Encrypt, Level::Verify, Level::Secure}) {
        auto parsed = parseSmtpTlsLevel(smtpTlsLevelName(level));
        CHECK(parsed && *parsed == level);
    }
    CHECK_FALSE(parseSmtpTlsLevel("maybe").has_value());
    CHECK_FALSE(parseSmtpTlsLevel("MAY").has_value());
}

TEST_GROUP(HostPort){};

TEST(HostPort, ParsesHostsAndPorts) {
    auto plain = parseHostPort("127.0.0.1:2525", std::nullopt);
    CHECK(plain.ok() && plain->host == "127.0.0.1" && plain->port == 2525);
    auto v6 = parseHostPort("[::1]:25", std::nullopt);
    CHECK(v6.ok() && v6->host == "::1" && v6->port == 25);
    auto named = parseHostPort("localhost:587", std::nullopt);
    CHECK(named.ok() && named->host == "localhost" && named->port == 587);
    auto defaulted = parseHostPort("192.0.2.1", 53);
    CHECK(defaulted.ok() && defaulted->port == 53);
    auto bareV6 = parseHostPort("2001:db8::53", 53);
    CHECK(bareV6.ok() && bareV6->host == "2001:db8::53" && bareV6->port == 53);
    auto bracketed = parseHostPort("[2001:db8::53]", 53);
    CHECK(bracketed.ok() && bracketed->host == "2001:db8::53");
}

TEST(HostPort, RejectsMalformedAddresses) {
    for (const char* bad : {"", ":25", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                            "[::1", "::1]:25", "[::1]25", "[127.0.0.1]:25", "2001:db8::1:25x",
                            "host name:25", "bad_-.:25", "[::1]:25]"}) {
        auto parsed = parseHostPort(bad, std::nullopt);
        CHECK_TEXT(!parsed.ok(), bad);
    }
    STRCMP_CONTAINS("missing port", parseHostPort("127.0.0.1", std::nullopt).error().c_str());
}

TEST(HostPort, PrintsIpv6InBrackets) {
    STRCMP_EQUAL("[::1]:25", (HostPort{"::1", 25}).toString().c_str());
    STRCMP_EQUAL("127.0.0.1:2525", (HostPort{"127.0.0.1", 2525}).toString().c_str());
    STRCMP_EQUAL("mx.example:25", (HostPort{"mx.example", 25}).toString().c_str());
}

TEST(HostPort, HostNames) {
    for (const char* good :
         {"a", "mx1.example.com", "mx1.example.com.", "a-b.c_d.example", "1.2.3"}) {
        CHECK_TEXT(isValidHostName(good), good);
    }
    std::string longLabel(64, 'a');
    for (std::string bad : {std::string(""), std::string("."), std::string("a..b"),
                            std::string("-a.example"), std::string("a-.example"),
                            std::string("a b"), longLabel + ".example", std::string("a@b")}) {
        CHECK_TEXT(!isValidHostName(bad), bad.c_str());
    }
    CHECK_TRUE(isValidHostName(std::string(63, 'a') + ".example"));
}
