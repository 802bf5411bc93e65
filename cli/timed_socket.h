// timed_socket.h: a connected stream socket used in blocking style with a time limit on
// every wait, for the commands that talk to postern's daemons (qmgr control requests,
// sendmail's SMTP submission). The descriptor stays non-blocking; poll() does the waiting.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "result.h"
#include "unique_fd.h"

namespace postern::cli {

class TimedSocket {
public:
    // Owns `fd` (a connected, non-blocking socket); each wait may last up to `timeout`.
    TimedSocket(UniqueFd fd, std::chrono::milliseconds timeout)
        : fd_(std::move(fd)), timeout_(timeout) {}

    // Connects to the UNIX socket at `path`; the error reads "connect to PATH: reason".
    static Result<TimedSocket> connectUnix(const std::string& path,
                                           std::chrono::milliseconds timeout);

    // Writes every byte, or fails (peer gone, timeout).
    Status writeAll(std::string_view bytes);
    // Appends what is available (at least one byte) to `into`; fails on timeout, error or
    // end of stream ("connection closed").
    Status readSome(std::string& into);
    // Reads up to and including the next "\n" (kept in the result); `buffer` holds what
    // was read beyond it. Fails for a line longer than `maxLength`.
    Result<std::string> readLine(std::string& buffer, size_t maxLength);
    // Shuts down the sending direction (the peer reads end of stream).
    void shutdownWrite();

    int descriptor() const { return fd_.get(); }

private:
    // Waits until the socket is ready for `events`; fails after the timeout.
    Status waitFor(short events);

    UniqueFd fd_;
    std::chrono::milliseconds timeout_;
};

}  // namespace postern::cli
