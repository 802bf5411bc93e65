// tls_setup.cpp: trust stores loaded once, a fresh TLS context per connection (see tls_setup.h).
#include "tls_setup.h"

#include "log.h"

namespace postern::smtp {

Result<std::unique_ptr<TrustStores>> TrustStores::load(const SmtpTlsPolicy& defaults) {
    auto store = tls::ClientTrustStore::load({defaults.ca_file, defaults.ca_path});
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
