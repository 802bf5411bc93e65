// tls_test.cpp: unit tests for lib/tls with real OpenSSL handshakes over memory BIO pairs:
// fresh client contexts answer a CertificateRequest with an empty Certificate every time
// (the regression postern exists for); a client certificate only when the policy names one;
// verification levels, name matching, SNI; TLS 1.1 refused; the log lines; the cost of a
// fresh context with the shared trust store.
#include "tls.h"

#include <chrono>
#include <optional>

#include "tls_cert.h"
#include "tls_test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::tls;
using postern::testing::HandshakeOutcome;
using postern::testing::HandshakeTrace;
using postern::testing::pkiFile;

namespace {

// One client connection to a server context, run to the end of its handshake.
struct Connection {
    SslCtxPtr clientContext;
    SslPtr client;
    SslPtr server;
    HandshakeTrace trace;
    HandshakeOutcome outcome;
};

std::unique_ptr<Connection> connect(SSL_CTX* serverContext, const ClientTlsPolicy& policy,
                                    const ClientTrustStore& trust, const TlsPeer& peer,
                                    int serverMaxVersion = 0) {
    auto connection = std::make_unique<Connection>();
    auto context = makeClientContext(policy, trust);
    if (!context) FAIL(context.error().c_str());
    connection->clientContext = std::move(context.value());
    auto client = makeClientSsl(connection->clientContext.get(), policy, peer);
    if (!client) FAIL(client.error().c_str());
    connection->client = std::move(client.value());
    connection->server.reset(SSL_new(serverContext));
    if (serverMaxVersion) SSL_set_max_proto_version(connection->server.get(), serverMaxVersion);
    postern::testing::traceClientHandshake(connection->client.get(), &connection->trace);
    connection->outcome =
        postern::testing::runHandshake(connection->client.get(), connection->server.get());
    return connection;
}

SslCtxPtr serverContext(bool askClientCert, const std::string& caFile = "",
                        const char* base = "server") {
    ServerTlsSettings settings;
    settings.certFile = pkiFile((std::string(base) + ".pem").c_str());
    settings.keyFile = pkiFile((std::string(base) + ".key").c_str());
    settings.askClientCert = askClientCert;
    settings.caFile = caFile;
    auto context = makeServerContext(settings);
    if (!context) FAIL(context.error().c_str());
    return std::move(context.value());
}

ClientTrustStore testTrust() {
    auto trust = ClientTrustStore::load({pkiFile("root.pem"), ""});
    if (!trust) FAIL(trust.error().c_str());
    return std::move(trust.value());
}

ClientTlsPolicy policy(TlsLevel level, std::vector<std::string> match = {}) {
    ClientTlsPolicy policy;
    policy.level = level;
    policy.match = std::move(match);
    return policy;
}

ClientTlsPolicy withClientCertificate(ClientTlsPolicy policy) {
    policy.certFile = pkiFile("client.pem");
    policy.keyFile = pkiFile("client.key");
    return policy;
}

const TlsPeer kMx{"mx.test.example", "test.example"};

std::string firstFingerprint(const char* file) {
    auto certificates = readCertificates(pkiFile(file));
    if (!certificates) FAIL(certificates.error().c_str());
    return fingerprintSha256(certificates->front().get());
}

}  // namespace

TEST_GROUP(TlsClientCertificate) {
    std::optional<ClientTrustStore> trust;
    void setup() override {
        trust.emplace(testTrust());
    }
    void teardown() override {
        trust.reset();
    }
};

TEST(TlsClientCertificate, FreshContextsAlwaysAnswerWithAnEmptyCertificate) {
    SslCtxPtr server = serverContext(true, pkiFile("root.pem"));
    const std::string clientFingerprint = firstFingerprint("client.pem");
    for (int i = 0; i < 200; ++i) {
        // Every tenth connection belongs to a route with a client certificate: nothing of it
        // may leak into the next one. Odd connections meet a TLS 1.2-only server.
        bool routeHasCertificate = i % 10 == 5;
        ClientTlsPolicy route = policy(TlsLevel::May);
        if (routeHasCertificate) route = withClientCertificate(route);
        auto c = connect(server.get(), route, *trust, kMx, i % 2 ? TLS1_2_VERSION : 0);
        CHECK_TRUE_TEXT(c->outcome.clientOk, c->outcome.clientError.c_str());
        CHECK_TRUE_TEXT(c->outcome.serverOk, c->outcome.serverError.c_str());
        CHECK_TRUE(c->trace.receivedCertificateRequest);
        CHECK_FALSE(SSL_session_reused(c->client.get()));
        STRCMP_EQUAL(i % 2 ? "TLSv1.2" : "TLSv1.3", SSL_get_version(c->client.get()));
        if (routeHasCertificate) {
            LONGS_EQUAL(2, c->trace.certificatesSent);  // leaf and intermediate
            STRCMP_EQUAL(clientFingerprint.c_str(), peerFingerprint(c->server.get()).c_str());
        } else {
            LONGS_EQUAL(0, c->trace.certificatesSent);
            CHECK(SSL_get0_peer_certificate(c->server.get()) == nullptr);
            CHECK(peerTrust(c->server.get()) == PeerTrust::Anonymous);
        }
    }
}

TEST(TlsClientCertificate, ServerSeesANamedClientCertificateAndItsTrust) {
    SslCtxPtr trusting = serverContext(true, pkiFile("root.pem"));
    auto c = connect(trusting.get(), withClientCertificate(policy(TlsLevel::Encrypt)), *trust, kMx);
    CHECK_TRUE(c->outcome.serverOk);
    STRCMP_EQUAL(firstFingerprint("client.pem").c_str(), peerFingerprint(c->server.get()).c_str());
    STRCMP_EQUAL(
        "Trusted TLS connection established from client.test.example[192.0.2.9]: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        serverConnectionLine(c->server.get(), "client.test.example", "192.0.2.9").c_str());

    // Without the CA the certificate still does not end the handshake.
    SslCtxPtr notTrusting = serverContext(true);
    auto d = connect(notTrusting.get(), withClientCertificate(policy(TlsLevel::May)), *trust, kMx);
    CHECK_TRUE_TEXT(d->outcome.serverOk, d->outcome.serverError.c_str());
    CHECK(peerTrust(d->server.get()) == PeerTrust::Untrusted);
}

TEST(TlsClientCertificate, NoCertificateRequestWithoutAskCcert) {
    SslCtxPtr server = serverContext(false);
    auto c = connect(server.get(), withClientCertificate(policy(TlsLevel::May)), *trust, kMx);
    CHECK_TRUE(c->outcome.serverOk);
    CHECK_FALSE(c->trace.receivedCertificateRequest);
    LONGS_EQUAL(-1, c->trace.certificatesSent);
    CHECK(peerTrust(c->server.get()) == PeerTrust::Anonymous);
}

TEST_GROUP(TlsVerification) {
    std::optional<ClientTrustStore> trust;
    SslCtxPtr server;
    void setup() override {
        trust.emplace(testTrust());
        server = serverContext(false);
    }
    void teardown() override {
        server.reset();
        trust.reset();
    }
};

TEST(TlsVerification, ChainAndNameMatchIsVerified) {
    auto c = connect(server.get(), policy(TlsLevel::Verify), *trust, kMx);
    CHECK_TRUE_TEXT(c->outcome.clientOk, c->outcome.clientError.c_str());
    CHECK(peerTrust(c->client.get()) == PeerTrust::Verified);
    STRCMP_EQUAL(
        "Verified TLS connection established to mx.test.example[192.0.2.1]:25: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        clientConnectionLine(c->client.get(), "mx.test.example", "192.0.2.1", 25).c_str());
}

TEST(TlsVerification, WrongNameFailsOnlyWhereVerificationIsRequired) {
    const TlsPeer wrong{"wrong.example", "wrong.example"};
    auto verify = connect(server.get(), policy(TlsLevel::Verify), *trust, wrong);
    CHECK_FALSE(verify->outcome.clientOk);
    STRCMP_EQUAL("hostname mismatch", verifyResultText(verify->client.get()).c_str());
    auto secure = connect(server.get(), policy(TlsLevel::Secure, {"other.example"}), *trust, kMx);
    CHECK_FALSE(secure->outcome.clientOk);

    for (TlsLevel level : {TlsLevel::May, TlsLevel::Encrypt}) {
        auto c = connect(server.get(), policy(level), *trust, wrong);
        CHECK_TRUE_TEXT(c->outcome.clientOk, c->outcome.clientError.c_str());
        CHECK(peerTrust(c->client.get()) == PeerTrust::Trusted);  // chain checked, name not
    }
}

TEST(TlsVerification, SecureMatchesNexthopKeywords) {
    // Default match "nexthop, dot-nexthop": mx.test.example is a subdomain of test.example.
    auto c = connect(server.get(), policy(TlsLevel::Secure), *trust, kMx);
    CHECK_TRUE_TEXT(c->outcome.clientOk, c->outcome.clientError.c_str());
    CHECK(peerTrust(c->client.get()) == PeerTrust::Verified);

    auto elsewhere = connect(server.get(), policy(TlsLevel::Secure), *trust,
                             {"mx.test.example", "elsewhere.example"});
    CHECK_FALSE(elsewhere->outcome.clientOk);

    auto byHost = connect(server.get(), policy(TlsLevel::Secure, {"hostname"}), *trust,
                          {"mail.test.example", "elsewhere.example"});
    CHECK_TRUE_TEXT(byHost->outcome.clientOk, byHost->outcome.clientError.c_str());
}

TEST(TlsVerification, IpLiteralHostUsesMatchNamesAndNoSni) {
    const TlsPeer literal{"192.0.2.1", "192.0.2.1"};
    auto c =
        connect(server.get(), policy(TlsLevel::Verify, {"mail.test.example"}), *trust, literal);
    CHECK_TRUE_TEXT(c->outcome.clientOk, c->outcome.clientError.c_str());
    CHECK(peerTrust(c->client.get()) == PeerTrust::Verified);
    CHECK(SSL_get_servername(c->server.get(), TLSEXT_NAMETYPE_host_name) == nullptr);

    auto noName = makeClientContext(policy(TlsLevel::Verify), *trust);
    CHECK_TRUE(noName.ok());
    CHECK_FALSE(makeClientSsl(noName->get(), policy(TlsLevel::Verify), literal).ok());
}

TEST(TlsVerification, SniIsTheServerHostName) {
    auto c = connect(server.get(), policy(TlsLevel::May), *trust, kMx);
    CHECK_TRUE(c->outcome.serverOk);
    STRCMP_EQUAL("mx.test.example", SSL_get_servername(c->server.get(), TLSEXT_NAMETYPE_host_name));
}

TEST(TlsVerification, UntrustedServerPassesMayButNotVerify) {
    SslCtxPtr selfSigned = serverContext(false, "", "self");
    const TlsPeer self{"self.test.example", "test.example"};
    auto may = connect(selfSigned.get(), policy(TlsLevel::May), *trust, self);
    CHECK_TRUE(may->outcome.clientOk);
    CHECK(peerTrust(may->client.get()) == PeerTrust::Untrusted);
    STRCMP_EQUAL(
        "Untrusted TLS connection established to self.test.example[192.0.2.3]:25: TLSv1.3 with "
        "cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        clientConnectionLine(may->client.get(), "self.test.example", "192.0.2.3", 25).c_str());
    auto verify = connect(selfSigned.get(), policy(TlsLevel::Verify), *trust, self);
    CHECK_FALSE(verify->outcome.clientOk);
}
