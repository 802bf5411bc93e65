// smtpd_policy_test.cpp: unit tests for smtpd/policy.h (relay control, message limits,
// the free space check), smtpd/client_counter.h and smtpd/session_state.h.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "queue_memory_store.h"
#include "smtpd/client_counter.h"
#include "smtpd/policy.h"
#include "smtpd/session_log.h"
#include "smtpd/session_state.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;

namespace {

sockaddr_in ipv4(const char* text) {
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    inet_pton(AF_INET, text, &address.sin_addr);
    return address;
}

Config relayConfig() {
    Config config;
    config.mynetworks = {CidrNetwork::parse("10.0.0.0/8").value()};
    config.relay_domains = {"example.com", ".corp.example"};
    return config;
}

}  // namespace

TEST_GROUP(SmtpdPolicy){};

TEST(SmtpdPolicy, RelayDomainsExactAndParent) {
    RelayPolicy policy(relayConfig());
    CHECK_TRUE(policy.isRelayDomain("example.com"));
    CHECK_TRUE(policy.isRelayDomain("EXAMPLE.com."));
    CHECK_FALSE(policy.isRelayDomain("sub.example.com"));
    CHECK_TRUE(policy.isRelayDomain("a.corp.example"));
    CHECK_FALSE(policy.isRelayDomain("corp.example"));
    CHECK_FALSE(policy.isRelayDomain("evilcorp.example"));
    CHECK_FALSE(policy.isRelayDomain(""));
}

TEST(SmtpdPolicy, NeverAnOpenRelay) {
    RelayPolicy policy(relayConfig());
    CHECK_FALSE(policy.checkRecipient("x@example.com", false).has_value());
    CHECK_FALSE(policy.checkRecipient("x@elsewhere.example", true).has_value());
    auto refusal = policy.checkRecipient("x@elsewhere.example", false);
    CHECK_TRUE(refusal.has_value());
    STRCMP_EQUAL("554 5.7.1 <x@elsewhere.example>: Relay access denied",
                 refusal->printable().c_str());
    // A quoted local part with an '@' does not fool the domain check.
    CHECK_TRUE(policy.checkRecipient("\"x@example.com\"@elsewhere.example", false).has_value());
}

TEST(SmtpdPolicy, MynetworksMatchesTheClient) {
    RelayPolicy policy(relayConfig());
    sockaddr_in inside = ipv4("10.1.2.3");
    sockaddr_in outside = ipv4("192.0.2.1");
    CHECK_TRUE(policy.inMynetworks(reinterpret_cast<sockaddr*>(&inside)));
    CHECK_FALSE(policy.inMynetworks(reinterpret_cast<sockaddr*>(&outside)));
}

TEST(SmtpdPolicy, CanonicalAddresses) {
    STRCMP_EQUAL("", canonicalAddress(Address{}, "origin.example").c_str());
    STRCMP_EQUAL("postmaster@origin.example",
                 canonicalAddress(Address{"postmaster", ""}, "origin.example").c_str());
    STRCMP_EQUAL("a@B.example", canonicalAddress(Address{"a", "B.example"}, "o").c_str());
    STRCMP_EQUAL("b.example", domainOf("a@B.example.").c_str());
}

TEST(SmtpdPolicy, MessageLimits) {
    MessageLimits limits{1000, 2};
    CHECK_FALSE(limits.checkDeclaredSize(std::nullopt).has_value());
    CHECK_FALSE(limits.checkDeclaredSize(1000).has_value());
    STRCMP_EQUAL("552 5.3.4 Message size exceeds fixed limit",
                 limits.checkDeclaredSize(1001)->printable().c_str());
    CHECK_FALSE(limits.checkRecipientCount(1).has_value());
    STRCMP_EQUAL("452 4.5.3 Error: too many recipients",
                 limits.checkRecipientCount(2)->printable().c_str());
    MessageLimits none{0, 0};
    CHECK_FALSE(none.checkDeclaredSize(UINT64_MAX).has_value());
    CHECK_FALSE(none.checkRecipientCount(100000).has_value());
}

TEST(SmtpdPolicy, FreeSpaceAgainstMinfreeAndMessageSize) {
    queue::MemoryQueueStore store;
    FreeSpaceCheck check(store, 1000, 10000);  // needs max(1000, 15000) + declared
    LONGS_EQUAL(15000, check.required(0));
    auto now = FreeSpaceCheck::Clock::now();
    store.setFreeBytes(15100);
    CHECK_FALSE(check.check(100, now).has_value());
    STRCMP_EQUAL("452 4.3.1 Insufficient system storage",
                 check.check(101, now)->printable().c_str());
    // The answer is kept for a second, then read again.
    store.setFreeBytes(0);
    CHECK_FALSE(check.check(0, now).has_value());
    CHECK_TRUE(check.check(0, now + std::chrono::seconds(2)).has_value());
}

TEST(SmtpdPolicy, ClientCounterTickets) {
    ClientCounter counter;
    {
        auto a = counter.enter("192.0.2.1");
        auto b = counter.enter("192.0.2.1");
        LONGS_EQUAL(2, counter.count("192.0.2.1"));
        auto moved = std::move(a);
        LONGS_EQUAL(2, counter.count("192.0.2.1"));
        b.release();
        LONGS_EQUAL(1, counter.count("192.0.2.1"));
    }
    LONGS_EQUAL(0, counter.count("192.0.2.1"));
    LONGS_EQUAL(0, counter.addresses());
}

TEST(SmtpdPolicy, StateTransitions) {
    CHECK_TRUE(isLegalTransition(SessionState::Commands, SessionState::Opening));
    CHECK_TRUE(isLegalTransition(SessionState::Opening, SessionState::Data));
    CHECK_TRUE(isLegalTransition(SessionState::Opening, SessionState::Chunk));
    CHECK_FALSE(isLegalTransition(SessionState::Commands, SessionState::Data));
    CHECK_TRUE(isLegalTransition(SessionState::Data, SessionState::Committing));
    CHECK_TRUE(isLegalTransition(SessionState::Committing, SessionState::Commands));
    CHECK_TRUE(isLegalTransition(SessionState::Handshake, SessionState::Commands));
    CHECK_FALSE(isLegalTransition(SessionState::Closed, SessionState::Commands));
    CHECK_FALSE(isLegalTransition(SessionState::Handshake, SessionState::Data));
    CHECK_FALSE(isLegalTransition(SessionState::Committing, SessionState::Data));
    CHECK_FALSE(isLegalTransition(SessionState::Count, SessionState::Commands));
    STRCMP_EQUAL("committing", stateName(SessionState::Committing));
}

TEST(SmtpdPolicy, DisconnectCounters) {
    CommandCounters counters;
    STRCMP_EQUAL("", counters.summary().c_str());
    counters.record(Verb::quit, true);
    counters.record(Verb::ehlo, true);
    counters.record(Verb::rcpt, false);
    counters.record(Verb::rcpt, true);
    counters.record(Verb::unknown, false);
    STRCMP_EQUAL(" ehlo=1 rcpt=1/2 quit=1 unknown=0/1 commands=3/5", counters.summary().c_str());
}

TEST(SmtpdPolicy, RejectLine) {
    std::string sender = "a@b";
    RejectContext context;
    context.stage = "RCPT";
    context.client = "unknown[192.0.2.1]";
    context.sender = &sender;
    context.recipient = "x@y";
    context.protocol = "ESMTP";
    context.helo = "h";
    STRCMP_EQUAL(
        "NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@y>: Relay access "
        "denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>",
        rejectLine(context, makeReply(554, "5.7.1", "<x@y>: Relay access denied")).c_str());
}
