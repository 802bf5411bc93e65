// tls.cpp: what both TLS ends share (see tls.h): library set-up, OpenSSL's error queue as
// text, security level names, and the description of an established connection.
#include "tls.h"

#include <openssl/err.h>

#include <mutex>

#include "tls_cert.h"

namespace postern::tls {

void initialize() {
    static std::once_flag once;
    std::call_once(once, [] {
        OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr);
    });
}

std::string errorText() {
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char line[256];
        ERR_error_string_n(code, line, sizeof line);
        if (!text.empty()) text += "; ";
        text += line;
    }
    return text;
}

Error sslFailure(const std::string& what) {
    std::string reasons = errorText();
    return fail(reasons.empty() ? what : what + ": " + reasons);
}

Status useCertificateAndKey(SSL_CTX* context, const std::string& certFile,
                            const std::string& keyFile) {
    const std::string& keyPath = keyFile.empty() ? certFile : keyFile;
    // Encrypted keys are not supported: without this OpenSSL would prompt on the terminal.
    SSL_CTX_set_default_passwd_cb(context, [](char*, int, int, void*) { return 0; });
    if (SSL_CTX_use_certificate_chain_file(context, certFile.c_str()) != 1) {
        return sslFailure("cannot load the certificate chain from " + certFile);
    }
    std::string mismatch =
        "the private key in " + keyPath + " does not match the certificate in " + certFile;
    if (SSL_CTX_use_PrivateKey_file(context, keyPath.c_str(), SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            return sslFailure(mismatch);
        }
        return sslFailure("cannot load the private key from " + keyPath);
    }
    if (SSL_CTX_check_private_key(context) != 1) return sslFailure(mismatch);
    return {};
}

Result<SslCtxPtr> makeBaseContext(const SSL_METHOD* method) {
    initialize();
    ERR_clear_error();
    SslCtxPtr context(SSL_CTX_new(method));
    if (!context) return sslFailure("cannot create a TLS context");
    // TLS 1.3 suites are OpenSSL's defaults; this list only narrows TLS 1.2.
    static const char kTls12Ciphers[] = "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!DSS";
    if (SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(context.get(), kTls12Ciphers) != 1) {
        return sslFailure("cannot set the TLS protocol versions and ciphers");
    }
    SSL_CTX_set_options(context.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    return context;
}

const char* levelName(TlsLevel level) {
    switch (level) {
        case TlsLevel::None:
            return "none";
        case TlsLevel::May:
            return "may";
        case TlsLevel::Encrypt:
            return "encrypt";
        case TlsLevel::Verify:
            return "verify";
        case TlsLevel::Secure:
            return "secure";
    }
    return "unknown";
}

Result<TlsLevel> parseLevel(std::string_view name) {
    for (TlsLevel level :
         {TlsLevel::None, TlsLevel::May, TlsLevel::Encrypt, TlsLevel::Verify, TlsLevel::Secure}) {
        if (name == levelName(level)) return level;
    }
    return fail("unknown TLS security level \"" + std::string(name) +
                "\" (none, may, encrypt, verify or secure)");
}

const char* trustName(PeerTrust trust) {
    switch (trust) {
        case PeerTrust::Anonymous:
            return "Anonymous";
        case PeerTrust::Untrusted:
            return "Untrusted";
        case PeerTrust::Trusted:
            return "Trusted";
        case PeerTrust::Verified:
            return "Verified";
    }
    return "Unknown";
}

PeerTrust peerTrust(SSL* ssl) {
    if (!SSL_get0_peer_certificate(ssl)) return PeerTrust::Anonymous;
    if (SSL_get_verify_result(ssl) != X509_V_OK) return PeerTrust::Untrusted;
    // Set by OpenSSL only when a name given to SSL_set1_host/SSL_add1_host matched.
    if (X509_VERIFY_PARAM_get0_peername(SSL_get0_param(ssl))) return PeerTrust::Verified;
    return PeerTrust::Trusted;
}

std::string protocolAndCipher(const SSL* ssl) {
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    int algorithmBits = 0;
    int secretBits = cipher ? SSL_CIPHER_get_bits(cipher, &algorithmBits) : 0;
    return std::string(SSL_get_version(ssl)) + " with cipher " +
           (cipher ? SSL_CIPHER_get_name(cipher) : "none") + " (" + std::to_string(secretBits) +
           "/" + std::to_string(algorithmBits) + " bits)";
}

std::string clientConnectionLine(SSL* ssl, std::string_view host, std::string_view ip,
                                 uint16_t port) {
    return std::string(trustName(peerTrust(ssl))) + " TLS connection established to " +
           std::string(host) + "[" + std::string(ip) + "]:" + std::to_string(port) + ": " +
           protocolAndCipher(ssl);
}

std::string serverConnectionLine(SSL* ssl, std::string_view host, std::string_view ip) {
    return std::string(trustName(peerTrust(ssl))) + " TLS connection established from " +
           std::string(host) + "[" + std::string(ip) + "]: " + protocolAndCipher(ssl);
}

std::string peerFingerprint(const SSL* ssl) {
    const X509* peer = SSL_get0_peer_certificate(ssl);
    return peer ? fingerprintSha256(peer) : std::string();
}

std::string verifyResultText(const SSL* ssl) {
    return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

}  // namespace postern::tls
