// tls_cert.h: certificate utilities for `postern cert` and `postern check`: RSA keys and
// X.509 v3 certificates (self-signed, or issued by a CA for tests), PEM files in and out, a
// description of a certificate, and checks of a chain file (order, completeness), of a key
// against a certificate, and of the days left before expiry.
#pragma once

#include <string>
#include <vector>

#include "event.h"
#include "result.h"

namespace postern::tls {

struct CertificateSpec {
    std::string commonName;
    std::string organization;
    std::string organizationalUnit;
    std::string locality;
    std::string state;
    std::string country;  // two letters
    std::string email;
    std::vector<std::string> dnsNames;     // subjectAltName DNS entries; none: the CN
    std::vector<std::string> ipAddresses;  // subjectAltName IP entries
    int validityDays = 365;
    bool isCa = false;  // a CA (basicConstraints CA:TRUE, keyCertSign) rather than a server
};

// A new RSA key of 2048, 3072 or 4096 bits.
Result<EvpPkeyPtr> generateRsaKey(int bits);

// A certificate for `key`, signed by itself.
Result<X509Ptr> makeSelfSignedCertificate(const CertificateSpec& spec, EVP_PKEY* key);

// A certificate for `key`, issued by the CA `issuer` and signed with `issuerKey`.
Result<X509Ptr> makeIssuedCertificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                                      EVP_PKEY* issuerKey);

// Writes `key` as PEM to `path` (mode 0600), replacing the file atomically.
Status writePrivateKey(const std::string& path, EVP_PKEY* key);

// Writes `certificates` as PEM to `path` (mode 0644) in the order given, atomically.
Status writeCertificates(const std::string& path, const std::vector<X509*>& certificates);

// Reads the first private key of a PEM file.
Result<EvpPkeyPtr> readPrivateKey(const std::string& path);

// Reads every certificate of a PEM file, in file order; fails when there is none.
Result<std::vector<X509Ptr>> readCertificates(const std::string& path);

struct CertificateInfo {
    std::string subject;  // "C=DE, O=Example, CN=mx.example.com"
    std::string issuer;
    std::string serial;     // hex
    std::string notBefore;  // "2025-01-31 12:00:00 UTC"
    std::string notAfter;
    std::vector<std::string> dnsNames;
    std::vector<std::string> ipAddresses;
    std::string fingerprintSha256;  // "AB:CD:..."
    std::string keyType;            // "RSA", "EC", ...
    int keyBits = 0;
    bool selfSigned = false;
    bool isCa = false;
};

// What `postern cert show` prints about one certificate.
CertificateInfo describeCertificate(X509* certificate);

// The SHA-256 fingerprint, upper-case hex bytes joined by colons.
std::string fingerprintSha256(const X509* certificate);

struct ChainReport {
    bool ordered = false;   // each certificate is issued (and signed) by the next one
    bool complete = false;  // ordered, and ends in a self-signed root or a trusted CA's child
    std::vector<std::string> problems;  // one line each, for a person
};

// Checks a chain as read from a file (leaf first). `trust` may be null (then only a
// self-signed last certificate completes the chain).
ChainReport checkChain(const std::vector<X509Ptr>& chain, X509_STORE* trust);

// Whether `key` is the private half of `certificate`'s public key.
bool keyMatchesCertificate(EVP_PKEY* key, X509* certificate);

// Whole days from now until the certificate expires; negative once it has.
int daysUntilExpiry(const X509* certificate);

}  // namespace postern::tls
