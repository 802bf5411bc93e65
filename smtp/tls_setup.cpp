// tls_setup.cpp: trust stores loaded once, a fresh TLS context per connection (see tls_setup.h).
#include "tls_setup.h"

#include <unistd.h>

#include <cstdlib>

#include "log.h"

namespace postern::smtp {

namespace {

// The system's CA bundle as a file to load once (SSL_CERT_FILE, else OpenSSL's default,
// /usr/lib/ssl/cert.pem on Debian); "" when there is none. OpenSSL's default paths would
// also add its certificate directory as a lookup that is searched on every handshake whose
// issuer is unknown (a self-signed server: a directory scan per connection).
std::string systemBundle() {
    const char* fromEnv = getenv(X509_get_default_cert_file_env());
    std::string path = fromEnv && *fromEnv ? fromEnv : X509_get_default_cert_file();
    return access(path.c_str(), R_OK) == 0 ? path : "";
}

}  // namespace

Result<std::unique_ptr<TrustStores>> TrustStores::load(const SmtpTlsPolicy& defaults) {
    tls::ClientTrustSettings settings{defaults.ca_file, defaults.ca_path};
    if (settings.caFile.empty() && settings.caPath.empty()) settings.caFile = systemBundle();
    auto store = tls::ClientTrustStore::load(settings);
    if (!store) return store.failure();
    return std::unique_ptr<TrustStores>(
        new TrustStores({defaults.ca_file, defaults.ca_path}, std::move(store.value())));
}

Result<const tls::ClientTrustStore*> TrustStores::forRoute(const std::string& caFile,
                                                           const std::string& caPath) {
    Key key{caFile, caPath};
    if ((caFile.empty() && caPath.empty()) || key == defaultKey_) return &default_;
    if (auto found = byRoute_.find(key); found != byRoute_.end()) return &found->second;
    auto store = tls::ClientTrustStore::load({caFile, caPath});
    if (!store) return store.failure();
    log::info("loaded the trusted CAs of %s", (caFile.empty() ? caPath : caFile).c_str());
    return &byRoute_.emplace(std::move(key), std::move(store.value())).first->second;
}

Result<SslPtr> connectionSsl(const tls::ClientTlsPolicy& policy, const tls::ClientTrustStore& trust,
                             const tls::TlsPeer& peer) {
    auto context = tls::makeClientContext(policy, trust);
    if (!context) return context.failure();
    auto ssl = tls::makeClientSsl(context->get(), policy, peer);
    if (!ssl) return ssl.failure();
    // Give buffers back between records: hundreds of idle-ish connections per process.
    SSL_set_mode(ssl->get(), SSL_MODE_RELEASE_BUFFERS);
    return ssl;  // holds a reference to the context, which goes with it
}

std::string handshakeFailureText(SSL* ssl, tls::TlsLevel level) {
    const bool verifying = level == tls::TlsLevel::Verify || level == tls::TlsLevel::Secure;
    const long result = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verifying && result == X509_V_ERR_HOSTNAME_MISMATCH) return "Server certificate not verified";
    if (verifying && result != X509_V_OK) return "Server certificate not trusted";
    return "Cannot start TLS: handshake failure";
}

}  // namespace postern::smtp
