// smtp_client_cache_test.cpp: unit tests for smtp/connection_cache and the session's reuse
// (smtp/session_reuse): keys that separate every TLS policy field, two transactions over one
// connection, the idle, reuse-time and reuse-count limits, the caps, a server that closes an
// idle connection, a stale cached connection, RSET after an aborted transaction, QUIT on
// closeAll. Real sessions against a scripted server on the test's event loop.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smtp/connection_cache.h"
#include "smtp_client_server.h"
#include "test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;
using testing::ScriptedSmtpServer;

namespace {

struct Outcome {
    std::map<std::string, Verdict> verdicts;  // by address
    std::map<std::string, RelayInfo> via;     // by address
    std::optional<SessionEnd> end;
};

// "MAIL", "RCPT", ...: each command's verb, in order.
std::vector<std::string> verbs(const ScriptedSmtpServer& server) {
    std::vector<std::string> result;
    for (const auto& [line, more] : server.commands) result.push_back(line.substr(0, line.find(' ')));
    return result;
}

std::string joined(const std::vector<std::string>& words) {
    std::string text;
    for (const auto& word : words) text += (text.empty() ? "" : " ") + word;
    return text;
}

DeliveryJob relayJob(const std::string& nexthop, const std::string& domain) {
    DeliveryJob job;
    job.nexthop = parseNextHop(nexthop).value();
    job.request.domain = domain;
    job.tls.level = tls::TlsLevel::May;
    return job;
}

}  // namespace

TEST_GROUP(SmtpClientCacheKeys){};

TEST(SmtpClientCacheKeys, EveryTlsPolicyFieldSeparatesDestinations) {
    const DeliveryJob base = relayJob("[192.0.2.1]:25", "a.example");
    const std::string key = destinationKey(base);
    std::vector<std::function<void(DeliveryJob&)>> changes = {
        [](DeliveryJob& j) { j.tls.level = tls::TlsLevel::Encrypt; },
        [](DeliveryJob& j) { j.tls.match = {"mx.a.example"}; },
        [](DeliveryJob& j) { j.caFile = "/etc/ca.pem"; },
        [](DeliveryJob& j) { j.caPath = "/etc/ca"; },
        [](DeliveryJob& j) { j.tls.certFile = "/etc/client.pem"; },
        [](DeliveryJob& j) { j.tls.keyFile = "/etc/client.key"; },
    };
    for (size_t i = 0; i < changes.size(); ++i) {
        DeliveryJob changed = relayJob("[192.0.2.1]:25", "a.example");
        changes[i](changed);
        CHECK_TEXT(destinationKey(changed) != key, std::to_string(i).c_str());
        CHECK_TEXT(endpointKey(changed, testing::loopbackServer(25)) != endpointKey(base, testing::loopbackServer(25)),
                   std::to_string(i).c_str());
    }
    // Another next hop is another destination, though its server may be the same endpoint.
    DeliveryJob otherPort = relayJob("[192.0.2.1]:26", "a.example");
    CHECK(destinationKey(otherPort) != key);
    // A field's text cannot pass for two: a CA file "a" + path "b" is not file "ab".
    DeliveryJob split = relayJob("[192.0.2.1]:25", "a.example"), merged = relayJob("[192.0.2.1]:25", "a.example");
    split.caFile = "a";
    split.caPath = "b";
    merged.caFile = "ab";
    CHECK(destinationKey(split) != destinationKey(merged));
}

TEST(SmtpClientCacheKeys, RecipientDomainCountsOnlyForMx) {
    CHECK(destinationKey(relayJob("mx", "a.example")) != destinationKey(relayJob("mx", "b.example")));
    CHECK(destinationKey(relayJob("mx", "a.example")) == destinationKey(relayJob("mx", "A.Example.")));
    CHECK(destinationKey(relayJob("relay.example", "a.example")) == destinationKey(relayJob("relay.example", "b.example")));
}

TEST(SmtpClientCacheKeys, EndpointsAreSharedAcrossDomainsUnlessCertificateNamesDiffer) {
    const Candidate server = testing::loopbackServer(25, "mx.shared.example");
    // may: nothing about the domain was checked, so two domains may share the connection.
    CHECK(endpointKey(relayJob("mx", "a.example"), server) == endpointKey(relayJob("mx", "b.example"), server));
    // secure: the certificate was matched against the domain; another domain must not share.
    DeliveryJob a = relayJob("mx", "a.example"), b = relayJob("mx", "b.example");
    a.tls.level = b.tls.level = tls::TlsLevel::Secure;
    CHECK(endpointKey(a, server) != endpointKey(b, server));
    // Another server, another endpoint.
    CHECK(endpointKey(a, server) != endpointKey(a, testing::loopbackServer(25, "mx2.shared.example")));
}

TEST_GROUP(SmtpClientCache) {
    EventBasePtr base;
    testing::TempDir dir;
    std::unique_ptr<TrustStores> trust;
    SessionSettings settings;
    DeliveryJob job;
    CacheSettings cacheSettings;
    std::chrono::seconds clockShift{0};
    int quitsBegun = 0;
    std::unique_ptr<ConnectionCache> cache;

    void setup() override {
        base.reset(event_base_new());
        auto loaded = TrustStores::load(SmtpTlsPolicy{});
        if (!loaded) FAIL(loaded.error().c_str());
        trust = std::move(loaded.value());
        settings.heloName = "client.example";
        testing::prepareTestJob(job, dir.path);
        job.nexthop = parseNextHop("[127.0.0.1]:25").value();
        cacheSettings.idleLimit = std::chrono::seconds(30);
    }
    void teardown() override {
        cache.reset();
        job.content.reset();
        trust.reset();
        base.reset();
    }

    void makeCache() {
        cache = std::make_unique<ConnectionCache>(
            base.get(), cacheSettings,
            [this] {
                ++quitsBegun;
                return WorkGuard();
            },
            [this] { return std::chrono::steady_clock::now() + clockShift; });
    }

    // Runs SESSION's transaction (started by START) for ADDRESSES to its end.
    Outcome runTransaction(const std::function<void(Session::RecipientDone, Session::Ended)>& start) {
        Outcome outcome;
        start(
            [&](size_t position, const Verdict& verdict, const RelayInfo& via) {
                outcome.verdicts[job.request.recipients[position].address] = verdict;
                outcome.via[job.request.recipients[position].address] = via;
            },
            [&](const SessionEnd& end) { outcome.end = end; });
        CHECK_TRUE(testing::runUntil(base.get(), [&] { return outcome.end.has_value(); }));
        return outcome;
    }

    // A new connection to PORT delivering to ADDRESSES; the session is left in SESSION.
    Outcome fresh(uint16_t port, std::unique_ptr<Session>& session, std::vector<std::string> addresses = {"ok@b.example"}) {
        const auto positions = testing::setRecipients(job, addresses);
        return runTransaction([&](Session::RecipientDone done, Session::Ended ended) {
            session = std::make_unique<Session>(Session::Env{base.get(), &settings, trust.get(), true}, job,
                                                testing::loopbackServer(port), positions, true, done, ended);
            session->start();
        });
    }

    Outcome resumed(Session& session, std::vector<std::string> addresses = {"ok@b.example"}) {
        const auto positions = testing::setRecipients(job, addresses);
        return runTransaction([&](Session::RecipientDone done, Session::Ended ended) {
            session.resume(job, positions, done, ended);
        });
    }

    CacheKeys keysOf(const Session& session) { return {destinationKey(job), endpointKey(job, session.server())}; }

    // A fresh session's transaction, then the session parked in the cache.
    void parkOne(ScriptedSmtpServer& server) {
        std::unique_ptr<Session> session;
        Outcome first = fresh(server.port(), session);
        CHECK_TRUE(first.end->reusable);
        CacheKeys keys = keysOf(*session);
        cache->offer(std::move(session), std::move(keys));
    }

    bool quitSeen(const ScriptedSmtpServer& server) {
        return !server.commands.empty() && server.commands.back().first == "QUIT";
    }
};

TEST(SmtpClientCache, TwoTransactionsShareOneConnection) {
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers("250-PIPELINING\r\n"));
    parkOne(server);
    LONGS_EQUAL(1, cache->idle());
    std::unique_ptr<Session> session = cache->takeByDestination(destinationKey(job));
    CHECK(session != nullptr);
    Outcome second = resumed(*session, {"ok2@b.example"});
    CHECK(second.verdicts["ok2@b.example"].outcome == RecipientOutcome::Sent);
    LONGS_EQUAL(2, second.via["ok2@b.example"].connectionUse);
    CHECK_TRUE(second.end->reusable);
    LONGS_EQUAL(1, server.connections());
    STRCMP_EQUAL("EHLO MAIL RCPT DATA MAIL RCPT DATA", joined(verbs(server)).c_str());
    // Back in, then closed: the worker stops.
    CacheKeys keys = keysOf(*session);
    cache->offer(std::move(session), std::move(keys));
    cache->closeAll();
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return cache->closing() == 0 && quitSeen(server); }));
    LONGS_EQUAL(1, quitsBegun);
    LONGS_EQUAL(0, cache->idle());
}

TEST(SmtpClientCache, AnotherPolicyNeverGetsTheConnection) {
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    DeliveryJob withCertificate = relayJob("[127.0.0.1]:25", "");
    withCertificate.tls.level = job.tls.level;
    withCertificate.tls.certFile = "/etc/client.pem";
    CHECK(cache->takeByDestination(destinationKey(withCertificate)) == nullptr);
    CHECK(cache->takeByEndpoint(endpointKey(withCertificate, testing::loopbackServer(server.port()))) == nullptr);
    CHECK(cache->takeByEndpoint(endpointKey(job, testing::loopbackServer(server.port()))) != nullptr);
}

TEST(SmtpClientCache, IdleSessionsGetQuitAfterTheTimeLimit) {
    cacheSettings.idleLimit = std::chrono::seconds(1);
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    const auto parkedAt = std::chrono::steady_clock::now();
    parkOne(server);
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return quitSeen(server); }));
    CHECK(std::chrono::steady_clock::now() - parkedAt >= std::chrono::milliseconds(900));
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return cache->closing() == 0; }));
    LONGS_EQUAL(0, cache->idle());
}

TEST(SmtpClientCache, AServerClosingAnIdleConnectionTakesItOut) {
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    server.hangUpAll();
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return cache->idle() == 0; }));
    CHECK(cache->takeByDestination(destinationKey(job)) == nullptr);
    LONGS_EQUAL(0, quitsBegun);
}

TEST(SmtpClientCache, ReuseTimeLimitCountsFromTheConnect) {
    cacheSettings.reuseTimeLimit = std::chrono::seconds(300);
    clockShift = std::chrono::seconds(301);
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    LONGS_EQUAL(0, cache->idle());
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return quitSeen(server) && cache->closing() == 0; }));
}

TEST(SmtpClientCache, ReuseCountLimitOfOneAllowsTwoTransactions) {
    cacheSettings.reuseCountLimit = 1;
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    LONGS_EQUAL(1, cache->idle());
    std::unique_ptr<Session> session = cache->takeByDestination(destinationKey(job));
    resumed(*session);
    CacheKeys keys = keysOf(*session);
    cache->offer(std::move(session), std::move(keys));
    LONGS_EQUAL(0, cache->idle());
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return quitSeen(server); }));
}

TEST(SmtpClientCache, OldestIdleSessionsBeyondTheCapsGetQuit) {
    cacheSettings.destinationLimit = 1;
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    parkOne(server);
    LONGS_EQUAL(1, cache->idle());
    LONGS_EQUAL(1, quitsBegun);
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return cache->closing() == 0 && server.openConnections() == 1; }));
}

TEST(SmtpClientCache, StaleConnectionEndsWithoutSettlingAnything) {
    makeCache();
    int mails = 0;
    auto usual = testing::usualAnswers("");
    for (const char* failure : {"421 4.4.2 idle too long\r\n", ScriptedSmtpServer::kHangUp}) {
        mails = 0;
        ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", [&](const std::string& line) {
            if (line.starts_with("MAIL") && ++mails == 2) return std::string(failure);
            return usual(line);
        });
        parkOne(server);
        std::unique_ptr<Session> session = cache->takeByDestination(destinationKey(job));
        Outcome second = resumed(*session);
        CHECK(second.end->next == SessionEnd::Next::StaleConnection);
        CHECK_FALSE(second.end->reusable);
        CHECK_TRUE(second.verdicts.empty());
    }
}

TEST(SmtpClientCache, AnAbortedTransactionIsResetBeforeTheConnectionIsKept) {
    makeCache();
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    std::unique_ptr<Session> session;
    Outcome outcome = fresh(server.port(), session, {"fail@b.example"});
    CHECK(outcome.verdicts["fail@b.example"].outcome == RecipientOutcome::Bounced);
    CHECK_TRUE(outcome.end->reusable);
    STRCMP_EQUAL("EHLO MAIL RCPT RSET", joined(verbs(server)).c_str());
}

TEST(SmtpClientCache, AClosedCacheQuitsWhatItIsOffered) {
    makeCache();
    cache->closeAll();
    CHECK_FALSE(cache->accepting());
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", testing::usualAnswers(""));
    parkOne(server);
    LONGS_EQUAL(0, cache->idle());
    CHECK_TRUE(testing::runUntil(base.get(), [&] { return quitSeen(server) && cache->closing() == 0; }));
}
