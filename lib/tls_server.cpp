// tls_server.cpp: the smtpd side of TLS (see tls.h): one server context per process, made
// from smtpd.tls.*, with an optional CertificateRequest that never fails a handshake.
#include <openssl/err.h>

#include "tls.h"

namespace postern::tls {

namespace {

// Accepts any client certificate, or none: the outcome is kept in SSL_get_verify_result for
// the log line ("Untrusted"/"Trusted"), never a reason to end the handshake (Postfix's
// smtpd_tls_ask_ccert behaves the same way).
int acceptAnyClientCertificate(int, X509_STORE_CTX*) {
    return 1;
}

Status loadClientCas(SSL_CTX* context, const std::string& caFile) {
    if (SSL_CTX_load_verify_locations(context, caFile.c_str(), nullptr) != 1) {
        return sslFailure("cannot load the CA file " + caFile);
    }
    // Their names go into the CertificateRequest, to help a client pick a certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(caFile.c_str());
    if (!names) return sslFailure("cannot read CA names from " + caFile);
    SSL_CTX_set_client_CA_list(context, names);
    return {};
}

}  // namespace

Result<SslCtxPtr> makeServerContext(const ServerTlsSettings& settings) {
    auto made = makeBaseContext(TLS_server_method());
    if (!made) return made.failure();
    SslCtxPtr context = std::move(made.value());
    SSL_CTX_set_options(context.get(), SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_dh_auto(context.get(), 1);

    if (settings.certFile.empty()) return fail("no server certificate file given");
    Status loaded = useCertificateAndKey(context.get(), settings.certFile, settings.keyFile);
    if (!loaded) return loaded.failure();

    // Sessions are cached per process; clients resume with an id or a ticket.
    static const unsigned char kSessionContext[] = "postern-smtpd";
    SSL_CTX_set_session_cache_mode(context.get(), SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(context.get(), kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_timeout(context.get(), 3600);

    if (!settings.caFile.empty()) {
        if (Status cas = loadClientCas(context.get(), settings.caFile); !cas) {
            return cas.failure();
        }
    }
    if (settings.askClientCert) {
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, acceptAnyClientCertificate);
    } else {
        SSL_CTX_set_verify(context.get(), SSL_VERIFY_NONE, nullptr);
    }
    return context;
}

}  // namespace postern::tls
