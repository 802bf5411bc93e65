// paths.cpp: locating the configuration file and the daemons (see paths.h).
#include "paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace postern {

namespace {

bool isFile(const std::filesystem::path& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error);
}

}  // namespace

std::string executableDir() {
    std::error_code error;
    auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return ".";
    return self.parent_path().string();
}

std::string defaultConfigPath() {
    if (const char* fromEnvironment = std::getenv("POSTERN_CONF");
        fromEnvironment && *fromEnvironment) {
        return fromEnvironment;
    }
    if (isFile("conf/postern.conf")) return "conf/postern.conf";
    auto inSourceTree =
        (std::filesystem::path(executableDir()) / "../../conf/postern.conf").lexically_normal();
    if (isFile(inSourceTree)) return inSourceTree.string();
    // Installed under a PREFIX other than /usr (scripts/install.sh): PREFIX/etc/postern,
    // from PREFIX/sbin or PREFIX/bin, and from PREFIX/lib/postern (sendmail, mailq).
    for (const char* up : {"../etc/postern/postern.conf", "../../etc/postern/postern.conf"}) {
        auto installed = (std::filesystem::path(executableDir()) / up).lexically_normal();
        if (isFile(installed)) return installed.string();
    }
    return "/etc/postern/postern.conf";
}

std::string libexecDir() {
    return (std::filesystem::path(executableDir()) / "../libexec/postern")
        .lexically_normal()
        .string();
}

}  // namespace postern
