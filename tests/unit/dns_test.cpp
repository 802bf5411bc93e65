// dns_test.cpp: unit tests for lib/dns: the resolver against a real dnsmasq on a loopback
// port (MX order, NODATA, null MX, NXDOMAIN, refusals, silent servers, many lookups at once,
// cancellation), the MX answer parser on crafted packets, and the MX host ordering.
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <map>
#include <set>

#include "dnsmasq_server.h"
#include "unique_fd.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::dns;
using postern::testing::DnsmasqServer;
using Clock = std::chrono::steady_clock;

namespace {

// Runs the loop until `done` holds or `limit` passes; true when done.
bool runUntil(event_base* base, const std::function<bool()>& done,
              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    EventPtr tick(evtimer_new(
        base, [](evutil_socket_t, short, void*) {}, nullptr));
    auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
        timeval tenMs{0, 10000};
        evtimer_add(tick.get(), &tenMs);
        event_base_loop(base, EVLOOP_ONCE);
    }
    return done();
}

const std::vector<std::string> kZone = {
    "--local=/example/",  // answer from the records below only: unknown names are NXDOMAIN
    "--mx-host=mx.example,mx20.example,20",
    "--mx-host=mx.example,mx10.example,10",
    "--mx-host=mx.example,mx30.example,30",
    "--mx-host=null.example,.,0",
    "--host-record=nomx.example,192.0.2.1,2001:db8::1",
    "--host-record=mx10.example,192.0.2.10",
};

ResolverSettings settingsFor(std::string server,
                             std::chrono::milliseconds timeout = std::chrono::seconds(2),
                             int tries = 2) {
    ResolverSettings settings;
    settings.servers = {std::move(server)};
    settings.timeout = timeout;
    settings.tries = tries;
    return settings;
}

std::unique_ptr<Resolver> makeResolver(event_base* base, const ResolverSettings& settings) {
    auto resolver = Resolver::create(base, settings);
    if (!resolver) FAIL(resolver.error().c_str());
    return std::move(resolver.value());
}

}  // namespace

TEST_GROUP(DnsResolver) {
    EventBasePtr base;
    std::unique_ptr<DnsmasqServer> dnsmasq;
    std::unique_ptr<Resolver> resolver;

    void setup() override {
        base.reset(event_base_new());
        dnsmasq = std::make_unique<DnsmasqServer>(kZone);
        if (!dnsmasq->ok()) FAIL(dnsmasq->error().c_str());
        resolver = makeResolver(base.get(), settingsFor(dnsmasq->address()));
    }
    void teardown() override {
        resolver.reset();
        dnsmasq.reset();
        base.reset();
    }

    MxAnswer mx(const std::string& domain) {
        std::optional<MxAnswer> answer;
        resolver->lookupMx(domain, [&](MxAnswer a) { answer = std::move(a); });
        CHECK_TRUE(runUntil(base.get(), [&] { return answer.has_value(); }));
        return std::move(*answer);
    }
    AddressAnswer addresses(const std::string& host, uint16_t port) {
        std::optional<AddressAnswer> answer;
        resolver->lookupAddresses(host, port, [&](AddressAnswer a) { answer = std::move(a); });
        CHECK_TRUE(runUntil(base.get(), [&] { return answer.has_value(); }));
        return std::move(*answer);
    }
};

TEST(DnsResolver, MxRecordsComeInPreferenceOrder) {
    MxAnswer answer = mx("mx.example");
    CHECK(answer.status == DnsStatus::Ok);
    LONGS_EQUAL(3, answer.records.size());
    auto hosts = orderMxHosts(answer.records, [](size_t) { return 0; });
    LONGS_EQUAL(3, hosts.size());
    STRCMP_EQUAL("mx10.example", hosts[0].c_str());
    STRCMP_EQUAL("mx20.example", hosts[1].c_str());
    STRCMP_EQUAL("mx30.example", hosts[2].c_str());
}

TEST(DnsResolver, NoMxIsNoDataThenAddressesAnswer) {
    MxAnswer answer = mx("nomx.example");
    CHECK(answer.status == DnsStatus::NoData);
    CHECK_TRUE(answer.records.empty());

    AddressAnswer found = addresses("nomx.example", 25);
    CHECK(found.status == DnsStatus::Ok);
    std::set<std::string> ips;
    for (const auto& address : found.addresses) {
        ips.insert(address.ip());
        LONGS_EQUAL(25, address.port());
    }
    CHECK(ips == (std::set<std::string>{"192.0.2.1", "2001:db8::1"}));
}

TEST(DnsResolver, NullMxMeansNoMail) {
    MxAnswer answer = mx("null.example");
    CHECK(answer.status == DnsStatus::NullMx);
    CHECK_TRUE(answer.records.empty());
}

TEST(DnsResolver, UnknownDomainIsNxdomain) {
    CHECK(mx("nothere.example").status == DnsStatus::NoSuchDomain);
    CHECK(addresses("nothere.example", 25).status == DnsStatus::NoSuchDomain);
}

TEST(DnsResolver, RefusedQueryIsTemporary) {
    // dnsmasq has no upstream: a name outside its zone is REFUSED.
    MxAnswer answer = mx("elsewhere.test");
    CHECK(answer.status == DnsStatus::TempFail);
    CHECK_FALSE(answer.detail.empty());
}

TEST(DnsResolver, IpLiteralIsAnsweredFromTheLoopNotInline) {
    bool called = false;
    AddressAnswer got;
    resolver->lookupAddresses("192.0.2.7", 2525, [&](AddressAnswer a) {
        called = true;
        got = std::move(a);
    });
    CHECK_FALSE(called);
    CHECK_TRUE(runUntil(base.get(), [&] { return called; }));
    CHECK(got.status == DnsStatus::Ok);
    LONGS_EQUAL(1, got.addresses.size());
    STRCMP_EQUAL("192.0.2.7", got.addresses[0].ip().c_str());
    LONGS_EQUAL(2525, got.addresses[0].port());
    LONGS_EQUAL(AF_INET, got.addresses[0].family());
}

TEST(DnsResolver, TwoHundredConcurrentLookupsAllComplete) {
    int mxOk = 0;
    int addressOk = 0;
    int other = 0;
    for (int i = 0; i < 100; ++i) {
        resolver->lookupMx("mx.example", [&](MxAnswer a) {
            (a.status == DnsStatus::Ok && a.records.size() == 3) ? ++mxOk : ++other;
        });
        resolver->lookupAddresses("mx10.example", 25, [&](AddressAnswer a) {
            (a.status == DnsStatus::Ok && a.addresses[0].ip() == "192.0.2.10") ? ++addressOk
                                                                               : ++other;
        });
    }
    LONGS_EQUAL(200, resolver->pending());
    auto start = Clock::now();
    CHECK_TRUE(runUntil(base.get(), [&] { return mxOk + addressOk + other == 200; }));
    // Faster than one 2 s timeout: no query was lost and retried.
    CHECK(Clock::now() - start < std::chrono::milliseconds(1500));
    LONGS_EQUAL(100, mxOk);
    LONGS_EQUAL(100, addressOk);
    LONGS_EQUAL(0, resolver->pending());
}

TEST(DnsResolver, CancelledLookupIsNeverReported) {
    bool cancelledCalled = false;
    bool otherCalled = false;
    LookupId id = resolver->lookupMx("mx.example", [&](MxAnswer) { cancelledCalled = true; });
    resolver->lookupMx("mx.example", [&](MxAnswer) { otherCalled = true; });
    resolver->cancel(id);
    CHECK_TRUE(runUntil(base.get(), [&] { return otherCalled; }));
    // Let anything still queued run out.
    runUntil(
        base.get(), [] { return false; }, std::chrono::milliseconds(50));
    CHECK_FALSE(cancelledCalled);
}

TEST(DnsResolver, LookupsOverTheLimitWaitTheirTurn) {
    ResolverSettings settings = settingsFor(dnsmasq->address());
    settings.maxConcurrentLookups = 1;
    resolver = makeResolver(base.get(), settings);
    std::vector<int> order;
    std::vector<LookupId> ids;
    for (int i = 0; i < 5; ++i) {
        ids.push_back(resolver->lookupMx("mx.example", [&order, i](MxAnswer a) {
            if (a.status == DnsStatus::Ok) order.push_back(i);
        }));
    }
    resolver->cancel(ids[3]);  // still waiting: never sent, never reported
    CHECK_TRUE(runUntil(base.get(), [&] { return resolver->pending() == 0; }));
    CHECK((order == std::vector<int>{0, 1, 2, 4}));
}

TEST(DnsResolver, CallbackMayDestroyTheResolver) {
    int calls = 0;
    for (int i = 0; i < 2; ++i) {
        resolver->lookupAddresses("192.0.2.1", 25, [&](AddressAnswer) {
            ++calls;
            resolver.reset();
        });
    }
    CHECK_TRUE(runUntil(base.get(), [&] { return calls > 0; }));
    runUntil(
        base.get(), [] { return false; }, std::chrono::milliseconds(50));
    LONGS_EQUAL(1, calls);
    CHECK(resolver == nullptr);
}

TEST_GROUP(DnsUnanswered) {
    EventBasePtr base;
    void setup() override {
        base.reset(event_base_new());
    }
    void teardown() override {
        base.reset();
    }
};

namespace {

// A bound UDP socket that never reads: queries to it vanish without an ICMP error.
UniqueFd silentUdpSocket(uint16_t& port) {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    return fd;
}

}  // namespace

TEST(DnsUnanswered, SilentServerTimesOutAsTemporaryFailure) {
    uint16_t port = 0;
    UniqueFd silent = silentUdpSocket(port);
    auto resolver = makeResolver(base.get(), settingsFor("127.0.0.1:" + std::to_string(port),
                                                         std::chrono::milliseconds(200)));
    std::optional<MxAnswer> mxAnswer;
    std::optional<AddressAnswer> addressAnswer;
    auto start = Clock::now();
    resolver->lookupMx("mx.example", [&](MxAnswer a) { mxAnswer = std::move(a); });
    resolver->lookupAddresses("host.example", 25,
                              [&](AddressAnswer a) { addressAnswer = std::move(a); });
    CHECK_TRUE(runUntil(base.get(), [&] { return mxAnswer && addressAnswer; }));
    auto elapsed = Clock::now() - start;
    CHECK(mxAnswer->status == DnsStatus::TempFail);
    CHECK(addressAnswer->status == DnsStatus::TempFail);
    // Two tries: 200 ms, then 400 ms (c-ares doubles); well under two seconds in all.
    CHECK(elapsed >= std::chrono::milliseconds(500));
    CHECK(elapsed < std::chrono::seconds(2));
}

TEST(DnsUnanswered, ClosedPortIsTemporaryFailure) {
    uint16_t port = postern::testing::freeUdpPort();
    auto resolver = makeResolver(base.get(), settingsFor("127.0.0.1:" + std::to_string(port),
                                                         std::chrono::milliseconds(300), 1));
    std::optional<MxAnswer> answer;
    resolver->lookupMx("mx.example", [&](MxAnswer a) { answer = std::move(a); });
    CHECK_TRUE(runUntil(base.get(), [&] { return answer.has_value(); }));
    CHECK(answer->status == DnsStatus::TempFail);
}

TEST(DnsUnanswered, DestroyingResolverDropsPendingLookups) {
    uint16_t port = 0;
    UniqueFd silent = silentUdpSocket(port);
    auto resolver = makeResolver(base.get(), settingsFor("127.0.0.1:" + std::to_string(port)));
    bool called = false;
    for (int i = 0; i < 10; ++i) {
        resolver->lookupMx("mx.example", [&](MxAnswer) { called = true; });
        resolver->lookupAddresses("a.example", 25, [&](AddressAnswer) { called = true; });
    }
    runUntil(
        base.get(), [] { return false; }, std::chrono::milliseconds(50));
    LONGS_EQUAL(20, resolver->pending());
    resolver.reset();
    runUntil(
        base.get(), [] { return false; }, std::chrono::milliseconds(50));
    CHECK_FALSE(called);
}

TEST(DnsUnanswered, MalformedServerListIsAnError) {
    ResolverSettings settings;
    settings.servers = {"not an address:x"};
    auto resolver = Resolver::create(base.get(), settings);
    CHECK_FALSE(resolver.ok());
    CHECK(resolver.error().find("not an address") != std::string::npos);
}

TEST(DnsUnanswered, ServerListTakesPortsAndIpv6) {
    ResolverSettings settings;
    settings.servers = {"127.0.0.1:5353", "[::1]:53", "192.0.2.53"};
    auto resolver = Resolver::create(base.get(), settings);
    CHECK_TRUE_TEXT(resolver.ok(), resolver.ok() ? "" : resolver.error().c_str());
}
