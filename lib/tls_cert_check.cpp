// tls_cert_check.cpp: looking at existing certificates (see tls_cert.h): a description for
// `postern cert show`, fingerprints, chain order and completeness, key match, expiry.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "tls.h"
#include "tls_cert.h"

namespace postern::tls {

namespace {

using GeneralNamesPtr = CHandle<GENERAL_NAMES, GENERAL_NAMES_free>;
using BignumPtr = CHandle<BIGNUM, BN_free>;
using StoreContextPtr = CHandle<X509_STORE_CTX, X509_STORE_CTX_free>;

// "C=DE, O=Example, CN=mx.example.com"; control and non-ASCII bytes are escaped, since a
// certificate may come from anyone.
std::string nameText(const X509_NAME* name) {
    BioPtr text(BIO_new(BIO_s_mem()));
    if (!text) return "";
    X509_NAME_print_ex(text.get(), name, 0, XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ);
    char* data = nullptr;
    long length = BIO_get_mem_data(text.get(), &data);
    return std::string(data, static_cast<size_t>(length));
}

// "2025-01-31 12:00:00 UTC"
std::string timeText(const ASN1_TIME* time) {
    std::tm parts{};
    if (!time || ASN1_TIME_to_tm(time, &parts) != 1) return "invalid time";
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
    return text;
}

std::string serialText(const X509* certificate) {
    BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr));
    if (!serial) return "";
    char* hex = BN_bn2hex(serial.get());
    std::string text = hex ? hex : "";
    OPENSSL_free(hex);
    return text;
}

// A DNS name as printable ASCII: anything else becomes '?'.
std::string printable(const ASN1_STRING* value) {
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
    for (char& c : text) {
        if (c < 0x21 || c > 0x7e) c = '?';
    }
    return text;
}

std::string ipText(const ASN1_OCTET_STRING* value) {
    char text[INET6_ADDRSTRLEN] = "";
    int length = ASN1_STRING_length(value);
    const unsigned char* bytes = ASN1_STRING_get0_data(value);
    if (length == 4) inet_ntop(AF_INET, bytes, text, sizeof text);
    if (length == 16) inet_ntop(AF_INET6, bytes, text, sizeof text);
    return text[0] ? text : "invalid IP address";
}

void readSubjectAltNames(const X509* certificate, CertificateInfo& info) {
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) info.dnsNames.push_back(printable(name->d.dNSName));
        if (name->type == GEN_IPADD) info.ipAddresses.push_back(ipText(name->d.iPAddress));
    }
}

// Whether `issuer` issued and signed `subject`.
bool issuedBy(X509* subject, X509* issuer) {
    bool issued = X509_check_issued(issuer, subject) == X509_V_OK &&
                  X509_verify(subject, X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    return issued;
}

// Whether a CA in `trust` issued `certificate`.
bool issuerIsTrusted(X509_STORE* trust, X509* certificate) {
    StoreContextPtr context(X509_STORE_CTX_new());
    if (!context || X509_STORE_CTX_init(context.get(), trust, certificate, nullptr) != 1) {
        return false;
    }
    X509* issuer = nullptr;
    bool found = X509_STORE_CTX_get1_issuer(&issuer, context.get(), certificate) == 1;
    X509Ptr owner(issuer);
    bool trusted = found && issuedBy(certificate, issuer);
    ERR_clear_error();
    return trusted;
}

std::string subjectOf(X509* certificate) {
    return nameText(X509_get_subject_name(certificate));
}

}  // namespace

std::string fingerprintSha256(const X509* certificate) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(certificate, EVP_sha256(), digest, &length) != 1) return "";
    static const char hex[] = "0123456789ABCDEF";
    std::string text;
    for (unsigned int i = 0; i < length; ++i) {
        if (i) text += ':';
        text += hex[digest[i] >> 4];
        text += hex[digest[i] & 0xf];
    }
    return text;
}

CertificateInfo describeCertificate(X509* certificate) {
    CertificateInfo info;
    info.subject = subjectOf(certificate);
    info.issuer = nameText(X509_get_issuer_name(certificate));
    info.serial = serialText(certificate);
    info.notBefore = timeText(X509_get0_notBefore(certificate));
    info.notAfter = timeText(X509_get0_notAfter(certificate));
    readSubjectAltNames(certificate, info);
    info.fingerprintSha256 = fingerprintSha256(certificate);
    if (const EVP_PKEY* key = X509_get0_pubkey(certificate)) {
        const char* type = EVP_PKEY_get0_type_name(key);
        info.keyType = type ? type : "unknown";
        info.keyBits = EVP_PKEY_get_bits(key);
    }
    info.selfSigned = X509_self_signed(certificate, 1) == 1;
    info.isCa = (X509_get_extension_flags(certificate) & EXFLAG_CA) != 0;
    ERR_clear_error();
    return info;
}

ChainReport checkChain(const std::vector<X509Ptr>& chain, X509_STORE* trust) {
    ChainReport report;
    if (chain.empty()) {
        report.problems.push_back("no certificates");
        return report;
    }
    report.ordered = true;
    for (size_t i = 0; i + 1 < chain.size(); ++i) {
        if (issuedBy(chain[i].get(), chain[i + 1].get())) continue;
        report.ordered = false;
        report.problems.push_back("certificate " + std::to_string(i + 1) + " (" +
                                  subjectOf(chain[i].get()) + ") is not issued by certificate " +
                                  std::to_string(i + 2) + " (" + subjectOf(chain[i + 1].get()) +
                                  ")");
    }
    X509* last = chain.back().get();
    bool endsInRoot = X509_self_signed(last, 1) == 1;
    ERR_clear_error();
    bool anchored = endsInRoot || (trust && issuerIsTrusted(trust, last));
    if (!anchored) {
        report.problems.push_back("the chain ends with " + subjectOf(last) + ", whose issuer " +
                                  nameText(X509_get_issuer_name(last)) +
                                  " is neither in the file nor a trusted CA");
    }
    report.complete = report.ordered && anchored;
    return report;
}

bool keyMatchesCertificate(EVP_PKEY* key, X509* certificate) {
    bool matches = X509_check_private_key(certificate, key) == 1;
    ERR_clear_error();
    return matches;
}

int daysUntilExpiry(const X509* certificate) {
    int days = 0;
    int seconds = 0;
    if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(certificate)) != 1) return 0;
    return days;
}

}  // namespace postern::tls
