// smtp_relay.cpp: the lock-step SMTP relay of sendmail -bs (see smtp_relay.h).
#include "smtp_relay.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "smtp_submit.h"

namespace postern::cli {

namespace {

constexpr size_t kMaxReplyLine = 4096;

// Reads lines from a descriptor (standard input), any length, line end kept.
class InputLines {
public:
    explicit InputLines(int fd) : fd_(fd) {}

    // The next line ("\n" included, or without it at the end); nullopt at the end.
    std::optional<std::string> next() {
        for (;;) {
            size_t end = buffer_.find('\n');
            if (end != std::string::npos) {
                std::string line = buffer_.substr(0, end + 1);
                buffer_.erase(0, end + 1);
                return line;
            }
            char chunk[16384];
            ssize_t got = ::read(fd_, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                if (buffer_.empty()) return std::nullopt;
                return std::exchange(buffer_, "");
            }
            buffer_.append(chunk, static_cast<size_t>(got));
        }
    }

private:
    int fd_;
    std::string buffer_;
};

bool writeAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(written));
    }
    return true;
}

bool isLoneDot(const std::string& line) { return line == ".\r\n" || line == ".\n" || line == "."; }

class Relay {
public:
    Relay(TimedSocket& server, int input, int output)
        : server_(server), input_(input), output_(output) {}

    int run() {
        for (auto code = relayReply(); code; code = relayReply()) {
            if (*code == 354 && !sendMessageContent()) return finishAfterInput();
            auto line = input_.next();
            if (!line) return finishAfterInput();
            if (!server_.writeAll(*line)) return 0;  // the server closed: its replies are out
        }
        return sawReply_ ? 0 : kExTempFail;
    }

private:
    // Copies one whole reply to the output; its code, or nullopt once the server is gone.
    std::optional<int> relayReply() {
        for (;;) {
            auto line = server_.readLine(serverBuffer_, kMaxReplyLine);
            if (!line) return std::nullopt;
            if (!writeAll(output_, *line)) return std::nullopt;
            sawReply_ = true;
            bool last = line->size() < 4 || (*line)[3] != '-';
            if (last) return std::atoi(line->substr(0, 3).c_str());
        }
    }

    // After a 354: the input's lines up to and including the lone dot. False when the
    // input ended first.
    bool sendMessageContent() {
        while (auto line = input_.next()) {
            if (!server_.writeAll(*line)) return true;
            if (isLoneDot(*line)) return true;
        }
        return false;
    }

    // The input ended: let the server see it, and pass on what it still says.
    int finishAfterInput() {
        server_.shutdownWrite();
        while (relayReply()) {
        }
        return 0;
    }

    TimedSocket& server_;
    InputLines input_;
    int output_;
    std::string serverBuffer_;
    bool sawReply_ = false;
};

}  // namespace

int relaySmtpSession(TimedSocket& server, int input, int output) {
    return Relay(server, input, output).run();
}

}  // namespace postern::cli
