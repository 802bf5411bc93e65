// tls_test_support.cpp: the test PKI, the memory-BIO handshake and the handshake trace for
// the TLS unit tests (see the header).
#include "tls_test_support.h"

#include <openssl/err.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tls.h"
#include "tls_cert.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

namespace postern::testing {

namespace {

using namespace postern::tls;

// A plain char array, not a std::string: CppUTest would report a string allocated inside the
// first test that used it as a leak of that test.
char pkiDirectory[64] = "";

void removePki() {
    if (pkiDirectory[0]) TempDir::removeTree(pkiDirectory);
}

EvpPkeyPtr newKey() {
    auto key = generateRsaKey(2048);
    if (!key) FAIL(key.error().c_str());
    return std::move(key.value());
}

X509Ptr checked(Result<X509Ptr> certificate) {
    if (!certificate) FAIL(certificate.error().c_str());
    return std::move(certificate.value());
}

void save(const std::string& base, EVP_PKEY* key, std::vector<X509*> chain) {
    std::string dir = pkiDirectory;
    Status keyWritten = writePrivateKey(dir + "/" + base + ".key", key);
    Status chainWritten = writeCertificates(dir + "/" + base + ".pem", chain);
    if (!keyWritten) FAIL(keyWritten.error().c_str());
    if (!chainWritten) FAIL(chainWritten.error().c_str());
}

CertificateSpec spec(const char* commonName, bool isCa) {
    CertificateSpec spec;
    spec.commonName = commonName;
    spec.organization = "Postern Tests";
    spec.validityDays = 3650;  // far from `postern check`'s 30-day expiry warning
    spec.isCa = isCa;
    return spec;
}

void makePki() {
    std::strcpy(pkiDirectory, "/tmp/postern-pki-XXXXXX");
    if (!::mkdtemp(pkiDirectory)) FAIL("cannot create the test PKI folder");
    std::atexit(removePki);

    EvpPkeyPtr rootKey = newKey();
    X509Ptr root =
        checked(makeSelfSignedCertificate(spec("Postern Test Root CA", true), rootKey.get()));
    EvpPkeyPtr interKey = newKey();
    X509Ptr inter = checked(makeIssuedCertificate(spec("Postern Test Intermediate CA", true),
                                                  interKey.get(), root.get(), rootKey.get()));
    CertificateSpec serverSpec = spec("mx.test.example", false);
    serverSpec.dnsNames = {"mx.test.example", "mail.test.example"};
    EvpPkeyPtr serverKey = newKey();
    X509Ptr server =
        checked(makeIssuedCertificate(serverSpec, serverKey.get(), inter.get(), interKey.get()));
    EvpPkeyPtr clientKey = newKey();
    X509Ptr client = checked(makeIssuedCertificate(spec("client.test.example", false),
                                                   clientKey.get(), inter.get(), interKey.get()));
    EvpPkeyPtr selfKey = newKey();
    X509Ptr self =
        checked(makeSelfSignedCertificate(spec("self.test.example", false), selfKey.get()));

    save("root", rootKey.get(), {root.get()});
    save("inter", interKey.get(), {inter.get()});
    save("server", serverKey.get(), {server.get(), inter.get()});
    save("client", clientKey.get(), {client.get(), inter.get()});
    save("self", selfKey.get(), {self.get()});
}

// One handshake step for one side; records success or a hard failure.
void step(SSL* ssl, bool& ok, bool& failed, std::string& error) {
    if (ok || failed) return;
    ERR_clear_error();
    int result = SSL_do_handshake(ssl);
    if (result == 1) {
        ok = true;
        return;
    }
    int reason = SSL_get_error(ssl, result);
    if (reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE) return;
    failed = true;
    error = tls::errorText();
}

// Counts the entries of a Certificate handshake message (TLS 1.2 or 1.3 layout).
int countCertificates(const unsigned char* message, size_t length, bool tls13) {
    size_t at = 4;  // type and 24-bit length
    if (tls13) {
        if (at >= length) return -1;
        at += 1 + message[at];  // certificate_request_context
    }
    if (at + 3 > length) return -1;
    size_t end = at + 3 + ((size_t{message[at]} << 16) | (message[at + 1] << 8) | message[at + 2]);
    at += 3;
    int count = 0;
    while (at + 3 <= end && end <= length) {
        at += 3 + ((size_t{message[at]} << 16) | (message[at + 1] << 8) | message[at + 2]);
        if (tls13 && at + 2 <= end) at += 2 + ((message[at] << 8) | message[at + 1]);
        ++count;
    }
    return count;
}

void onHandshakeMessage(int sent, int, int contentType, const void* buffer, size_t length, SSL* ssl,
                        void* argument) {
    if (contentType != SSL3_RT_HANDSHAKE || length < 4) return;
    auto* trace = static_cast<HandshakeTrace*>(argument);
    auto* message = static_cast<const unsigned char*>(buffer);
    if (!sent && message[0] == SSL3_MT_CERTIFICATE_REQUEST)
        trace->receivedCertificateRequest = true;
    if (sent && message[0] == SSL3_MT_CERTIFICATE) {
        trace->certificatesSent =
            countCertificates(message, length, SSL_version(ssl) == TLS1_3_VERSION);
    }
}

}  // namespace

std::string pkiFile(const char* name) {
    if (!pkiDirectory[0]) makePki();
    return std::string(pkiDirectory) + "/" + name;
}

HandshakeOutcome runHandshake(SSL* client, SSL* server) {
    BIO* clientEnd = nullptr;
    BIO* serverEnd = nullptr;
    if (BIO_new_bio_pair(&clientEnd, 0, &serverEnd, 0) != 1) FAIL("no BIO pair");
    SSL_set_bio(client, clientEnd, clientEnd);  // each SSL now owns its end
    SSL_set_bio(server, serverEnd, serverEnd);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    HandshakeOutcome outcome;
    bool clientFailed = false;
    bool serverFailed = false;
    for (int round = 0; round < 50; ++round) {
        step(client, outcome.clientOk, clientFailed, outcome.clientError);
        step(server, outcome.serverOk, serverFailed, outcome.serverError);
        bool clientDone = outcome.clientOk || clientFailed;
        bool serverDone = outcome.serverOk || serverFailed;
        if (clientDone && serverDone) break;
    }
    return outcome;
}

void traceClientHandshake(SSL* client, HandshakeTrace* trace) {
    SSL_set_msg_callback(client, onHandshakeMessage);
    SSL_set_msg_callback_arg(client, trace);
}

}  // namespace postern::testing
