// tls_context_test.cpp: unit tests for lib/tls contexts themselves: TLS 1.1 refused both
// ways, the cost of a fresh client context with the shared trust store, the names a policy
// matches, and configuration mistakes reported as errors.
#include <chrono>

#include "tls.h"
#include "tls_test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::tls;
using postern::testing::pkiFile;

namespace {

// A context that speaks only TLS 1.1 (OpenSSL 3 allows it at security level 0 only).
SslCtxPtr tls11Context(const SSL_METHOD* method, bool withCertificate) {
    SslCtxPtr context(SSL_CTX_new(method));
    SSL_CTX_set_min_proto_version(context.get(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(context.get(), TLS1_1_VERSION);
    SSL_CTX_set_cipher_list(context.get(), "DEFAULT:@SECLEVEL=0");
    if (withCertificate) {
        Status loaded =
            useCertificateAndKey(context.get(), pkiFile("server.pem"), pkiFile("server.key"));
        if (!loaded) FAIL(loaded.error().c_str());
    }
    return context;
}

SslCtxPtr ourServer() {
    auto context = makeServerContext({pkiFile("server.pem"), pkiFile("server.key"), true, ""});
    if (!context) FAIL(context.error().c_str());
    return std::move(context.value());
}

postern::testing::HandshakeOutcome handshake(SSL_CTX* client, SSL_CTX* server) {
    SslPtr clientSsl(SSL_new(client));
    SslPtr serverSsl(SSL_new(server));
    return postern::testing::runHandshake(clientSsl.get(), serverSsl.get());
}

}  // namespace

TEST_GROUP(TlsContext){};

TEST(TlsContext, Tls11IsRefusedBothWays) {
    SslCtxPtr oldClient = tls11Context(TLS_client_method(), false);
    SslCtxPtr oldServer = tls11Context(TLS_server_method(), true);
    // The old peers do speak TLS 1.1 with each other, so a refusal below is ours.
    auto control = handshake(oldClient.get(), oldServer.get());
    CHECK_TRUE_TEXT(control.clientOk && control.serverOk, control.clientError.c_str());

    SslCtxPtr server = ourServer();
    auto toUs = handshake(oldClient.get(), server.get());
    CHECK_FALSE(toUs.serverOk);
    CHECK_TEXT(toUs.serverError.find("unsupported protocol") != std::string::npos,
               toUs.serverError.c_str());

    auto trust = ClientTrustStore::load({pkiFile("root.pem"), ""});
    CHECK_TRUE(trust.ok());
    auto client = makeClientContext({TlsLevel::Encrypt, {}, "", ""}, *trust);
    CHECK_TRUE(client.ok());
    auto fromUs = handshake(client->get(), oldServer.get());
    CHECK_FALSE(fromUs.clientOk);
}

TEST(TlsContext, FreshClientContextsAreCheapWithTheSharedStore) {
    // The whole system bundle, as in production: loaded once here (~28 ms), never again.
    auto trust = ClientTrustStore::load({"/etc/ssl/certs/ca-certificates.crt", ""});
    CHECK_TRUE_TEXT(trust.ok(), trust.ok() ? "" : trust.error().c_str());
    ClientTlsPolicy policy{TlsLevel::Verify, {"mx.example.com"}, "", ""};
    const int count = 1000;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        auto context = makeClientContext(policy, *trust);
        CHECK_TRUE(context.ok());
        CHECK(SSL_CTX_get_cert_store(context->get()) == trust->get());  // shared, not copied
        auto ssl = makeClientSsl(context->get(), policy, {"mx.example.com", "example.com"});
        CHECK_TRUE(ssl.ok());
    }
    auto each = (std::chrono::steady_clock::now() - start) / count;
    // ~150 us measured; 5 ms leaves room for sanitizers and still fails a bundle per context.
    CHECK(each < std::chrono::milliseconds(5));
}

TEST(TlsContext, NamesToMatchFollowPostfix) {
    TlsPeer peer{"mx.partner.example", "partner.example"};
    auto names = [&](TlsLevel level, std::vector<std::string> match) {
        return namesToMatch({level, std::move(match), "", ""}, peer);
    };
    CHECK(names(TlsLevel::May, {"x.example"}).empty());
    CHECK(names(TlsLevel::Encrypt, {}).empty());
    CHECK((names(TlsLevel::Verify, {}) == std::vector<std::string>{"mx.partner.example"}));
    CHECK((names(TlsLevel::Verify, {"other.example", "mx.partner.example"}) ==
           std::vector<std::string>{"mx.partner.example", "other.example"}));
    CHECK((names(TlsLevel::Secure, {}) ==
           std::vector<std::string>{"partner.example", ".partner.example"}));
    CHECK((names(TlsLevel::Secure, {"hostname", ".corp.example"}) ==
           std::vector<std::string>{"mx.partner.example", ".corp.example"}));
}

TEST(TlsContext, LevelNamesRoundTrip) {
    for (TlsLevel level :
         {TlsLevel::None, TlsLevel::May, TlsLevel::Encrypt, TlsLevel::Verify, TlsLevel::Secure}) {
        auto parsed = parseLevel(levelName(level));
        CHECK_TRUE(parsed.ok());
        CHECK(*parsed == level);
    }
    auto bad = parseLevel("dane");
    CHECK_FALSE(bad.ok());
    CHECK(bad.error().find("dane") != std::string::npos);
}

TEST(TlsContext, MistakesAreErrorsNamingTheFile) {
    auto mismatched = makeServerContext({pkiFile("server.pem"), pkiFile("client.key"), false, ""});
    CHECK_FALSE(mismatched.ok());
    CHECK_TEXT(mismatched.error().find("does not match") != std::string::npos,
               mismatched.error().c_str());

    auto missing = makeServerContext({"/nonexistent/cert.pem", "", false, ""});
    CHECK_FALSE(missing.ok());
    CHECK(missing.error().find("/nonexistent/cert.pem") != std::string::npos);

    auto badCa = ClientTrustStore::load({"/nonexistent/ca.pem", ""});
    CHECK_FALSE(badCa.ok());

    auto trust = ClientTrustStore::load({pkiFile("root.pem"), ""});
    CHECK_TRUE(trust.ok());
    CHECK_FALSE(makeClientContext({TlsLevel::None, {}, "", ""}, *trust).ok());
    CHECK_FALSE(makeClientContext({TlsLevel::May, {}, "", pkiFile("client.key")}, *trust).ok());
    auto wrongKey = makeClientContext(
        {TlsLevel::May, {}, pkiFile("client.pem"), pkiFile("server.key")}, *trust);
    CHECK_FALSE(wrongKey.ok());
    STRCMP_EQUAL("", errorText().c_str());  // every failure drained the error queue
}
