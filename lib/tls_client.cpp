// tls_client.cpp: the smtp side of TLS (see tls.h): the trust store loaded once, and a fresh
// context per connection built from that route's policy alone.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "tls.h"

namespace postern::tls {

namespace {

bool isIpLiteral(const std::string& text) {
    unsigned char address[sizeof(in6_addr)];
    return inet_pton(AF_INET, text.c_str(), address) == 1 ||
           inet_pton(AF_INET6, text.c_str(), address) == 1;
}

bool requiresVerification(TlsLevel level) {
    return level == TlsLevel::Verify || level == TlsLevel::Secure;
}

// A `match` entry as a name for X509_check_host; "" when the keyword has nothing to stand for.
std::string expandMatchKeyword(const std::string& entry, const TlsPeer& peer) {
    if (entry == "hostname") return peer.host;
    if (entry == "nexthop") return peer.nexthop;
    if (entry == "dot-nexthop") return peer.nexthop.empty() ? "" : "." + peer.nexthop;
    return entry;
}

// OpenSSL's default CA file and hash directory (SSL_CERT_FILE and SSL_CERT_DIR override
// them), as X509_STORE_set_default_paths() adds them, but without the third lookup it adds
// in OpenSSL 3, the OSSL_STORE one: that one lists the whole certificate directory (290
// entries on Debian) every time an issuer is not found in memory, three times per
// handshake with a server whose certificate no system CA issued. make bench showed it as
// the smtp worker's largest cost with STARTTLS. The bundle file holds the same CAs.
Status useDefaultLocations(X509_STORE* store) {
    X509_LOOKUP* file = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    X509_LOOKUP* directory = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
    if (file == nullptr || directory == nullptr ||
        X509_LOOKUP_add_dir(directory, nullptr, X509_FILETYPE_DEFAULT) != 1) {
        return sslFailure("cannot set up the system's default CA locations");
    }
    // Like X509_STORE_set_default_paths: a missing default bundle is no error (the
    // directory may still hold the CAs).
    X509_LOOKUP_load_file(file, nullptr, X509_FILETYPE_DEFAULT);
    ERR_clear_error();
    return {};
}

}  // namespace

Result<ClientTrustStore> ClientTrustStore::load(const ClientTrustSettings& settings) {
    initialize();
    ERR_clear_error();
    X509StorePtr store(X509_STORE_new());
    if (!store) return sslFailure("cannot create a certificate store");
    if (settings.caFile.empty() && settings.caPath.empty()) {
        if (auto loaded = useDefaultLocations(store.get()); !loaded) return loaded.failure();
    }
    if (!settings.caFile.empty() &&
        X509_STORE_load_file(store.get(), settings.caFile.c_str()) != 1) {
        return sslFailure("cannot load the CA file " + settings.caFile);
    }
    if (!settings.caPath.empty() &&
        X509_STORE_load_path(store.get(), settings.caPath.c_str()) != 1) {
        return sslFailure("cannot use the CA directory " + settings.caPath);
    }
    return ClientTrustStore(std::move(store));
}

Result<SslCtxPtr> makeClientContext(const ClientTlsPolicy& policy, const ClientTrustStore& trust) {
    if (policy.level == TlsLevel::None) return fail("TLS security level none uses no TLS");
    auto made = makeBaseContext(TLS_client_method());
    if (!made) return made.failure();
    SslCtxPtr context = std::move(made.value());
    // Nothing of this connection may serve another: no session cache, no tickets.
    SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(context.get(), SSL_OP_NO_TICKET);
    // A reference to the process's store, not a copy: this is what keeps a context cheap.
    SSL_CTX_set1_cert_store(context.get(), trust.get());
    // May and encrypt still verify the chain, for the log line, but never fail on it.
    SSL_CTX_set_verify(context.get(),
                       requiresVerification(policy.level) ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       nullptr);
    // Only a certificate the route names; without one OpenSSL answers a CertificateRequest
    // with an empty Certificate message.
    if (!policy.certFile.empty()) {
        Status loaded = useCertificateAndKey(context.get(), policy.certFile, policy.keyFile);
        if (!loaded) return loaded.failure();
    } else if (!policy.keyFile.empty()) {
        return fail("a client key (" + policy.keyFile + ") without a client certificate");
    }
    return context;
}

std::vector<std::string> namesToMatch(const ClientTlsPolicy& policy, const TlsPeer& peer) {
    std::vector<std::string> names;
    if (!requiresVerification(policy.level)) return names;
    std::vector<std::string> wanted = policy.match;
    if (policy.level == TlsLevel::Verify) {
        wanted.insert(wanted.begin(), "hostname");
    } else if (wanted.empty()) {
        wanted = {"nexthop", "dot-nexthop"};
    }
    for (const auto& entry : wanted) {
        std::string name = expandMatchKeyword(entry, peer);
        // Certificates name hosts: an IP literal (a "[ip]:port" next hop) cannot match.
        if (name.empty() || name == "." || isIpLiteral(name)) continue;
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    return names;
}

Result<SslPtr> makeClientSsl(SSL_CTX* context, const ClientTlsPolicy& policy, const TlsPeer& peer) {
    ERR_clear_error();
    SslPtr ssl(SSL_new(context));
    if (!ssl) return sslFailure("cannot create a TLS connection");
    SSL_set_connect_state(ssl.get());
    if (!peer.host.empty() && !isIpLiteral(peer.host) &&
        SSL_set_tlsext_host_name(ssl.get(), peer.host.c_str()) != 1) {
        return sslFailure("cannot set the server name " + peer.host);
    }
    if (!requiresVerification(policy.level)) return ssl;
    std::vector<std::string> names = namesToMatch(policy, peer);
    if (names.empty()) {
        return fail(std::string("TLS level ") + levelName(policy.level) + " for " + peer.host +
                    " has no host name to match the certificate against");
    }
    SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    for (const auto& name : names) {
        if (SSL_add1_host(ssl.get(), name.c_str()) != 1) {
            return sslFailure("cannot match certificates against \"" + name + "\"");
        }
    }
    return ssl;
}

}  // namespace postern::tls
