// tls_cert_test.cpp: unit tests for lib/tls_cert: a key and self-signed certificate made,
// written, read back and described (checked against the openssl command), key matching,
// expiry, chain order and completeness on a real 3-certificate chain, and bad input.
#include "tls_cert.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>

#include "tls_test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::tls;
using postern::testing::pkiFile;
using postern::testing::TempDir;

namespace {

CertificateSpec fullSpec() {
    CertificateSpec spec;
    spec.commonName = "mx.example.com";
    spec.organization = "Example Org";
    spec.organizationalUnit = "Mail";
    spec.locality = "Berlin";
    spec.state = "Berlin";
    spec.country = "DE";
    spec.email = "postmaster@example.com";
    spec.dnsNames = {"mx.example.com", "mail.example.com"};
    spec.ipAddresses = {"192.0.2.25", "2001:db8::25"};
    spec.validityDays = 90;
    return spec;
}

// The SHA-256 fingerprint as the openssl command prints it (an independent computation).
std::string opensslFingerprint(const std::string& file) {
    std::string command = "openssl x509 -noout -fingerprint -sha256 -in " + file;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return "";
    char line[256] = "";
    if (!std::fgets(line, sizeof line, pipe)) line[0] = 0;
    ::pclose(pipe);
    std::string text = line;
    size_t equals = text.find('=');
    if (equals == std::string::npos) return "";
    text = text.substr(equals + 1);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::vector<X509Ptr> chainOf(std::initializer_list<const char*> files) {
    std::vector<X509Ptr> chain;
    for (const char* file : files) {
        auto certificates = readCertificates(pkiFile(file));
        if (!certificates) FAIL(certificates.error().c_str());
        chain.push_back(std::move(certificates->front()));  // the first of each file
    }
    return chain;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_GROUP(TlsCert){};

TEST(TlsCert, CreateWriteReadDescribeAndMatchKey) {
    TempDir dir;
    auto key = generateRsaKey(2048);
    CHECK_TRUE(key.ok());
    auto certificate = makeSelfSignedCertificate(fullSpec(), key->get());
    CHECK_TRUE_TEXT(certificate.ok(), certificate.ok() ? "" : certificate.error().c_str());
    CHECK_TRUE(writePrivateKey(dir.file("key.pem"), key->get()).ok());
    CHECK_TRUE(writeCertificates(dir.file("cert.pem"), {certificate->get()}).ok());

    struct stat keyStat {};
    LONGS_EQUAL(0, ::stat(dir.file("key.pem").c_str(), &keyStat));
    LONGS_EQUAL(0600, keyStat.st_mode & 07777);

    auto readBack = readCertificates(dir.file("cert.pem"));
    CHECK_TRUE(readBack.ok());
    LONGS_EQUAL(1, readBack->size());
    X509* cert = readBack->front().get();
    CertificateInfo info = describeCertificate(cert);
    for (const char* part : {"C=DE", "ST=Berlin", "L=Berlin", "O=Example Org", "OU=Mail",
                             "CN=mx.example.com", "emailAddress=postmaster@example.com"}) {
        CHECK_TRUE_TEXT(contains(info.subject, part), info.subject.c_str());
    }
    STRCMP_EQUAL(info.subject.c_str(), info.issuer.c_str());
    CHECK((info.dnsNames == std::vector<std::string>{"mx.example.com", "mail.example.com"}));
    CHECK((info.ipAddresses == std::vector<std::string>{"192.0.2.25", "2001:db8::25"}));
    CHECK_TRUE(info.selfSigned);
    CHECK_FALSE(info.isCa);
    STRCMP_EQUAL("RSA", info.keyType.c_str());
    LONGS_EQUAL(2048, info.keyBits);
    STRCMP_EQUAL(opensslFingerprint(dir.file("cert.pem")).c_str(), info.fingerprintSha256.c_str());
    CHECK(contains(info.notAfter, " UTC"));
    int days = daysUntilExpiry(cert);
    CHECK(days == 89 || days == 90);

    CHECK(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
    CHECK(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
    CHECK(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);
    CHECK(X509_get0_subject_key_id(cert) != nullptr);
    LONGS_EQUAL(X509_VERSION_3, X509_get_version(cert));

    auto keyBack = readPrivateKey(dir.file("key.pem"));
    CHECK_TRUE(keyBack.ok());
    CHECK_TRUE(keyMatchesCertificate(keyBack->get(), cert));
    auto otherKey = readPrivateKey(pkiFile("client.key"));
    CHECK_TRUE(otherKey.ok());
    CHECK_FALSE(keyMatchesCertificate(otherKey->get(), cert));
}

TEST(TlsCert, SerialsAreRandomAndCnBecomesTheOnlyName) {
    auto key = readPrivateKey(pkiFile("self.key"));
    CHECK_TRUE(key.ok());
    CertificateSpec spec;
    spec.commonName = "host.example.net";
    auto first = makeSelfSignedCertificate(spec, key->get());
    auto second = makeSelfSignedCertificate(spec, key->get());
    CHECK_TRUE(first.ok() && second.ok());
    CertificateInfo a = describeCertificate(first->get());
    CertificateInfo b = describeCertificate(second->get());
    CHECK(a.serial != b.serial);
    CHECK(a.serial.size() >= 30);
    CHECK((a.dnsNames == std::vector<std::string>{"host.example.net"}));
}

TEST(TlsCert, BadInputIsAnError) {
    CHECK_FALSE(generateRsaKey(1024).ok());
    auto key = readPrivateKey(pkiFile("self.key"));
    CHECK_TRUE(key.ok());
    auto withSpec = [&](auto change) {
        CertificateSpec spec = fullSpec();
        change(spec);
        return makeSelfSignedCertificate(spec, key->get());
    };
    auto badIp = withSpec([](CertificateSpec& s) { s.ipAddresses = {"999.1.1.1"}; });
    CHECK_FALSE(badIp.ok());
    CHECK(contains(badIp.error(), "999.1.1.1"));
    CHECK_FALSE(withSpec([](CertificateSpec& s) { s.dnsNames = {"bad name,DNS:evil"}; }).ok());
    CHECK_FALSE(withSpec([](CertificateSpec& s) { s.validityDays = 0; }).ok());
    CHECK_FALSE(withSpec([](CertificateSpec& s) { s.country = "Germany"; }).ok());
    CHECK_FALSE(withSpec([](CertificateSpec& s) { s = CertificateSpec{}; }).ok());

    auto self = readCertificates(pkiFile("self.pem"));
    CHECK_TRUE(self.ok());
    auto notACa = makeIssuedCertificate(fullSpec(), key->get(), self->front().get(), key->get());
    CHECK_FALSE(notACa.ok());
}

TEST(TlsCert, ReadingMissingOrEmptyFilesFails) {
    TempDir dir;
    auto missing = readCertificates(dir.file("missing.pem"));
    CHECK_FALSE(missing.ok());
    CHECK(contains(missing.error(), dir.file("missing.pem")));
    auto keyOnly = readCertificates(pkiFile("self.key"));
    CHECK_FALSE(keyOnly.ok());
    CHECK(contains(keyOnly.error(), "no certificate"));
    CHECK_FALSE(readPrivateKey(pkiFile("self.pem")).ok());
}

TEST(TlsCert, ChainFileReadsInOrder) {
    auto chain = readCertificates(pkiFile("server.pem"));
    CHECK_TRUE(chain.ok());
    LONGS_EQUAL(2, chain->size());
    CHECK(contains(describeCertificate((*chain)[0].get()).subject, "CN=mx.test.example"));
    CHECK(contains(describeCertificate((*chain)[1].get()).subject, "Intermediate"));
}

TEST(TlsCert, ChainOrderAndCompleteness) {
    ChainReport right = checkChain(chainOf({"server.pem", "inter.pem", "root.pem"}), nullptr);
    CHECK_TRUE(right.ordered);
    CHECK_TRUE(right.complete);
    CHECK_TRUE(right.problems.empty());

    ChainReport swapped = checkChain(chainOf({"inter.pem", "server.pem", "root.pem"}), nullptr);
    CHECK_FALSE(swapped.ordered);
    CHECK_FALSE(swapped.complete);
    CHECK_FALSE(swapped.problems.empty());
    CHECK(contains(swapped.problems[0], "certificate 1"));

    ChainReport reversed = checkChain(chainOf({"root.pem", "inter.pem", "server.pem"}), nullptr);
    CHECK_FALSE(reversed.ordered);

    // Without the root the chain is complete only if the trust store holds it.
    ChainReport noRoot = checkChain(chainOf({"server.pem", "inter.pem"}), nullptr);
    CHECK_TRUE(noRoot.ordered);
    CHECK_FALSE(noRoot.complete);
    X509StorePtr store(X509_STORE_new());
    CHECK_EQUAL(1, X509_STORE_load_file(store.get(), pkiFile("root.pem").c_str()));
    ChainReport trusted = checkChain(chainOf({"server.pem", "inter.pem"}), store.get());
    CHECK_TRUE(trusted.complete);

    CHECK_FALSE(checkChain({}, nullptr).complete);
}
