// sockets.cpp: inet and UNIX listeners, connects and address formatting (see sockets.h).
#include "sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace postern::sockets {
namespace {

constexpr int kSocketFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;

Error systemError(const std::string& what) {
    return fail(what + ": " + std::strerror(errno));
}

Result<sockaddr_un> unixAddress(const std::string& path) {
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) {
        return fail("UNIX socket path empty or too long: " + path);
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

Result<uint16_t> parsePort(std::string_view text) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535 ||
        (text.size() > 1 && text[0] == '0')) {
        return fail("bad port \"" + std::string(text) + "\"");
    }
    return static_cast<uint16_t>(value);
}

// Splits "host:port" or "[host]:port" into its parts.
Result<std::pair<std::string_view, std::string_view>> splitHostPort(std::string_view text) {
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return fail("expected [address]:port, got \"" + std::string(text) + "\"");
        }
        return std::pair{text.substr(1, close - 1), text.substr(close + 2)};
    }
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return fail("missing :port in \"" + std::string(text) + "\"");
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
        return fail("an IPv6 address needs brackets: \"" + std::string(text) + "\"");
    }
    return std::pair{host, text.substr(colon + 1)};
}

Status setOption(int fd, int level, int name, const std::string& what) {
    int on = 1;
    if (setsockopt(fd, level, name, &on, sizeof on) != 0) return systemError(what);
    return {};
}

}  // namespace

Result<InetEndpoint> parseInetEndpoint(std::string_view text) {
    auto parts = splitHostPort(text);
    if (!parts) return parts.failure();
    auto [host, portText] = *parts;
    auto port = parsePort(portText);
    if (!port) return fail(port.error() + " in \"" + std::string(text) + "\"");
    InetEndpoint endpoint;
    endpoint.host = std::string(host);
    endpoint.port = *port;
    // getaddrinfo() also takes inet_aton() shorthands such as "1.2.3"; only a full
    // dotted quad is an IPv4 address here, and only a bracketed host an IPv6 one.
    bool bracketed = !text.empty() && text.front() == '[';
    in_addr v4 = {};
    if (!bracketed && inet_pton(AF_INET, endpoint.host.c_str(), &v4) != 1) {
        return fail("not a numeric address: \"" + std::string(text) + "\"");
    }
    addrinfo hints = {};
    hints.ai_family = bracketed ? AF_INET6 : AF_INET;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string service = std::to_string(*port);
    if (endpoint.host.empty() ||
        getaddrinfo(endpoint.host.c_str(), service.c_str(), &hints, &found) != 0 || !found) {
        return fail("not a numeric address: \"" + std::string(text) + "\"");
    }
    std::memcpy(&endpoint.address, found->ai_addr, found->ai_addrlen);
    endpoint.length = found->ai_addrlen;
    freeaddrinfo(found);
    return endpoint;
}

Result<UniqueFd> listenInet(std::string_view text, int backlog) {
    auto endpoint = parseInetEndpoint(text);
    if (!endpoint) return endpoint.failure();
    int family = endpoint->address.ss_family;
    UniqueFd fd(socket(family, SOCK_STREAM | kSocketFlags, 0));
    if (!fd) return systemError("socket");
    std::string where = std::string(text);
    if (auto st = setOption(fd.get(), SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"); !st)
        return st.failure();
    if (family == AF_INET6) {
        if (auto st = setOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY"); !st) {
            return st.failure();
        }
    }
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&endpoint->address), endpoint->length) !=
        0) {
        return systemError("bind " + where);
    }
    if (listen(fd.get(), backlog) != 0) return systemError("listen " + where);
    return fd;
}

Result<UniqueFd> listenUnix(const std::string& path, mode_t mode, int backlog) {
    auto address = unixAddress(path);
    if (!address) return address.failure();
    struct stat existing = {};
    if (lstat(path.c_str(), &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode)) return fail("not a socket, will not replace: " + path);
        if (unlink(path.c_str()) != 0) return systemError("unlink stale socket " + path);
    }
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | kSocketFlags, 0));
    if (!fd) return systemError("socket");
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.value()), sizeof(sockaddr_un)) !=
        0) {
        return systemError("bind " + path);
    }
    if (chmod(path.c_str(), mode) != 0) return systemError("chmod " + path);
    if (listen(fd.get(), backlog) != 0) return systemError("listen " + path);
    return fd;
}

Result<UniqueFd> connectUnix(const std::string& path) {
    auto address = unixAddress(path);
    if (!address) return address.failure();
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | kSocketFlags, 0));
    if (!fd) return systemError("socket");
    if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.value()),
                sizeof(sockaddr_un)) != 0) {
        return systemError("connect " + path);
    }
    return fd;
}

Result<UniqueFd> connectInet(const sockaddr* address, socklen_t length) {
    UniqueFd fd(socket(address->sa_family, SOCK_STREAM | kSocketFlags, 0));
    if (!fd) return systemError("socket");
    if (connect(fd.get(), address, length) != 0 && errno != EINPROGRESS) {
        return systemError("connect " + formatAddress(address));
    }
    return fd;
}

UniqueFd acceptConnection(int listener, sockaddr_storage* peer) {
    socklen_t length = sizeof(sockaddr_storage);
    return UniqueFd(accept4(listener, reinterpret_cast<sockaddr*>(peer), peer ? &length : nullptr,
                            kSocketFlags));
}

Status makeNonBlockingCloseOnExec(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return systemError("O_NONBLOCK");
    int fdFlags = fcntl(fd, F_GETFD);
    if (fdFlags < 0 || fcntl(fd, F_SETFD, fdFlags | FD_CLOEXEC) != 0)
        return systemError("FD_CLOEXEC");
    return {};
}

bool isListeningSocket(int fd) {
    int listening = 0;
    socklen_t length = sizeof listening;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening;
}

std::string formatAddress(const sockaddr* address) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes = nullptr;
    if (address->sa_family == AF_INET) {
        bytes = &reinterpret_cast<const sockaddr_in*>(address)->sin_addr;
    } else if (address->sa_family == AF_INET6) {
        bytes = &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    }
    if (!bytes || !inet_ntop(address->sa_family, bytes, text, sizeof text)) return "unknown";
    return text;
}

uint16_t portOf(const sockaddr* address) {
    if (address->sa_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
    }
    if (address->sa_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
    }
    return 0;
}

Result<std::string> localEndpoint(int fd) {
    sockaddr_storage address = {};
    socklen_t length = sizeof address;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return systemError("getsockname");
    }
    const auto* generic = reinterpret_cast<const sockaddr*>(&address);
    if (generic->sa_family != AF_INET && generic->sa_family != AF_INET6) {
        return fail("not an inet socket");
    }
    std::string host = formatAddress(generic);
    if (generic->sa_family == AF_INET6) host = "[" + host + "]";
    return host + ":" + std::to_string(portOf(generic));
}

}  // namespace postern::sockets
