// timed_socket.cpp: blocking-style socket I/O with time limits (see timed_socket.h).
#include "timed_socket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "sockets.h"

namespace postern::cli {

Result<TimedSocket> TimedSocket::connectUnix(const std::string& path,
                                             std::chrono::milliseconds timeout) {
    auto fd = sockets::connectUnix(path);
    if (!fd) {
        // sockets::connectUnix says "connect PATH: reason"; keep only the reason.
        std::string reason = fd.error();
        if (size_t colon = reason.rfind(": "); colon != std::string::npos)
            reason = reason.substr(colon + 2);
        return fail("connect to " + path + ": " + reason);
    }
    return TimedSocket(std::move(fd.value()), timeout);
}

Status TimedSocket::waitFor(short events) {
    pollfd ready = {fd_.get(), events, 0};
    for (;;) {
        int count = ::poll(&ready, 1, static_cast<int>(timeout_.count()));
        if (count > 0) return {};
        if (count == 0) return fail("timed out after " + std::to_string(timeout_.count()) + " ms");
        if (errno != EINTR) return fail(std::string("poll: ") + std::strerror(errno));
    }
}

Status TimedSocket::writeAll(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t written = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (written > 0) {
            bytes.remove_prefix(static_cast<size_t>(written));
            continue;
        }
        if (written < 0 && errno == EINTR) continue;
        if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(std::string("write: ") + std::strerror(errno));
        if (auto ready = waitFor(POLLOUT); !ready) return ready;
    }
    return {};
}

Status TimedSocket::readSome(std::string& into) {
    char chunk[16384];
    for (;;) {
        ssize_t got = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (got > 0) {
            into.append(chunk, static_cast<size_t>(got));
            return {};
        }
        if (got == 0) return fail("connection closed");
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return fail(std::string("read: ") + std::strerror(errno));
        if (auto ready = waitFor(POLLIN); !ready) return ready;
    }
}

Result<std::string> TimedSocket::readLine(std::string& buffer, size_t maxLength) {
    for (;;) {
        size_t end = buffer.find('\n');
        if (end != std::string::npos) {
            std::string line = buffer.substr(0, end + 1);
            buffer.erase(0, end + 1);
            return line;
        }
        if (buffer.size() > maxLength) return fail("line too long");
        if (auto read = readSome(buffer); !read) return read.failure();
    }
}

void TimedSocket::shutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }

}  // namespace postern::cli
