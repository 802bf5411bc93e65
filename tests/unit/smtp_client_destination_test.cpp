// smtp_client_destination_test.cpp: unit tests for smtp/destination: the MX list checked
// against ourselves, DNS outcomes as Postfix's reasons, the candidate list (order, IPv4 first,
// no repeats, mx_address_limit), and whole lookups against a real dnsmasq.
#include <arpa/inet.h>

#include <memory>
#include <optional>

#include "dnsmasq_server.h"
#include "smtp/destination.h"
#include "test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;
using postern::dns::DnsStatus;

namespace {

dns::Address address(const char* ip, uint16_t port = 25) {
    dns::Address a;
    if (inet_pton(AF_INET, ip, &reinterpret_cast<sockaddr_in*>(&a.storage)->sin_addr) == 1) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length = sizeof(sockaddr_in);
    } else {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
        inet_pton(AF_INET6, ip, &v6->sin6_addr);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.length = sizeof(sockaddr_in6);
    }
    return a;
}

dns::AddressAnswer answer(std::initializer_list<const char*> ips) {
    dns::AddressAnswer a;
    a.status = DnsStatus::Ok;
    for (const char* ip : ips) a.addresses.push_back(address(ip));
    return a;
}

std::string describe(const std::vector<Candidate>& candidates) {
    std::string text;
    for (const auto& c : candidates) text += (text.empty() ? "" : " ") + c.relay();
    return text;
}

}  // namespace

TEST_GROUP(SmtpClientDestination){};

TEST(SmtpClientDestination, OurOwnMxAndWorseAreDropped) {
    std::vector<dns::MxRecord> records = {{10, "mx1.b.example"}, {20, "Me.Example"}, {30, "mx3.b.example"}};
    CHECK_FALSE(dropSelfAndWorse(records, "me.example", "b.example").has_value());
    LONGS_EQUAL(1, records.size());
    STRCMP_EQUAL("mx1.b.example", records[0].host.c_str());
    std::vector<dns::MxRecord> best = {{10, "me.example"}, {20, "mx2.b.example"}};
    auto looping = dropSelfAndWorse(best, "me.example", "b.example");
    CHECK_TRUE(looping.has_value());
    CHECK(looping->outcome == RecipientOutcome::Bounced);
    STRCMP_EQUAL("5.4.6", looping->dsn.c_str());
    STRCMP_EQUAL("mail for b.example loops back to myself", looping->text.c_str());
}

TEST(SmtpClientDestination, DnsOutcomesBecomePostfixReasons) {
    Verdict nx = dnsFailure(DnsStatus::NoSuchDomain, "b.example", "MX", true);
    CHECK(nx.outcome == RecipientOutcome::Bounced);
    STRCMP_EQUAL("5.4.4", nx.dsn.c_str());
    STRCMP_EQUAL("Host or domain name not found. Name service error for name=b.example type=MX: Host not found",
                 nx.text.c_str());
    Verdict temp = dnsFailure(DnsStatus::TempFail, "b.example", "MX", true);
    CHECK(temp.outcome == RecipientOutcome::Deferred);
    STRCMP_EQUAL("4.4.3", temp.dsn.c_str());
    Verdict nullMx = dnsFailure(DnsStatus::NullMx, "b.example", "MX", true);
    STRCMP_EQUAL("5.1.10", nullMx.dsn.c_str());
    STRCMP_EQUAL("Recipient address has null MX", nullMx.text.c_str());
    // A route's own host: hard failures defer (an operator's typo must not bounce mail).
    Verdict route = dnsFailure(DnsStatus::NoSuchDomain, "relay.example", "MX", false);
    CHECK(route.outcome == RecipientOutcome::Deferred);
    STRCMP_EQUAL("4.4.4", route.dsn.c_str());
}

TEST(SmtpClientDestination, CandidatesInOrderIpv4FirstNoRepeatsWithinTheLimit) {
    std::vector<std::string> hosts = {"mx1", "mx2", "mx3"};
    std::vector<dns::AddressAnswer> answers = {answer({"2001:db8::1", "192.0.2.1"}),
                                               answer({"192.0.2.1", "192.0.2.2"}), answer({"192.0.2.3"})};
    STRCMP_EQUAL("mx1[192.0.2.1]:25 mx1[2001:db8::1]:25 mx2[192.0.2.2]:25 mx3[192.0.2.3]:25",
                 describe(assembleCandidates(hosts, answers, 0)).c_str());
    STRCMP_EQUAL("mx1[192.0.2.1]:25 mx1[2001:db8::1]:25",
                 describe(assembleCandidates(hosts, answers, 2)).c_str());
    answers[0].status = DnsStatus::NoSuchDomain;
    answers[0].addresses.clear();
    STRCMP_EQUAL("mx2[192.0.2.1]:25", describe(assembleCandidates(hosts, answers, 1)).c_str());
}

TEST(SmtpClientDestination, TlsNexthopIsTheDomainOrTheRouteHost) {
    STRCMP_EQUAL("b.example", tlsNexthop(*parseNextHop("mx"), "b.example").c_str());
    STRCMP_EQUAL("relay.example", tlsNexthop(*parseNextHop("relay.example:587"), "b.example").c_str());
    STRCMP_EQUAL("10.1.2.3", tlsNexthop(*parseNextHop("[10.1.2.3]:25"), "b.example").c_str());
}

TEST_GROUP(SmtpClientDestinationLookup) {
    EventBasePtr base;
    std::unique_ptr<testing::DnsmasqServer> dnsmasq;
    std::unique_ptr<dns::Resolver> resolver;

    void setup() override {
        base.reset(event_base_new());
        dnsmasq = std::make_unique<testing::DnsmasqServer>(std::vector<std::string>{
            "--local=/example/",
            "--mx-host=b.example,mx20.b.example,20",
            "--mx-host=b.example,mx10.b.example,10",
            "--mx-host=null.example,.,0",
            "--mx-host=self.example,me.example,10",
            "--host-record=mx10.b.example,192.0.2.10",
            "--host-record=mx20.b.example,192.0.2.20",
            "--host-record=nomx.example,192.0.2.30",
            "--mx-host=gone.example,nowhere.example,10",
        });
        if (!dnsmasq->ok()) FAIL(dnsmasq->error().c_str());
        dns::ResolverSettings settings;
        settings.servers = {dnsmasq->address()};
        auto made = dns::Resolver::create(base.get(), settings);
        if (!made) FAIL(made.error().c_str());
        resolver = std::move(made.value());
    }
    void teardown() override {
        resolver.reset();
        dnsmasq.reset();
        base.reset();
    }

    Destinations find(const std::string& nexthop, const std::string& domain, int limit = 0) {
        DestinationLookup lookup(*resolver, {"me.example", limit}, dns::defaultRandom());
        std::optional<Destinations> found;
        lookup.start(*parseNextHop(nexthop), domain, [&](Destinations d) { found = std::move(d); });
        CHECK_TRUE(testing::runUntil(base.get(), [&] { return found.has_value(); }));
        return std::move(*found);
    }
};

TEST(SmtpClientDestinationLookup, MxHostsInPreferenceOrder) {
    STRCMP_EQUAL("mx10.b.example[192.0.2.10]:2525 mx20.b.example[192.0.2.20]:2525",
                 describe(find("mx:2525", "b.example").candidates).c_str());
    STRCMP_EQUAL("mx10.b.example[192.0.2.10]:25", describe(find("mx", "b.example", 1).candidates).c_str());
}

TEST(SmtpClientDestinationLookup, NoMxMeansTheDomainsAddress) {
    STRCMP_EQUAL("nomx.example[192.0.2.30]:25", describe(find("mx", "nomx.example").candidates).c_str());
    STRCMP_EQUAL("nomx.example[192.0.2.30]:587",
                 describe(find("nomx.example:587", "other.example").candidates).c_str());
    STRCMP_EQUAL("mx10.b.example[192.0.2.10]:25",
                 describe(find("[mx10.b.example]:25", "other.example").candidates).c_str());
}

TEST(SmtpClientDestinationLookup, LiteralsNeedNoDns) {
    STRCMP_EQUAL("192.0.2.99[192.0.2.99]:26", describe(find("[192.0.2.99]:26", "x.example").candidates).c_str());
    STRCMP_EQUAL("192.0.2.98[192.0.2.98]:25", describe(find("mx", "[192.0.2.98]").candidates).c_str());
    STRCMP_EQUAL("2001:db8::5[2001:db8::5]:25", describe(find("mx", "[IPv6:2001:db8::5]").candidates).c_str());
}

TEST(SmtpClientDestinationLookup, FailuresSayWhy) {
    auto nullMx = find("mx", "null.example");
    CHECK_TRUE(nullMx.candidates.empty());
    STRCMP_EQUAL("5.1.10", nullMx.failure->dsn.c_str());
    auto nx = find("mx", "nothere.example");
    STRCMP_EQUAL("5.4.4", nx.failure->dsn.c_str());
    auto self = find("mx", "self.example");
    STRCMP_EQUAL("mail for self.example loops back to myself", self.failure->text.c_str());
    auto gone = find("mx", "gone.example");
    STRCMP_EQUAL("Host or domain name not found. Name service error for name=nowhere.example type=A: Host not found",
                 gone.failure->text.c_str());
}
