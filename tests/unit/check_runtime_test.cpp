// check_runtime_test.cpp: `postern check`'s extra checks: queue folder and file modes and
// owner, a certificate against its key, expired and soon-expiring certificates.
#include "cli/check_runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "queue_fs_store.h"
#include "tls_cert.h"
#include "tls_test_support.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::cli;
using postern::testing::TempDir;

namespace {

bool mentions(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& line : lines)
        if (line.find(part) != std::string::npos) return true;
    return false;
}

// (Own certificates rather than the shared test PKI: each test wants its own validity.)
// A self-signed certificate valid for `days`, written to DIR/NAME.pem and DIR/NAME.key.
void writeCertificate(const TempDir& dir, const std::string& name, int days) {
    auto key = tls::generateRsaKey(2048);
    CHECK_TRUE(key.ok());
    tls::CertificateSpec spec;
    spec.commonName = name + ".example";
    spec.validityDays = days;
    auto certificate = tls::makeSelfSignedCertificate(spec, key->get());
    CHECK_TRUE(certificate.ok());
    CHECK_TRUE(tls::writePrivateKey(dir.file(name + ".key"), key->get()).ok());
    CHECK_TRUE(tls::writeCertificates(dir.file(name + ".pem"), {certificate->get()}).ok());
}

// A configuration whose queue_directory is DIR/spool, laid out by the store.
Config configWithQueue(const TempDir& dir) {
    Config config;
    config.queue_directory = dir.file("spool");
    queue::FsQueueStore store(config.queue_directory);
    CHECK_TRUE(store.ensureLayout(queue::kKeepOwner, queue::kKeepGroup).ok());
    return config;
}

}  // namespace

TEST_GROUP(CheckRuntime){};

TEST(CheckRuntime, QueueLayoutMadeByTheStoreIsClean) {
    TempDir dir;
    Config config = configWithQueue(dir);
    CheckReport report = checkQueuePermissions(config, ::geteuid());
    CHECK_EQUAL(0u, report.problems.size());
}

TEST(CheckRuntime, RecycleFolderIsCheckedLikeTheQueues) {
    TempDir dir;
    Config config = configWithQueue(dir);
    CHECK_EQUAL(0, ::chmod((config.queue_directory + "/recycle").c_str(), 0755));
    CheckReport report = checkQueuePermissions(config, ::geteuid());
    CHECK_EQUAL(1u, report.problems.size());
    CHECK_TRUE(mentions(report.problems, "/recycle: mode 0755, should be 0700"));
}

TEST(CheckRuntime, WrongModesAndOwnerAreProblems) {
    TempDir dir;
    Config config = configWithQueue(dir);
    CHECK_EQUAL(0, ::chmod((config.queue_directory + "/deferred").c_str(), 0755));
    std::string message = config.queue_directory + "/hold/0123456789ABCDEFG";
    std::ofstream(message) << "x";
    CHECK_EQUAL(0, ::chmod(message.c_str(), 0644));

    CheckReport report = checkQueuePermissions(config, ::geteuid());
    CHECK_EQUAL(2u, report.problems.size());
    CHECK_TRUE(mentions(report.problems, "/deferred: mode 0755, should be 0700"));
    CHECK_TRUE(mentions(report.problems, "/hold/0123456789ABCDEFG: mode 0644, should be 0600"));

    // Another owner: every folder but pid/, and the file.
    CheckReport other = checkQueuePermissions(config, ::geteuid() + 1);
    CHECK_TRUE(mentions(other.problems, "/incoming: owner uid"));
    CHECK_FALSE(mentions(other.problems, "/pid: owner"));
    CHECK_TRUE(mentions(other.problems, "/hold/0123456789ABCDEFG: mode 0644, should be 0600; owner"));
}

TEST(CheckRuntime, MissingQueueDirectoryIsNoProblem) {
    Config config;
    config.queue_directory = "/nonexistent/postern/spool";
    CHECK_EQUAL(0u, checkQueuePermissions(config, 0).problems.size());
}

TEST(CheckRuntime, CertificateMustMatchItsKey) {
    TempDir dir;
    writeCertificate(dir, "good", 90);
    writeCertificate(dir, "other", 90);
    Config config;
    config.smtpd.tls.cert_file = dir.file("good.pem");
    config.smtpd.tls.key_file = dir.file("good.key");
    config.setInFile["smtpd.tls.cert_file"] = 7;
    CheckReport good = checkCertificates(config, "test.conf");
    CHECK_EQUAL(0u, good.problems.size());
    CHECK_EQUAL(0u, good.warnings.size());

    config.smtpd.tls.key_file = dir.file("other.key");
    CheckReport bad = checkCertificates(config, "test.conf");
    CHECK_EQUAL(1u, bad.problems.size());
    CHECK_TRUE(mentions(bad.problems, "test.conf:7: smtpd.tls.cert_file: "));
    CHECK_TRUE_TEXT(mentions(bad.problems, "does not belong to this certificate"), bad.problems[0].c_str());
}

TEST(CheckRuntime, ExpiringSoonIsAWarningAndRouteCertificatesAreChecked) {
    TempDir dir;
    writeCertificate(dir, "soon", 10);
    writeCertificate(dir, "later", 90);
    Config config;
    config.smtpd.tls.cert_file = dir.file("soon.pem");
    config.smtpd.tls.key_file = dir.file("soon.key");
    Route route;
    route.domain = "partner.example";
    route.hasOwnTls = true;
    route.tls.cert_file = dir.file("later.pem");
    route.tls.key_file = dir.file("soon.key");  // the wrong key
    route.sourceLine = 12;
    config.routes.push_back(route);

    CheckReport report = checkCertificates(config, "test.conf");
    CHECK_EQUAL(1u, report.warnings.size());
    CHECK_TRUE(mentions(report.warnings, "(CN=soon.example) expires in"));
    CHECK_EQUAL(1u, report.problems.size());
    CHECK_TRUE(mentions(report.problems, "test.conf:12: routes: partner.example: tls.cert_file"));
}
