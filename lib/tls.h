// tls.h: OpenSSL 3 for both ends of SMTP. The server context (smtpd) with an optional
// CertificateRequest that never fails the handshake; the client side (smtp), where every
// connection gets a FRESH SSL_CTX built from its route's policy alone, verified against a
// trust store loaded once per process and shared by reference; and the Postfix-style line
// that describes an established connection.
//
// Why a fresh client context: a context carries state (a certificate, sessions, settings)
// from one connection to the next. A client certificate is loaded only when the policy names
// one, so a CertificateRequest is otherwise answered with an empty Certificate message, on
// every connection, for the life of the process. With the shared trust store a fresh context
// costs ~150 us; loading a CA bundle into each would cost ~28 ms.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "event.h"
#include "result.h"

namespace postern::tls {

// Sets OpenSSL up once per process; every function here calls it, callers need not.
void initialize();

// Drains OpenSSL's error queue of this thread into one line ("" when it is empty).
std::string errorText();

// An Error saying `what` failed, followed by OpenSSL's reasons; drains the error queue.
Error sslFailure(const std::string& what);

// Loads a PEM certificate chain (leaf first) and its key (keyFile empty: from certFile) into
// `context` and checks that the key matches the leaf.
Status useCertificateAndKey(SSL_CTX* context, const std::string& certFile,
                            const std::string& keyFile);

// A new context (TLS_server_method or TLS_client_method) with what every postern context
// shares: TLS 1.2 or later, strong TLS 1.2 ciphers, no compression or renegotiation.
Result<SslCtxPtr> makeBaseContext(const SSL_METHOD* method);

// ---- server (smtpd) ----

struct ServerTlsSettings {
    std::string certFile;        // PEM: the leaf, then its chain
    std::string keyFile;         // PEM; empty means the key is in certFile
    bool askClientCert = false;  // send a CertificateRequest; a missing or bad cert is no error
    std::string caFile;          // CAs whose client certificates count as Trusted (optional)
};

// A server context: TLS 1.2+, a session cache, the certificate chain and its key (checked to
// match), and with askClientCert a CertificateRequest whose result is recorded, never fatal.
Result<SslCtxPtr> makeServerContext(const ServerTlsSettings& settings);

// ---- client (smtp) ----

// Postfix's smtp_tls_security_level values.
enum class TlsLevel {
    None,     // no TLS
    May,      // opportunistic: TLS if offered, plaintext otherwise, nothing verified
    Encrypt,  // TLS required, nothing verified
    Verify,   // TLS required, chain to a trusted CA, name = server host or a `match` name
    Secure,   // TLS required, chain to a trusted CA, name from `match` (nexthop, dot-nexthop)
};

// "none", "may", "encrypt", "verify", "secure".
const char* levelName(TlsLevel level);
// The level named by `name` (as in the configuration).
Result<TlsLevel> parseLevel(std::string_view name);

struct ClientTrustSettings {
    std::string caFile;  // a PEM bundle
    std::string caPath;  // a c_rehash'ed directory
    // Both empty: OpenSSL's default locations (on Debian /etc/ssl/certs).
};

// The CAs a client trusts, loaded once per process and never changed afterwards; each
// client context takes a reference to the same X509_STORE.
class ClientTrustStore {
  public:
    // Loads the CA file and/or directory, or the system default locations.
    static Result<ClientTrustStore> load(const ClientTrustSettings& settings);
    // The store, for SSL_CTX_set1_cert_store and for chain checks.
    X509_STORE* get() const { return store_.get(); }

  private:
    explicit ClientTrustStore(X509StorePtr store) : store_(std::move(store)) {}
    X509StorePtr store_;
};

// What a route says about TLS.
struct ClientTlsPolicy {
    TlsLevel level = TlsLevel::May;
    // Names the server certificate must carry. Verify: in addition to the server's host
    // name. Secure: instead of the default {"nexthop", "dot-nexthop"}. Keywords: "hostname"
    // (the server's host), "nexthop" (the next-hop domain), "dot-nexthop" (any subdomain of
    // it); a literal starting with "." matches any subdomain.
    std::vector<std::string> match;
    // A client certificate (PEM, leaf then chain) and key; only when the operator wants one.
    std::string certFile;
    std::string keyFile;  // empty means the key is in certFile
};

// Who one connection goes to.
struct TlsPeer {
    std::string host;     // the server's host name (the MX host, or the route's host); SNI
    std::string nexthop;  // the next-hop domain (the recipient domain, or the route's host)
};

// A fresh client context for ONE connection: TLS 1.2+, no session cache, the shared trust
// store, the policy's verification mode, and a client certificate only if the policy names
// one. Fails for TlsLevel::None (no TLS at all) and on unreadable certificate files.
Result<SslCtxPtr> makeClientContext(const ClientTlsPolicy& policy, const ClientTrustStore& trust);

// The SSL for that connection: SNI = peer.host (unless an IP literal) and, for verify and
// secure, the names the server certificate must match.
Result<SslPtr> makeClientSsl(SSL_CTX* context, const ClientTlsPolicy& policy, const TlsPeer& peer);

// The names a policy requires of `peer`'s certificate (empty for none/may/encrypt).
std::vector<std::string> namesToMatch(const ClientTlsPolicy& policy, const TlsPeer& peer);

// ---- after the handshake ----

enum class PeerTrust {
    Anonymous,  // no peer certificate
    Untrusted,  // a certificate that did not verify
    Trusted,    // the chain verified
    Verified,   // the chain verified and a required name matched
};

// "Anonymous", "Untrusted", "Trusted", "Verified".
const char* trustName(PeerTrust trust);
// How far the peer of an established connection was authenticated.
PeerTrust peerTrust(SSL* ssl);

// "Verified TLS connection established to mx.example.com[192.0.2.1]:25: TLSv1.3 with cipher
// TLS_AES_256_GCM_SHA384 (256/256 bits)"
std::string clientConnectionLine(SSL* ssl, std::string_view host, std::string_view ip,
                                 uint16_t port);
// "Anonymous TLS connection established from client.example[192.0.2.9]: TLSv1.3 with ..."
std::string serverConnectionLine(SSL* ssl, std::string_view host, std::string_view ip);
// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)": the end of both lines, and
// what smtpd writes into Received: headers and queue files.
std::string protocolAndCipher(const SSL* ssl);

// The SHA-256 fingerprint of the peer's certificate ("AB:CD:..."), "" when it sent none.
std::string peerFingerprint(const SSL* ssl);

// Why certificate verification failed ("hostname mismatch", ...), for a deferral reason.
std::string verifyResultText(const SSL* ssl);

}  // namespace postern::tls
