// check_runtime.cpp: queue permission and certificate checks for `postern check` (see
// check_runtime.h).
#include "check_runtime.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "privileges.h"
#include "queue_id.h"
#include "tls_cert.h"

namespace postern::cli {

namespace {

// How many wrong files of one folder are named before the rest are only counted.
constexpr size_t kFilesNamedPerFolder = 5;

std::string octal(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

// What is wrong with one path's type, mode and owner; empty when nothing.
std::string permissionProblem(const struct stat& info, mode_t wantedMode, bool checkOwner,
                              uid_t owner) {
    std::string problem;
    if ((info.st_mode & 07777) != wantedMode)
        problem = "mode " + octal(info.st_mode) + ", should be " + octal(wantedMode);
    if (checkOwner && info.st_uid != owner) {
        if (!problem.empty()) problem += "; ";
        problem += "owner uid " + std::to_string(info.st_uid) + ", should be " +
                   std::to_string(owner);
    }
    return problem;
}

// Checks the message files of one queue folder.
void checkMessageFiles(const std::string& folder, uid_t owner, CheckReport& report) {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(folder.c_str()), ::closedir);
    if (!dir) {
        report.problems.push_back(folder + ": " + std::strerror(errno));
        return;
    }
    size_t wrong = 0;
    while (dirent* entry = ::readdir(dir.get())) {
        if (!queue::isValidQueueId(entry->d_name)) continue;
        std::string path = folder + "/" + entry->d_name;
        struct stat info {};
        if (::lstat(path.c_str(), &info) != 0) continue;  // moved meanwhile
        std::string problem = S_ISREG(info.st_mode) ? permissionProblem(info, 0600, true, owner)
                                                    : "not a regular file";
        if (problem.empty()) continue;
        if (++wrong <= kFilesNamedPerFolder) report.problems.push_back(path + ": " + problem);
    }
    if (wrong > kFilesNamedPerFolder)
        report.problems.push_back(folder + ": " + std::to_string(wrong - kFilesNamedPerFolder) +
                                  " more files with wrong permissions");
}

struct CertificateFiles {
    std::string parameter;  // "smtpd.tls.cert_file", "routes: d: tls.cert_file"
    std::string certFile;
    std::string keyFile;
    int line = 0;
};

void checkCertificateFiles(const CertificateFiles& files, const std::string& displayPath,
                           CheckReport& report) {
    std::string where = displayPath + (files.line > 0 ? ":" + std::to_string(files.line) : "") +
                        ": " + files.parameter + ": " + files.certFile + ": ";
    auto chain = tls::readCertificates(files.certFile);
    if (!chain) {
        report.problems.push_back(where + chain.error());
        return;
    }
    if (!files.keyFile.empty()) {
        auto key = tls::readPrivateKey(files.keyFile);
        if (!key) {
            report.problems.push_back(where + "key " + files.keyFile + ": " + key.error());
        } else if (!tls::keyMatchesCertificate(key->get(), chain->front().get())) {
            report.problems.push_back(where + "the key " + files.keyFile +
                                      " does not belong to this certificate");
        }
    }
    for (size_t i = 0; i < chain->size(); ++i) {
        X509* certificate = (*chain)[i].get();
        int days = tls::daysUntilExpiry(certificate);
        std::string which = "certificate " + std::to_string(i + 1) + " (" +
                            tls::describeCertificate(certificate).subject + ")";
        if (days < 0) {
            report.problems.push_back(where + which + " has expired");
        } else if (days < kExpiryWarningDays) {
            report.warnings.push_back(where + which + " expires in " + std::to_string(days) +
                                      " days");
        }
    }
}

int lineOf(const Config& config, const std::string& name) {
    auto found = config.setInFile.find(name);
    return found == config.setInFile.end() ? 0 : found->second;
}

}  // namespace

CheckReport checkQueuePermissions(const Config& config, uid_t owner) {
    CheckReport report;
    const std::string& root = config.queue_directory;
    struct stat info {};
    if (::stat(root.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) return report;
    struct Folder {
        const char* name;
        mode_t mode;
        bool holdsMessages;
    };
    static const Folder kFolders[] = {
        {"incoming", 0700, true}, {"active", 0700, true}, {"deferred", 0700, true},
        {"hold", 0700, true},     {"corrupt", 0700, true}, {"recycle", 0700, false},
        {"private", 0700, false}, {"public", 0755, false}, {"pid", 0755, false},
    };
    for (const Folder& folder : kFolders) {
        std::string path = root + "/" + folder.name;
        if (::lstat(path.c_str(), &info) != 0) continue;  // the master creates it
        if (!S_ISDIR(info.st_mode)) {
            report.problems.push_back(path + ": not a directory");
            continue;
        }
        bool ownedByMailOwner = std::string_view(folder.name) != "pid";
        std::string problem = permissionProblem(info, folder.mode, ownedByMailOwner, owner);
        if (!problem.empty()) report.problems.push_back(path + ": " + problem);
        if (folder.holdsMessages) checkMessageFiles(path, owner, report);
    }
    return report;
}

CheckReport checkCertificates(const Config& config, const std::string& displayPath) {
    std::vector<CertificateFiles> files;
    if (!config.smtpd.tls.cert_file.empty())
        files.push_back({"smtpd.tls.cert_file", config.smtpd.tls.cert_file,
                         config.smtpd.tls.key_file, lineOf(config, "smtpd.tls.cert_file")});
    for (const auto& route : config.routes) {
        if (!route.hasOwnTls || route.tls.cert_file.empty()) continue;
        files.push_back({"routes: " + route.domain + ": tls.cert_file", route.tls.cert_file,
                         route.tls.key_file, route.sourceLine});
    }
    CheckReport report;
    for (const auto& entry : files) checkCertificateFiles(entry, displayPath, report);
    return report;
}

Result<uid_t> expectedQueueOwner(const Config& config) {
    if (::geteuid() != 0) return ::geteuid();
    auto ids = lookUpUser(config.mail_owner);
    if (!ids) return ids.failure();
    return ids->uid;
}

}  // namespace postern::cli
