// cert_command.cpp: `postern cert create` (an RSA key, mode 0600, and a self-signed
// certificate for smtpd.tls) and `postern cert show FILE [--key FILE]` (each certificate of
// the file in order, the chain's order and completeness against the system's trusted CAs,
// and whether a key belongs to the first certificate). Built on lib/tls_cert.
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <algorithm>
#include <filesystem>

#include "commands.h"
#include "tls_cert.h"

namespace postern::cli {

namespace {

int usage(const std::string& message) {
    printError("cert: " + message);
    printCommandUsage(*findCommand("cert"), stderr);
    return kExitUsage;
}

std::optional<int> parseCount(const std::string& text, int min, int max) {
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max)
        return std::nullopt;
    return static_cast<int>(value);
}

bool isIpAddress(const std::string& text) {
    unsigned char buffer[16];
    return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
           inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

struct CreateOptions {
    tls::CertificateSpec spec;
    int bits = 2048;
    std::string outDir;
    bool force = false;
};

// Fills `options` from the arguments; returns the usage problem, empty when none.
std::string parseCreateOptions(const CommandArgs& args, CreateOptions& options) {
    std::optional<int> days, years;
    std::vector<std::string> names;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--force") {
            options.force = true;
            continue;
        }
        if (arg == "--san") {
            while (i + 1 < args.size() && !args[i + 1].starts_with("--")) names.push_back(args[++i]);
            continue;
        }
        if (i + 1 >= args.size()) return "\"" + arg + "\" needs a value";
        const std::string& value = args[++i];
        if (arg == "--cn") options.spec.commonName = value;
        else if (arg == "--org") options.spec.organization = value;
        else if (arg == "--ou") options.spec.organizationalUnit = value;
        else if (arg == "--locality") options.spec.locality = value;
        else if (arg == "--state") options.spec.state = value;
        else if (arg == "--country") options.spec.country = value;
        else if (arg == "--email") options.spec.email = value;
        else if (arg == "--out") options.outDir = value;
        else if (arg == "--days" && (days = parseCount(value, 1, 36500))) continue;
        else if (arg == "--years" && (years = parseCount(value, 1, 100))) continue;
        else if (arg == "--bits" && parseCount(value, 2048, 4096)) options.bits = std::stoi(value);
        else return "bad option or value: " + arg + " " + value;
    }
    if (options.spec.commonName.empty()) return "--cn HOST is required";
    if (options.outDir.empty()) return "--out DIR is required";
    if (days && years) return "--days and --years exclude each other";
    if (options.bits != 2048 && options.bits != 3072 && options.bits != 4096)
        return "--bits must be 2048, 3072 or 4096";
    if (!options.spec.country.empty() && options.spec.country.size() != 2)
        return "--country takes a two-letter code";
    options.spec.validityDays = days ? *days : years ? *years * 365 : 365;
    // Clients look only at the subjectAltName: the CN is always one of its names.
    const std::string& cn = options.spec.commonName;
    if (!names.empty() && cn.find(' ') == std::string::npos &&
        std::find(names.begin(), names.end(), cn) == names.end())
        names.insert(names.begin(), cn);
    for (const auto& name : names)
        (isIpAddress(name) ? options.spec.ipAddresses : options.spec.dnsNames).push_back(name);
    return "";
}

int createCertificate(const CommandArgs& args) {
    CreateOptions options;
    if (std::string problem = parseCreateOptions(args, options); !problem.empty())
        return usage(problem);
    std::error_code error;
    std::filesystem::create_directories(options.outDir, error);
    if (error) return printError(options.outDir + ": " + error.message()), kExitFailure;
    std::string keyPath = options.outDir + "/key.pem";
    std::string certPath = options.outDir + "/cert.pem";
    for (const auto& path : {keyPath, certPath}) {
        if (!options.force && ::access(path.c_str(), F_OK) == 0)
            return printError(path + " exists; --force replaces it"), kExitFailure;
    }
    auto key = tls::generateRsaKey(options.bits);
    if (!key) return printError(key.error()), kExitFailure;
    auto certificate = tls::makeSelfSignedCertificate(options.spec, key->get());
    if (!certificate) return printError(certificate.error()), kExitFailure;
    if (auto written = tls::writePrivateKey(keyPath, key->get()); !written)
        return printError(written.error()), kExitFailure;
    if (auto written = tls::writeCertificates(certPath, {certificate->get()}); !written)
        return printError(written.error()), kExitFailure;
    auto info = tls::describeCertificate(certificate->get());
    std::printf("wrote %s (mode 0600) and %s\n", keyPath.c_str(), certPath.c_str());
    std::printf("subject: %s\nexpires: %s\nsha256: %s\n", info.subject.c_str(),
                info.notAfter.c_str(), info.fingerprintSha256.c_str());
    std::printf("for postern.conf:\n  smtpd = { tls = { security_level = \"may\";\n"
                "      cert_file = \"%s\";\n      key_file = \"%s\"; }; };\n",
                std::filesystem::absolute(certPath).c_str(),
                std::filesystem::absolute(keyPath).c_str());
    return kExitOk;
}

std::string expiryText(const X509* certificate) {
    int days = tls::daysUntilExpiry(certificate);
    if (days < 0) return "EXPIRED " + std::to_string(-days) + " days ago";
    return "expires in " + std::to_string(days) + " day" + (days == 1 ? "" : "s");
}

void printCertificate(X509* certificate, size_t index, size_t count) {
    auto info = tls::describeCertificate(certificate);
    const char* role = index == 0 ? "leaf" : info.selfSigned ? "root" : "intermediate";
    std::printf("certificate %zu of %zu (%s)\n", index + 1, count, count == 1 ? "only" : role);
    std::printf("  subject:     %s\n  issuer:      %s\n  serial:      %s\n", info.subject.c_str(),
                info.issuer.c_str(), info.serial.c_str());
    std::printf("  not before:  %s\n  not after:   %s (%s)\n", info.notBefore.c_str(),
                info.notAfter.c_str(), expiryText(certificate).c_str());
    std::string names;
    for (const auto& name : info.dnsNames) names += (names.empty() ? "DNS:" : ", DNS:") + name;
    for (const auto& ip : info.ipAddresses) names += (names.empty() ? "IP:" : ", IP:") + ip;
    std::printf("  names:       %s\n", names.empty() ? "(none)" : names.c_str());
    std::printf("  key:         %s %d bits\n  sha256:      %s\n", info.keyType.c_str(),
                info.keyBits, info.fingerprintSha256.c_str());
    std::printf("  self-signed: %s\n  CA:          %s\n", info.selfSigned ? "yes" : "no",
                info.isCa ? "yes" : "no");
}

int showCertificate(const CommandArgs& args) {
    std::string file, keyFile;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--key" && i + 1 < args.size()) keyFile = args[++i];
        else if (file.empty() && !args[i].starts_with("-")) file = args[i];
        else return usage("show: unexpected \"" + args[i] + "\"");
    }
    if (file.empty()) return usage("show needs a certificate FILE");
    auto chain = tls::readCertificates(file);
    if (!chain) return printError(file + ": " + chain.error()), kExitFailure;
    for (size_t i = 0; i < chain->size(); ++i) printCertificate((*chain)[i].get(), i, chain->size());

    X509StorePtr trust(X509_STORE_new());
    if (trust) X509_STORE_set_default_paths(trust.get());
    tls::ChainReport report = tls::checkChain(chain.value(), trust.get());
    std::printf("chain: %s, %s\n", report.ordered ? "in order" : "NOT IN ORDER",
                report.complete ? "complete" : "incomplete");
    for (const auto& problem : report.problems) std::printf("  %s\n", problem.c_str());
    int status = report.ordered ? kExitOk : kExitFailure;
    if (!keyFile.empty()) {
        auto key = tls::readPrivateKey(keyFile);
        if (!key) return printError(keyFile + ": " + key.error()), kExitFailure;
        bool matches = tls::keyMatchesCertificate(key->get(), chain->front().get());
        std::printf("key: %s %s certificate 1\n", keyFile.c_str(),
                    matches ? "matches" : "DOES NOT MATCH");
        if (!matches) status = kExitFailure;
    }
    return status;
}

}  // namespace

int runCertCommand(const CommandContext&, const CommandArgs& args) {
    if (args.empty()) return usage("create or show?");
    CommandArgs rest(args.begin() + 1, args.end());
    if (args[0] == "create") return createCertificate(rest);
    if (args[0] == "show") return showCertificate(rest);
    return usage("unknown command \"" + args[0] + "\"");
}

}  // namespace postern::cli
