// tls_trust_defaults_test.cpp: unit tests for ClientTrustStore::load with neither a CA file
// nor a CA directory: OpenSSL's default CA file and hash directory (SSL_CERT_FILE,
// SSL_CERT_DIR) are still used now that the OSSL_STORE lookup is left out (it finds
// nothing they do not, and lists the whole directory at every miss: lib/tls_client.cpp).
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tls.h"
#include "tls_cert.h"
#include "tls_test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::tls;
using postern::testing::pkiFile;
using postern::testing::TempDir;

namespace {

// Sets an environment variable for the life of the object (tests run one at a time).
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        const char* old = std::getenv(name);
        if (old != nullptr) old_ = old;
        hadOld_ = old != nullptr;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (hadOld_) {
            setenv(name_, old_.c_str(), 1);
        } else {
            unsetenv(name_);
        }
    }

  private:
    const char* name_;
    std::string old_;
    bool hadOld_ = false;
};

// Whether the server chain (leaf, intermediate) verifies against `store`.
bool serverChainVerifies(X509_STORE* store) {
    auto leaf = readCertificates(pkiFile("server.pem"));
    auto intermediate = readCertificates(pkiFile("inter.pem"));
    CHECK_TRUE(leaf.ok() && intermediate.ok());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, intermediate->front().get());
    X509_STORE_CTX* context = X509_STORE_CTX_new();
    X509_STORE_CTX_init(context, store, leaf->front().get(), untrusted);
    bool verified = X509_verify_cert(context) == 1;
    X509_STORE_CTX_free(context);
    sk_X509_free(untrusted);
    return verified;
}

// The c_rehash name of a CA certificate file: subject hash, ".0".
std::string hashName(const std::string& caFile) {
    auto ca = readCertificates(caFile);
    CHECK_TRUE(ca.ok());
    char name[16];
    std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(ca->front().get()));
    return name;
}

}  // namespace

TEST_GROUP(TlsTrustDefaults){};

TEST(TlsTrustDefaults, DefaultFileIsUsed) {
    TempDir empty;
    ScopedEnv file("SSL_CERT_FILE", pkiFile("root.pem"));
    ScopedEnv dir("SSL_CERT_DIR", empty.path);
    auto trust = ClientTrustStore::load({"", ""});
    CHECK_TRUE(trust.ok());
    CHECK_TRUE(serverChainVerifies(trust->get()));
}

TEST(TlsTrustDefaults, DefaultHashDirectoryIsUsed) {
    TempDir certs;
    std::filesystem::copy_file(pkiFile("root.pem"), certs.file(hashName(pkiFile("root.pem"))));
    ScopedEnv file("SSL_CERT_FILE", certs.file("no-bundle.pem"));
    ScopedEnv dir("SSL_CERT_DIR", certs.path);
    auto trust = ClientTrustStore::load({"", ""});
    CHECK_TRUE(trust.ok());
    CHECK_TRUE(serverChainVerifies(trust->get()));
}
