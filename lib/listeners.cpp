// listeners.cpp: the service-to-socket table, binding, and the POSTERN_LISTEN_FDS format.
#include "listeners.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "ipc.h"
#include "sockets.h"

namespace postern {
namespace {

// A host name in smtpd.listen means every address it has, each as its own socket.
Result<std::vector<std::string>> resolveListenAddress(const HostPort& where) {
    if (isIpAddress(where.host)) return std::vector<std::string>{where.toString()};
    addrinfo hints = {};
    hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = getaddrinfo(where.host.c_str(), nullptr, &hints, &found);
    if (rc != 0)
        return fail("cannot resolve listen address " + where.host + ": " + gai_strerror(rc));
    std::vector<std::string> addresses;
    for (addrinfo* a = found; a; a = a->ai_next) {
        HostPort numeric{sockets::formatAddress(a->ai_addr), where.port};
        std::string text = numeric.toString();
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
            addresses.push_back(text);
        }
    }
    freeaddrinfo(found);
    return addresses;
}

Status ensureSocketFolder(const std::string& folder, mode_t socketMode,
                          const std::optional<UserIds>& owner) {
    struct stat info = {};
    if (stat(folder.c_str(), &info) == 0) return {};
    mode_t mode = (socketMode & 0007) ? 0755 : 0700;  // public/ must be searchable by all
    if (mkdir(folder.c_str(), mode) != 0 && errno != EEXIST) {
        return fail("mkdir " + folder + ": " + std::strerror(errno));
    }
    if (owner && chown(folder.c_str(), owner->uid, owner->gid) != 0) {
        return fail("chown " + folder + ": " + std::strerror(errno));
    }
    return {};
}

Result<UniqueFd> bindUnixListener(const ListenerSpec& spec, const std::string& queueDirectory,
                                  const std::optional<UserIds>& owner) {
    std::string path = queueDirectory + "/" + spec.address;
    std::string folder = path.substr(0, path.rfind('/'));
    if (auto made = ensureSocketFolder(folder, spec.mode, owner); !made) return made.failure();
    auto fd = sockets::listenUnix(path, spec.mode);
    if (!fd) return fd.failure();
    if (owner && chown(path.c_str(), owner->uid, owner->gid) != 0) {
        return fail("chown " + path + ": " + std::strerror(errno));
    }
    return fd;
}

}  // namespace

std::string ListenerSpec::name() const {
    return (kind == ListenerKind::Inet ? "inet:" : "unix:") + address;
}

Result<std::vector<ListenerSpec>> serviceListeners(const std::string& service,
                                                   const Config& config) {
    std::vector<ListenerSpec> specs;
    if (service == "smtpd") {
        for (const auto& where : config.smtpd.listen) {
            auto addresses = resolveListenAddress(where);
            if (!addresses) return addresses.failure();
            for (auto& address : *addresses) specs.push_back({ListenerKind::Inet, address, 0});
        }
        specs.push_back({ListenerKind::Unix, "public/submit", 0666});
    } else if (service == "qmgr") {
        specs.push_back({ListenerKind::Unix, "private/qmgr", 0600});
    } else if (service == "smtp") {
        specs.push_back({ListenerKind::Unix, "private/smtp", 0600});
    }
    return specs;
}

Result<UniqueFd> bindListener(const ListenerSpec& spec, const std::string& queueDirectory,
                              const std::optional<UserIds>& owner) {
    if (spec.kind == ListenerKind::Unix) return bindUnixListener(spec, queueDirectory, owner);
    return sockets::listenInet(spec.address);
}

std::string formatListenFds(const std::vector<InheritedListener>& listeners) {
    std::string text;
    for (const auto& listener : listeners) {
        if (!text.empty()) text += ',';
        text += listener.name + "=" + std::to_string(listener.fd);
    }
    return text;
}

Result<std::vector<InheritedListener>> parseListenFds(std::string_view text) {
    std::vector<InheritedListener> listeners;
    std::set<std::string> names;
    std::set<int> fds;
    while (!text.empty()) {
        size_t comma = text.find(',');
        std::string_view entry = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        size_t equals = entry.rfind('=');
        std::string where = "in " + std::string(kListenFdsEnv) + ": \"" + std::string(entry) + "\"";
        if (equals == std::string_view::npos) return fail("missing =FD " + where);
        std::string_view name = entry.substr(0, equals);
        auto fd = ipc::parseDecimal(entry.substr(equals + 1));
        if (!fd || *fd < 0 || *fd > 65535) return fail("bad descriptor " + where);
        bool knownKind = name.starts_with("inet:") || name.starts_with("unix:");
        if (!knownKind || name.size() <= 5) return fail("bad listener name " + where);
        if (!names.insert(std::string(name)).second || !fds.insert(int(*fd)).second) {
            return fail("repeated listener " + where);
        }
        listeners.push_back({std::string(name), static_cast<int>(*fd)});
        if (comma != std::string_view::npos && text.empty()) return fail("trailing comma " + where);
    }
    return listeners;
}

}  // namespace postern
