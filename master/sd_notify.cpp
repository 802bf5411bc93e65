// sd_notify.cpp: one datagram to $NOTIFY_SOCKET (see sd_notify.h).
#include "sd_notify.h"

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "unique_fd.h"

namespace postern::master {

Result<NotifyAddress> parseNotifySocket(std::string_view value) {
    NotifyAddress notify;
    notify.address.sun_family = AF_UNIX;
    bool abstract = value.starts_with('@');
    if (value.size() < 2 || (!abstract && !value.starts_with('/')))
        return fail("NOTIFY_SOCKET \"" + std::string(value) + "\" is neither a path nor @name");
    // A path needs room for its NUL; an abstract name is exactly its bytes after a NUL.
    size_t room = sizeof(notify.address.sun_path) - (abstract ? 0 : 1);
    if (value.size() > room) return fail("NOTIFY_SOCKET is too long");
    std::memcpy(notify.address.sun_path, value.data(), value.size());
    if (abstract) notify.address.sun_path[0] = '\0';
    notify.length = socklen_t(offsetof(sockaddr_un, sun_path) + value.size() + (abstract ? 0 : 1));
    return notify;
}

Status notifyServiceManager(const std::string& state) {
    const char* value = std::getenv("NOTIFY_SOCKET");
    if (value == nullptr || *value == '\0') return {};
    auto where = parseNotifySocket(value);
    if (!where) return where.failure();
    UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    ssize_t sent = sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&where->address), where->length);
    if (sent != ssize_t(state.size()))
        return fail(std::string("cannot notify ") + value + ": " + std::strerror(errno));
    return {};
}

std::string reloadingState() {
    timespec now = {};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long usec = (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace postern::master
