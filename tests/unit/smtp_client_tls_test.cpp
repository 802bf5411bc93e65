// smtp_client_tls_test.cpp: unit tests for smtp/tls_setup: trust stores loaded once and
// shared, a fresh context for every connection with a client certificate only when the
// route names one, and the reasons given for failed handshakes.
#include "log.h"
#include "smtp/tls_setup.h"
#include "tls_test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

TEST_GROUP(SmtpClientTls) {
    std::unique_ptr<TrustStores> stores;

    void setup() override {
        SmtpTlsPolicy defaults;
        defaults.ca_file = testing::pkiFile("root.pem");
        auto loaded = TrustStores::load(defaults);
        if (!loaded) FAIL(loaded.error().c_str());
        stores = std::move(loaded.value());
    }
    void teardown() override { stores.reset(); }
};

TEST(SmtpClientTls, StoresAreLoadedOncePerRouteAndShared) {
    log::Capture captured;
    auto process = stores->forRoute("", "");
    auto same = stores->forRoute(testing::pkiFile("root.pem"), "");
    CHECK_TRUE(process.ok() && same.ok());
    POINTERS_EQUAL(*process, *same);  // smtp.tls's own file is the process's store
    auto route = stores->forRoute(testing::pkiFile("inter.pem"), "");
    CHECK_TRUE(route.ok());
    CHECK(*route != *process);
    POINTERS_EQUAL(*route, *stores->forRoute(testing::pkiFile("inter.pem"), ""));
    LONGS_EQUAL(2, stores->size());
    CHECK_TRUE(captured.contains("loaded the trusted CAs of " + testing::pkiFile("inter.pem")));
    CHECK_FALSE(stores->forRoute("/nonexistent/ca.pem", "").ok());
    LONGS_EQUAL(2, stores->size());
}

TEST(SmtpClientTls, EveryConnectionGetsItsOwnContext) {
    const tls::ClientTrustStore& trust = **stores->forRoute("", "");
    tls::ClientTlsPolicy policy;  // may, no certificate
    auto first = connectionSsl(policy, trust, {"mx.test.example", "test.example"});
    auto second = connectionSsl(policy, trust, {"mx.test.example", "test.example"});
    CHECK_TRUE(first.ok() && second.ok());
    CHECK(SSL_get_SSL_CTX(first->get()) != SSL_get_SSL_CTX(second->get()));
    POINTERS_EQUAL(trust.get(), SSL_CTX_get_cert_store(SSL_get_SSL_CTX(first->get())));
    POINTERS_EQUAL(nullptr, SSL_CTX_get0_certificate(SSL_get_SSL_CTX(first->get())));
    CHECK_TRUE(SSL_get_mode(first->get()) & SSL_MODE_RELEASE_BUFFERS);
    STRCMP_EQUAL("mx.test.example", SSL_get_servername(first->get(), TLSEXT_NAMETYPE_host_name));
}

TEST(SmtpClientTls, ClientCertificateOnlyWhenTheRouteNamesOne) {
    const tls::ClientTrustStore& trust = **stores->forRoute("", "");
    tls::ClientTlsPolicy withCert;
    withCert.certFile = testing::pkiFile("client.pem");
    withCert.keyFile = testing::pkiFile("client.key");
    auto named = connectionSsl(withCert, trust, {"mx.test.example", "test.example"});
    CHECK_TRUE(named.ok());
    CHECK(SSL_CTX_get0_certificate(SSL_get_SSL_CTX(named->get())) != nullptr);
    // The next connection, on a route without one, has none: nothing carries over.
    auto plain = connectionSsl(tls::ClientTlsPolicy{}, trust, {"mx.test.example", "test.example"});
    POINTERS_EQUAL(nullptr, SSL_CTX_get0_certificate(SSL_get_SSL_CTX(plain->get())));
}

TEST(SmtpClientTls, HandshakeFailuresAreNamedByLevel) {
    STRCMP_EQUAL("Cannot start TLS: handshake failure",
                 handshakeFailureText(nullptr, tls::TlsLevel::Encrypt).c_str());
    const tls::ClientTrustStore& trust = **stores->forRoute("", "");
    tls::ClientTlsPolicy verify;
    verify.level = tls::TlsLevel::Verify;
    auto ssl = connectionSsl(verify, trust, {"other.example", "other.example"});
    CHECK_TRUE(ssl.ok());
    SSL_set_verify_result(ssl->get(), X509_V_ERR_HOSTNAME_MISMATCH);
    STRCMP_EQUAL("Server certificate not verified", handshakeFailureText(ssl->get(), verify.level).c_str());
    SSL_set_verify_result(ssl->get(), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    STRCMP_EQUAL("Server certificate not trusted", handshakeFailureText(ssl->get(), verify.level).c_str());
}
