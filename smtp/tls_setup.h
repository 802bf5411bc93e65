// tls_setup.h: the worker's side of the fresh-context rule (DESIGN.md "TLS"). TrustStores
// holds the CAs the process trusts: smtp.tls.ca_file / ca_path (or the system default)
// loaded once at start, plus one store per distinct route ca_file / ca_path, loaded on first
// use and kept; each is immutable after loading and shared by reference. connectionSsl() builds, for
// ONE connection, a fresh SSL_CTX from that route's policy alone and the SSL on it: nothing
// a connection does (a certificate, a session, a setting) can reach the next one.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "event.h"
#include "result.h"
#include "routes.h"
#include "tls.h"

namespace postern::smtp {

class TrustStores {
  public:
    // Loads the process's store from smtp.tls (ca_file, ca_path; both empty: system default).
    static Result<std::unique_ptr<TrustStores>> load(const SmtpTlsPolicy& defaults);

    // The store for a route's CA file and directory (both empty, or those of smtp.tls: the
    // process's store); loaded on first use, then kept.
    Result<const tls::ClientTrustStore*> forRoute(const std::string& caFile, const std::string& caPath);
    // How many stores are loaded (the process's included).
    size_t size() const { return 1 + byRoute_.size(); }

  private:
    using Key = std::pair<std::string, std::string>;  // CA file, CA directory

    TrustStores(Key defaultKey, tls::ClientTrustStore store)
        : defaultKey_(std::move(defaultKey)), default_(std::move(store)) {}

    Key defaultKey_;
    tls::ClientTrustStore default_;
    std::map<Key, tls::ClientTrustStore> byRoute_;
};

// A fresh context and the SSL for one connection to PEER under POLICY: SNI, the names to
// verify, small buffers between records (SSL_MODE_RELEASE_BUFFERS). The SSL keeps its
// context alive; nothing else holds it.
Result<SslPtr> connectionSsl(const tls::ClientTlsPolicy& policy, const tls::ClientTrustStore& trust,
                             const tls::TlsPeer& peer);

// Why a client handshake failed, for a deferral: "Server certificate not verified" /
// "Server certificate not trusted" when verification failed, else "Cannot start TLS:
// handshake failure".
std::string handshakeFailureText(SSL* ssl, tls::TlsLevel level);

}  // namespace postern::smtp
