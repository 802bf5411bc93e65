// tls_test_support.h: what the TLS unit tests share: a test PKI made once per process with
// lib/tls_cert (root CA, intermediate CA, server and client leaves issued by the
// intermediate, a self-signed certificate), a TLS handshake between two SSL objects over a
// memory BIO pair, and a trace of the handshake messages a client sends and receives. TempDir
// is test_support.h's.
#pragma once

#include <string>

#include "event.h"
#include "test_support.h"

namespace postern::testing {

// The path of a test PKI file, the PKI being made on first use (and removed at exit):
//   root.pem root.key          "Postern Test Root CA" (self-signed CA)
//   inter.pem inter.key        "Postern Test Intermediate CA", issued by the root
//   server.pem server.key      mx.test.example (+ mail.test.example), then inter.pem
//   client.pem client.key      client.test.example, then inter.pem
//   self.pem self.key          self.test.example, self-signed
std::string pkiFile(const char* name);

struct HandshakeOutcome {
    bool clientOk = false;
    bool serverOk = false;
    std::string clientError;
    std::string serverError;
};

// Connects `client` and `server` through a memory BIO pair and runs both handshakes until
// each side has finished or failed.
HandshakeOutcome runHandshake(SSL* client, SSL* server);

// What a client's handshake showed, recorded by OpenSSL's message callback.
struct HandshakeTrace {
    bool receivedCertificateRequest = false;
    int certificatesSent = -1;  // entries in the client's Certificate message; -1: none sent
};

// Records `client`'s handshake messages into `trace` (which must outlive the handshake).
void traceClientHandshake(SSL* client, HandshakeTrace* trace);

}  // namespace postern::testing
