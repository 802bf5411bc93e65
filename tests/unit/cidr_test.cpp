// cidr_test.cpp: unit tests for lib/cidr.h: parsing CIDR networks, matching textual and
// sockaddr addresses, IPv4-mapped IPv6 clients.
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

namespace {

CidrNetwork network(const char* text) {
    auto parsed = CidrNetwork::parse(text);
    CHECK_TEXT(parsed.ok(), parsed.ok() ? "" : parsed.error().c_str());
    return parsed.value();
}

sockaddr_in ipv4(const char* text) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    CHECK(inet_pton(AF_INET, text, &address.sin_addr) == 1);
    return address;
}

sockaddr_in6 ipv6(const char* text) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    CHECK(inet_pton(AF_INET6, text, &address.sin6_addr) == 1);
    return address;
}

bool contains(const CidrNetwork& net, const sockaddr_in& address) {
    return net.contains(reinterpret_cast<const sockaddr*>(&address));
}

bool contains(const CidrNetwork& net, const sockaddr_in6& address) {
    return net.contains(reinterpret_cast<const sockaddr*>(&address));
}

}  // namespace

TEST_GROUP(Cidr){};

TEST(Cidr, ParsesNetworksAndBareAddresses) {
    STRCMP_EQUAL("10.0.0.0/8", network("10.0.0.0/8").toString().c_str());
    STRCMP_EQUAL("::1/128", network("::1/128").toString().c_str());
    STRCMP_EQUAL("192.0.2.7/32", network("192.0.2.7").toString().c_str());
    STRCMP_EQUAL("2001:db8::/32", network("2001:DB8::/32").toString().c_str());
    STRCMP_EQUAL("2001:db8::5/128", network("2001:db8::5").toString().c_str());
    STRCMP_EQUAL("0.0.0.0/0", network("0.0.0.0/0").toString().c_str());
    LONGS_EQUAL(AF_INET6, network("::/0").family());
    LONGS_EQUAL(9, network("10.0.0.0/9").prefixLength());
}

TEST(Cidr, RejectsMalformedNetworks) {
    for (const char* bad : {"", "10.0.0.0/33", "::1/129", "10.0.0.0/-1", "10.0.0.0/", "/8",
                            "10.0.0.0/8/9", "10.0.0/8", "10.0.0.0/8x", "host.example/8",
                            " 10.0.0.0/8", "10.0.0.0 /8", "256.0.0.0/8", "10.0.0.0/08x"}) {
        auto parsed = CidrNetwork::parse(bad);
        CHECK_TEXT(!parsed.ok(), bad);
    }
    STRCMP_EQUAL("\"10.0.0.0/33\" is not a valid CIDR network",
                 CidrNetwork::parse("10.0.0.0/33").error().c_str());
}

TEST(Cidr, RejectsHostBitsWithTheNetworkMeant) {
    auto parsed = CidrNetwork::parse("10.1.2.3/8");
    CHECK_FALSE(parsed.ok());
    STRCMP_EQUAL("\"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?",
                 parsed.error().c_str());
    STRCMP_CONTAINS("\"2001:db8::/32\"", CidrNetwork::parse("2001:db8::1/32").error().c_str());
}

TEST(Cidr, MatchesTextualAddressesAtTheBoundaries) {
    auto net = network("10.0.0.0/9");
    CHECK_TRUE(net.contains("10.0.0.0"));
    CHECK_TRUE(net.contains("10.127.255.255"));
    CHECK_FALSE(net.contains("10.128.0.0"));
    CHECK_FALSE(net.contains("11.0.0.1"));
    CHECK_FALSE(net.contains("not an address"));
    CHECK_FALSE(net.contains(""));
    auto v6 = network("2001:db8::/33");
    CHECK_TRUE(v6.contains("2001:db8:7fff::1"));
    CHECK_FALSE(v6.contains("2001:db8:8000::1"));
    CHECK_FALSE(v6.contains("10.0.0.1"));
    CHECK_TRUE(network("0.0.0.0/0").contains("203.0.113.9"));
    CHECK_FALSE(network("0.0.0.0/0").contains("2001:db8::1"));
    CHECK_TRUE(network("192.0.2.7").contains("192.0.2.7"));
    CHECK_FALSE(network("192.0.2.7").contains("192.0.2.6"));
}

TEST(Cidr, MapsIpv4MappedClientsToIpv4Networks) {
    auto loopback = network("127.0.0.0/8");
    CHECK_TRUE(loopback.contains("::ffff:127.0.0.1"));
    CHECK_FALSE(loopback.contains("::ffff:128.0.0.1"));
    CHECK_FALSE(loopback.contains("::1"));
    // An IPv6 network over the mapped range holds the IPv4 client it maps.
    CHECK_TRUE(network("::ffff:0:0/96").contains("192.0.2.1"));
    CHECK_FALSE(network("::1/128").contains("127.0.0.1"));
}

TEST(Cidr, MatchesSocketAddresses) {
    auto loopback = network("127.0.0.0/8");
    CHECK_TRUE(contains(loopback, ipv4("127.0.0.1")));
    CHECK_FALSE(contains(loopback, ipv4("192.0.2.1")));
    CHECK_TRUE(contains(loopback, ipv6("::ffff:127.1.2.3")));
    CHECK_FALSE(contains(loopback, ipv6("::1")));
    CHECK_TRUE(contains(network("::1/128"), ipv6("::1")));
    CHECK_FALSE(loopback.contains(static_cast<const sockaddr*>(nullptr)));
    sockaddr unix_address{};
    unix_address.sa_family = AF_UNIX;
    CHECK_FALSE(loopback.contains(&unix_address));
}

TEST(Cidr, AnyNetworkOfAList) {
    std::vector<CidrNetwork> networks = {network("127.0.0.0/8"), network("::1/128")};
    CHECK_TRUE(anyNetworkContains(networks, "::1"));
    CHECK_TRUE(anyNetworkContains(networks, "127.0.0.2"));
    CHECK_FALSE(anyNetworkContains(networks, "192.0.2.1"));
    auto client = ipv4("127.0.0.9");
    CHECK_TRUE(anyNetworkContains(networks, reinterpret_cast<const sockaddr*>(&client)));
    CHECK_FALSE(anyNetworkContains({}, "127.0.0.1"));
}
