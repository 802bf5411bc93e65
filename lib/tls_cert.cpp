// tls_cert.cpp: making keys and certificates, and PEM files in and out (see tls_cert.h). The
// checks and descriptions of existing certificates are in tls_cert_check.cpp.
#include "tls_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include "tls.h"
#include "unique_fd.h"

namespace postern::tls {

namespace {

using BignumPtr = CHandle<BIGNUM, BN_free>;
using ExtensionPtr = CHandle<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamesPtr = CHandle<GENERAL_NAMES, GENERAL_NAMES_free>;

// Encrypted keys are not supported: without this OpenSSL would prompt on the terminal.
int refusePassphrase(char*, int, int, void*) {
    return 0;
}

bool isDnsName(const std::string& name) {
    if (name.empty() || name.size() > 253 || name.front() == '.') return false;
    for (char c : name) {
        bool allowed =
            std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*';
        if (!allowed) return false;
    }
    return true;
}

Status addNameEntry(X509_NAME* name, const char* field, const std::string& value) {
    if (value.empty()) return {};
    auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes,
                                   static_cast<int>(value.size()), -1, 0) != 1) {
        return sslFailure(std::string("invalid ") + field + " \"" + value + "\"");
    }
    return {};
}

Status setSubject(X509* certificate, const CertificateSpec& spec) {
    X509_NAME* name = X509_get_subject_name(certificate);
    const std::pair<const char*, const std::string*> fields[] = {{"C", &spec.country},
                                                                 {"ST", &spec.state},
                                                                 {"L", &spec.locality},
                                                                 {"O", &spec.organization},
                                                                 {"OU", &spec.organizationalUnit},
                                                                 {"CN", &spec.commonName},
                                                                 {"emailAddress", &spec.email}};
    for (const auto& [field, value] : fields) {
        if (Status added = addNameEntry(name, field, *value); !added) return added;
    }
    if (X509_NAME_entry_count(name) == 0) return fail("a certificate needs a subject name");
    return {};
}

Status pushGeneralName(GENERAL_NAMES* names, int type, ASN1_STRING* value) {
    GENERAL_NAME* entry = GENERAL_NAME_new();
    if (!entry) {
        ASN1_STRING_free(value);
        return sslFailure("out of memory");
    }
    GENERAL_NAME_set0_value(entry, type, value);
    if (sk_GENERAL_NAME_push(names, entry) <= 0) {
        GENERAL_NAME_free(entry);
        return sslFailure("out of memory");
    }
    return {};
}

// subjectAltName from the DNS names and IP addresses; the CN when neither is given.
Status addSubjectAltNames(X509* certificate, const CertificateSpec& spec) {
    std::vector<std::string> dnsNames = spec.dnsNames;
    if (dnsNames.empty() && spec.ipAddresses.empty() && !spec.isCa && isDnsName(spec.commonName)) {
        dnsNames.push_back(spec.commonName);
    }
    if (dnsNames.empty() && spec.ipAddresses.empty()) return {};
    GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    for (const auto& dns : dnsNames) {
        if (!isDnsName(dns)) return fail("invalid DNS name \"" + dns + "\"");
        ASN1_IA5STRING* value = ASN1_IA5STRING_new();
        if (!value || ASN1_STRING_set(value, dns.data(), static_cast<int>(dns.size())) != 1) {
            ASN1_IA5STRING_free(value);
            return sslFailure("out of memory");
        }
        if (Status pushed = pushGeneralName(names.get(), GEN_DNS, value); !pushed) return pushed;
    }
    for (const auto& ip : spec.ipAddresses) {
        ASN1_OCTET_STRING* value = a2i_IPADDRESS(ip.c_str());
        if (!value) {
            ERR_clear_error();
            return fail("invalid IP address \"" + ip + "\"");
        }
        if (Status pushed = pushGeneralName(names.get(), GEN_IPADD, value); !pushed) {
            return pushed;
        }
    }
    if (X509_add1_ext_i2d(certificate, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) !=
        1) {
        return sslFailure("cannot add subjectAltName");
    }
    return {};
}

Status addExtension(X509* certificate, X509V3_CTX* context, int nid, const char* value) {
    ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, context, nid, value));
    if (!extension || X509_add_ext(certificate, extension.get(), -1) != 1) {
        return sslFailure(std::string("cannot add ") + OBJ_nid2sn(nid));
    }
    return {};
}

Status addExtensions(X509* certificate, X509* issuer, const CertificateSpec& spec) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, issuer ? issuer : certificate, certificate, nullptr, nullptr, 0);
    struct Wanted {
        int nid;
        const char* value;
    };
    // The subject key id comes first: a self-signed certificate's authority key id is it.
    std::vector<Wanted> wanted = {{NID_subject_key_identifier, "hash"},
                                  {NID_authority_key_identifier, "keyid"}};
    if (spec.isCa) {
        wanted.push_back({NID_basic_constraints, "critical,CA:TRUE"});
        wanted.push_back({NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"});
    } else {
        wanted.push_back({NID_basic_constraints, "critical,CA:FALSE"});
        wanted.push_back({NID_key_usage, "critical,digitalSignature,keyEncipherment"});
        wanted.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
    }
    for (const auto& extension : wanted) {
        Status added = addExtension(certificate, &context, extension.nid, extension.value);
        if (!added) return added;
    }
    return addSubjectAltNames(certificate, spec);
}

Status setRandomSerial(X509* certificate) {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) return sslFailure("no random bytes for a serial");
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, 16 bytes
    BignumPtr serial(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate))) {
        return sslFailure("cannot set the serial number");
    }
    return {};
}

// The certificate for `key` signed by `signingKey`; issuer null means self-signed.
Result<X509Ptr> buildCertificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                                 EVP_PKEY* signingKey) {
    initialize();
    ERR_clear_error();
    if (spec.validityDays < 1 || spec.validityDays > 36500) {
        return fail("validity must be 1 to 36500 days, not " + std::to_string(spec.validityDays));
    }
    X509Ptr certificate(X509_new());
    if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
        return sslFailure("cannot create a certificate");
    }
    if (Status serial = setRandomSerial(certificate.get()); !serial) return serial.failure();
    if (!X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0) ||
        !X509_time_adj_ex(X509_getm_notAfter(certificate.get()), spec.validityDays, 0, nullptr) ||
        X509_set_pubkey(certificate.get(), key) != 1) {
        return sslFailure("cannot set the validity or the public key");
    }
    if (Status subject = setSubject(certificate.get(), spec); !subject) return subject.failure();
    X509_NAME* issuerName = X509_get_subject_name(issuer ? issuer : certificate.get());
    if (X509_set_issuer_name(certificate.get(), issuerName) != 1) {
        return sslFailure("cannot set the issuer");
    }
    Status extensions = addExtensions(certificate.get(), issuer, spec);
    if (!extensions) return extensions.failure();
    if (X509_sign(certificate.get(), signingKey, EVP_sha256()) <= 0) {
        return sslFailure("cannot sign the certificate");
    }
    return certificate;
}

// Writes `content` to `path` through a temporary file and a rename, with exactly `mode`.
Status writeFileAtomically(const std::string& path, const std::string& content, mode_t mode) {
    std::string temporary = path + ".tmp" + std::to_string(::getpid());
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return fail("cannot create " + temporary + ": " + std::strerror(errno));
    bool written = ::fchmod(fd.get(), mode) == 0;
    for (size_t done = 0; written && done < content.size();) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        written = n > 0;
        if (written) done += static_cast<size_t>(n);
    }
    written = written && ::fsync(fd.get()) == 0 && ::close(fd.release()) == 0;
    if (!written || ::rename(temporary.c_str(), path.c_str()) != 0) {
        std::string reason = std::strerror(errno);
        ::unlink(temporary.c_str());
        return fail("cannot write " + path + ": " + reason);
    }
    return {};
}

std::string memoryBioText(BIO* bio) {
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(length));
}

}  // namespace

Result<EvpPkeyPtr> generateRsaKey(int bits) {
    if (bits != 2048 && bits != 3072 && bits != 4096) {
        return fail("RSA key size must be 2048, 3072 or 4096 bits, not " + std::to_string(bits));
    }
    initialize();
    ERR_clear_error();
    EvpPkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
    if (!key) return sslFailure("cannot generate an RSA key");
    return key;
}

Result<X509Ptr> makeSelfSignedCertificate(const CertificateSpec& spec, EVP_PKEY* key) {
    return buildCertificate(spec, key, nullptr, key);
}

Result<X509Ptr> makeIssuedCertificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                                      EVP_PKEY* issuerKey) {
    if (!(X509_get_extension_flags(issuer) & EXFLAG_CA)) return fail("the issuer is not a CA");
    if (X509_check_private_key(issuer, issuerKey) != 1) {
        return sslFailure("the issuer's key does not match its certificate");
    }
    return buildCertificate(spec, key, issuer, issuerKey);
}

Status writePrivateKey(const std::string& path, EVP_PKEY* key) {
    BioPtr pem(BIO_new(BIO_s_mem()));
    if (!pem ||
        PEM_write_bio_PrivateKey(pem.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return sslFailure("cannot encode the private key");
    }
    std::string text = memoryBioText(pem.get());
    Status written = writeFileAtomically(path, text, 0600);
    OPENSSL_cleanse(text.data(), text.size());
    return written;
}

Status writeCertificates(const std::string& path, const std::vector<X509*>& certificates) {
    BioPtr pem(BIO_new(BIO_s_mem()));
    if (!pem) return sslFailure("out of memory");
    for (X509* certificate : certificates) {
        if (PEM_write_bio_X509(pem.get(), certificate) != 1) {
            return sslFailure("cannot encode a certificate");
        }
    }
    return writeFileAtomically(path, memoryBioText(pem.get()), 0644);
}

Result<EvpPkeyPtr> readPrivateKey(const std::string& path) {
    initialize();
    ERR_clear_error();
    BioPtr file(BIO_new_file(path.c_str(), "r"));
    if (!file) return sslFailure("cannot open " + path);
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(file.get(), nullptr, refusePassphrase, nullptr));
    if (!key) return sslFailure("no usable (unencrypted) private key in " + path);
    return key;
}

Result<std::vector<X509Ptr>> readCertificates(const std::string& path) {
    initialize();
    ERR_clear_error();
    BioPtr file(BIO_new_file(path.c_str(), "r"));
    if (!file) return sslFailure("cannot open " + path);
    std::vector<X509Ptr> certificates;
    while (X509* certificate = PEM_read_bio_X509(file.get(), nullptr, refusePassphrase, nullptr)) {
        certificates.emplace_back(certificate);
    }
    // Reading stops with "no start line" at the end of the file; anything else is damage.
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
    } else if (last != 0) {
        return sslFailure("cannot read certificate " + std::to_string(certificates.size() + 1) +
                          " of " + path);
    }
    if (certificates.empty()) return fail("no certificate in " + path);
    return certificates;
}

}  // namespace postern::tls
