// sockets.h: listening and connecting sockets for every postern process.
// Inet listeners come from "host:port" strings with a numeric host ("127.0.0.1:25",
// "0.0.0.0:25", "[::1]:2525", "[::]:25"); UNIX listeners from a path and a mode. Every
// socket made here is non-blocking and close-on-exec, and owned by a UniqueFd.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"
#include "unique_fd.h"

namespace postern::sockets {

// A large backlog: smtpd takes bursts of connections, and the kernel caps it at somaxconn.
constexpr int kListenBacklog = 4096;

// A parsed numeric inet endpoint.
struct InetEndpoint {
    std::string host;  // as written, without brackets
    uint16_t port = 0;
    sockaddr_storage address = {};
    socklen_t length = 0;
};

// Parses "host:port" or "[ipv6]:port"; the host must be a numeric address.
Result<InetEndpoint> parseInetEndpoint(std::string_view text);
// Binds and listens on TEXT ("127.0.0.1:25", "[::1]:0"): SO_REUSEADDR, IPV6_V6ONLY for v6.
Result<UniqueFd> listenInet(std::string_view text, int backlog = kListenBacklog);
// Binds and listens on a UNIX stream socket at PATH with MODE, replacing a stale socket
// there (but never a file of another kind).
Result<UniqueFd> listenUnix(const std::string& path, mode_t mode, int backlog = kListenBacklog);
// Connects to a UNIX stream socket; fails at once when nobody listens or the backlog is full.
Result<UniqueFd> connectUnix(const std::string& path);
// Starts a non-blocking TCP connect; the caller waits for writability and checks SO_ERROR.
Result<UniqueFd> connectInet(const sockaddr* address, socklen_t length);
// Accepts one connection, non-blocking and close-on-exec; PEER may be null. On failure
// the result is invalid and errno says why (EAGAIN, EMFILE, ...).
UniqueFd acceptConnection(int listener, sockaddr_storage* peer);

// Makes FD non-blocking and close-on-exec (for descriptors inherited from another process).
Status makeNonBlockingCloseOnExec(int fd);
// True when FD is a socket in the listening state.
bool isListeningSocket(int fd);
// The numeric address of an inet sockaddr ("192.0.2.1", "2001:db8::1"), or "unknown".
std::string formatAddress(const sockaddr* address);
// The port of an inet sockaddr (0 for other families).
uint16_t portOf(const sockaddr* address);
// The local endpoint of an inet socket as "host:port" or "[host]:port".
Result<std::string> localEndpoint(int fd);

}  // namespace postern::sockets
