// dns_mx_test.cpp: unit tests for lib/dns's MX helpers: classifyMxReply on crafted answer
// packets (null MX, mixed root exchanges, garbage) and orderMxHosts (preference order,
// shuffling within equal preferences, one entry per host).
#include <ares.h>

#include <set>

#include "dns.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern::dns;

namespace {

void appendName(std::vector<unsigned char>& packet, const std::string& name) {
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        packet.push_back(static_cast<unsigned char>(dot - start));
        packet.insert(packet.end(), name.begin() + start, name.begin() + dot);
        start = dot + 1;
    }
    packet.push_back(0);
}

void appendShort(std::vector<unsigned char>& packet, unsigned value) {
    packet.push_back(static_cast<unsigned char>(value >> 8));
    packet.push_back(static_cast<unsigned char>(value));
}

// A NOERROR response to "domain IN MX" with the given (preference, exchange) answers;
// "" is the root exchange.
std::vector<unsigned char> mxResponse(const std::string& domain,
                                      const std::vector<MxRecord>& answers) {
    std::vector<unsigned char> packet = {
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, static_cast<unsigned char>(answers.size()), 0, 0, 0, 0};
    appendName(packet, domain);
    appendShort(packet, 15);  // MX
    appendShort(packet, 1);   // IN
    for (const auto& mx : answers) {
        appendShort(packet, 0xc00c);  // the question's name
        appendShort(packet, 15);
        appendShort(packet, 1);
        packet.insert(packet.end(), {0, 0, 0x0e, 0x10});  // TTL 3600
        std::vector<unsigned char> data;
        appendShort(data, mx.preference);
        appendName(data, mx.host);
        appendShort(packet, static_cast<unsigned>(data.size()));
        packet.insert(packet.end(), data.begin(), data.end());
    }
    return packet;
}

MxAnswer classify(const std::vector<unsigned char>& packet) {
    return classifyMxReply(ARES_SUCCESS, packet.data(), static_cast<int>(packet.size()));
}

}  // namespace

TEST_GROUP(DnsMxReply){};

TEST(DnsMxReply, ParsesRecords) {
    MxAnswer answer =
        classify(mxResponse("a.example", {{10, "mx1.a.example"}, {5, "mx2.a.example"}}));
    CHECK(answer.status == DnsStatus::Ok);
    LONGS_EQUAL(2, answer.records.size());
    LONGS_EQUAL(10, answer.records[0].preference);
    STRCMP_EQUAL("mx1.a.example", answer.records[0].host.c_str());
    LONGS_EQUAL(5, answer.records[1].preference);
}

TEST(DnsMxReply, LoneRootExchangeIsNullMx) {
    CHECK(classify(mxResponse("a.example", {{0, ""}})).status == DnsStatus::NullMx);
}

TEST(DnsMxReply, RootExchangeBesideRealOnesIsDropped) {
    MxAnswer answer = classify(mxResponse("a.example", {{0, ""}, {10, "mx.a.example"}}));
    CHECK(answer.status == DnsStatus::Ok);
    LONGS_EQUAL(1, answer.records.size());
    STRCMP_EQUAL("mx.a.example", answer.records[0].host.c_str());
}

TEST(DnsMxReply, TruncatedPacketIsTemporaryNotACrash) {
    auto packet = mxResponse("a.example", {{10, "mx1.a.example"}});
    for (size_t cut = 0; cut < packet.size(); ++cut) {
        MxAnswer answer = classifyMxReply(ARES_SUCCESS, packet.data(), static_cast<int>(cut));
        CHECK(answer.status == DnsStatus::TempFail || answer.status == DnsStatus::NoData);
        CHECK_TRUE(answer.records.empty());
    }
}

TEST(DnsMxReply, AresStatusesMapToClasses) {
    CHECK(classifyMxReply(ARES_ENOTFOUND, nullptr, 0).status == DnsStatus::NoSuchDomain);
    CHECK(classifyMxReply(ARES_ENODATA, nullptr, 0).status == DnsStatus::NoData);
    CHECK(classifyMxReply(ARES_ESERVFAIL, nullptr, 0).status == DnsStatus::TempFail);
    CHECK(classifyMxReply(ARES_ETIMEOUT, nullptr, 0).status == DnsStatus::TempFail);
    CHECK(classifyMxReply(ARES_EREFUSED, nullptr, 0).status == DnsStatus::TempFail);
    CHECK(classifyMxReply(ARES_EBADNAME, nullptr, 0).status == DnsStatus::BadName);
    STRCMP_EQUAL("no such domain", statusName(DnsStatus::NoSuchDomain));
}

TEST_GROUP(DnsMxOrder){};

TEST(DnsMxOrder, SortsByPreferenceAndShufflesTies) {
    std::vector<MxRecord> records = {{20, "c"}, {10, "a"}, {10, "b"}, {30, "d"}};
    // Always picking the first of the remaining swaps the last into first place.
    auto first = orderMxHosts(records, [](size_t) { return 0; });
    CHECK((first == std::vector<std::string>{"b", "a", "c", "d"}));
    // Always picking the last leaves the answer's order.
    auto last = orderMxHosts(records, [](size_t bound) { return bound - 1; });
    CHECK((last == std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(DnsMxOrder, EachHostOnceAtItsBestPreference) {
    std::vector<MxRecord> records = {
        {20, "MX.a.example"}, {10, "mx.a.example"}, {0, ""}, {30, "other.example"}};
    auto hosts = orderMxHosts(records, [](size_t) { return 0; });
    CHECK((hosts == std::vector<std::string>{"mx.a.example", "other.example"}));
}

TEST(DnsMxOrder, DefaultRandomReachesEveryOrder) {
    std::vector<MxRecord> records = {{10, "a"}, {10, "b"}, {10, "c"}, {5, "first"}};
    RandomBelow random = defaultRandom();
    std::set<std::vector<std::string>> seen;
    for (int i = 0; i < 600; ++i) {
        auto hosts = orderMxHosts(records, random);
        STRCMP_EQUAL("first", hosts[0].c_str());
        seen.insert(hosts);
    }
    LONGS_EQUAL(6, seen.size());  // all 3! orders of the tie
}
