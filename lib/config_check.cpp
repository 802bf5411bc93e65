// config_check.cpp: file-system checks of a Config (see config_check.h).
#include "config_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace postern {

namespace {

enum class Expect { ReadableFile, Directory };

class FileChecker {
  public:
    FileChecker(const Config& config, std::string displayPath)
        : config_(config), displayPath_(std::move(displayPath)) {}

    // Checks the path a parameter names (nothing to check when it is empty).
    void check(const std::string& name, const std::string& path, Expect expect, int line) {
        if (path.empty()) return;
        std::string reason = problemWith(path, expect);
        if (reason.empty()) return;
        std::string where = displayPath_ + (line > 0 ? ":" + std::to_string(line) : "");
        problems_.push_back(where + ": " + name + ": " + path + ": " + reason);
    }

    // Same, at the line where the file sets the parameter.
    void check(const std::string& name, const std::string& path, Expect expect) {
        auto found = config_.setInFile.find(name);
        check(name, path, expect, found == config_.setInFile.end() ? 0 : found->second);
    }

    std::vector<std::string> problems() const { return problems_; }

  private:
    static std::string problemWith(const std::string& path, Expect expect) {
        struct stat info {};
        if (::stat(path.c_str(), &info) != 0) return std::strerror(errno);
        if (expect == Expect::Directory) return S_ISDIR(info.st_mode) ? "" : "not a directory";
        if (!S_ISREG(info.st_mode)) return "not a regular file";
        if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
        return "";
    }

    const Config& config_;
    std::string displayPath_;
    std::vector<std::string> problems_;
};

// A route's own TLS files; those it inherits from smtp.tls are checked there.
void checkRouteFiles(FileChecker& checker, const Route& route, const SmtpTlsPolicy& defaults) {
    if (!route.hasOwnTls) return;
    const auto& tls = route.tls;
    std::string name = "routes: " + route.domain + ": tls.";
    int line = route.sourceLine;
    if (tls.ca_file != defaults.ca_file)
        checker.check(name + "ca_file", tls.ca_file, Expect::ReadableFile, line);
    if (tls.ca_path != defaults.ca_path)
        checker.check(name + "ca_path", tls.ca_path, Expect::Directory, line);
    checker.check(name + "cert_file", tls.cert_file, Expect::ReadableFile, line);
    checker.check(name + "key_file", tls.key_file, Expect::ReadableFile, line);
}

}  // namespace

std::vector<std::string> checkConfigFiles(const Config& config, const std::string& displayPath) {
    FileChecker checker(config, displayPath);
    checker.check("smtpd.tls.cert_file", config.smtpd.tls.cert_file, Expect::ReadableFile);
    checker.check("smtpd.tls.key_file", config.smtpd.tls.key_file, Expect::ReadableFile);
    checker.check("smtpd.tls.ca_file", config.smtpd.tls.ca_file, Expect::ReadableFile);
    checker.check("smtp.tls.ca_file", config.smtp.tls.ca_file, Expect::ReadableFile);
    checker.check("smtp.tls.ca_path", config.smtp.tls.ca_path, Expect::Directory);
    for (const auto& route : config.routes) checkRouteFiles(checker, route, config.smtp.tls);
    // The master creates the queue directory, but not over a file of that name.
    if (std::filesystem::exists(config.queue_directory)) {
        checker.check("queue_directory", config.queue_directory, Expect::Directory);
    }
    if (config.log_file != "syslog" && config.log_file != "-") {
        checker.check("log_file", std::filesystem::path(config.log_file).parent_path().string(),
                      Expect::Directory);
    }
    return checker.problems();
}

}  // namespace postern
