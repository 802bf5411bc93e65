// bench_tool.h: what the benchmark's small programs (bench_sink, idle_sessions,
// rate_client) share: command-line options, the monotonic clock (the same CLOCK_MONOTONIC
// the Python driver reads, so times from every process compare), the descriptor limit,
// SMTP reply lines, a TLS client context that verifies nothing, and stopping on a signal.
// Header-only: every bench/*.cpp is its own program, linked with lib/ only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "event.h"
#include "hostport.h"
#include "tls.h"

namespace postern::bench {

// Nanoseconds on CLOCK_MONOTONIC (Python's time.monotonic_ns reads the same clock).
inline int64_t monotonicNs() {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Prints a message to stderr and exits 2: a benchmark tool misused is no state to go on in.
[[noreturn]] inline void die(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(2);
}

// "--name value" options and "--flag" switches; anything else is an error.
class Options {
  public:
    // Parses argv; names listed in `flags` take no value.
    Options(int argc, char** argv, std::initializer_list<std::string_view> flags) {
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            if (!arg.starts_with("--")) die("unexpected argument: " + std::string(arg));
            std::string name(arg.substr(2));
            bool isFlag = false;
            for (auto flag : flags) isFlag = isFlag || flag == name;
            if (isFlag) {
                values_[name] = "1";
            } else if (i + 1 < argc) {
                values_[name] = argv[++i];
            } else {
                die("--" + name + " needs a value");
            }
        }
    }
    // The value of --name, or fallback.
    std::string text(const std::string& name, const std::string& fallback = "") const {
        auto found = values_.find(name);
        return found == values_.end() ? fallback : found->second;
    }
    // The value of --name as a number, or fallback; dies on a malformed number.
    long long number(const std::string& name, long long fallback) const {
        auto found = values_.find(name);
        if (found == values_.end()) return fallback;
        char* end = nullptr;
        long long value = std::strtoll(found->second.c_str(), &end, 10);
        if (end == found->second.c_str() || *end != '\0') die("--" + name + " wants a number");
        return value;
    }
    // True when --name was given.
    bool has(const std::string& name) const { return values_.count(name) != 0; }

  private:
    std::map<std::string, std::string> values_;
};

// An IPv4 socket address from "host:port" (the benchmark talks to loopback addresses only).
inline sockaddr_in parseIpv4Address(const std::string& text) {
    auto parsed = parseHostPort(text, std::nullopt);
    if (!parsed) die(parsed.error());
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(parsed->port);
    if (inet_pton(AF_INET, parsed->host.c_str(), &address.sin_addr) != 1) {
        die("not an IPv4 address: " + parsed->host);
    }
    return address;
}

// Raises the soft descriptor limit to the hard one; returns the new soft limit.
inline rlim_t raiseDescriptorLimit() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur;
}

// Small SMTP lines go out at once: Nagle's algorithm with delayed ACKs would add 40 ms
// stalls that belong to the instrument, not to the MTA being measured.
inline void disableNagle(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Collects the lines of one SMTP reply ("250-..." continuation lines, then "250 ...").
class ReplyReader {
  public:
    // Takes one line (without CRLF); returns the reply code once the last line is in, and
    // -1 for a line that is not a reply line.
    std::optional<int> feed(std::string_view line) {
        text_ += line;
        text_ += '\n';
        if (line.size() < 3 || !isDigits(line.substr(0, 3))) return -1;
        if (line.size() > 3 && line[3] == '-') return std::nullopt;
        return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    }
    // Every line of the reply so far (a bad line included), each ended by '\n'.
    const std::string& text() const { return text_; }
    // Forgets the reply, for the next one.
    void clear() { text_.clear(); }

  private:
    static bool isDigits(std::string_view text) {
        for (char c : text) {
            if (c < '0' || c > '9') return false;
        }
        return true;
    }
    std::string text_;
};

// Reads one complete line from `input` (CRLF or LF), without its end; nullopt when no
// whole line is buffered yet.
inline std::optional<std::string> readLine(evbuffer* input) {
    size_t length = 0;
    char* line = evbuffer_readln(input, &length, EVBUFFER_EOL_CRLF);
    if (line == nullptr) return std::nullopt;
    std::string text(line, length);
    std::free(line);  // evbuffer_readln's buffer comes from malloc
    return text;
}

// Reads buffered lines into `reader` until a reply is complete (its code), a line is no
// reply line (-1; reader.text() shows it), or no whole line is left (nullopt).
inline std::optional<int> readReply(evbuffer* input, ReplyReader& reader) {
    while (auto line = readLine(input)) {
        if (auto code = reader.feed(*line)) return code;
    }
    return std::nullopt;
}

// A client context for the load tools: TLS 1.2+, no certificate checks (the benchmark
// measures the servers, not their certificates), no session cache, so each connection
// pays for a full handshake as real clients of an MTA do.
inline SslCtxPtr makeLoadClientContext() {
    auto context = tls::makeBaseContext(TLS_client_method());
    if (!context) die(context.error());
    SSL_CTX_set_verify(context->get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(context->get(), SSL_SESS_CACHE_OFF);
    return std::move(context.value());
}

// Events that break the loop of `base` on SIGINT and SIGTERM; keep them alive.
struct StopSignals {
    EventPtr interrupt;
    EventPtr terminate;
};

// Installs StopSignals on base; SIGPIPE is ignored (a peer that went away is an error value).
inline StopSignals stopOnSignals(event_base* base) {
    std::signal(SIGPIPE, SIG_IGN);
    auto stop = [](evutil_socket_t, short, void* arg) {
        event_base_loopbreak(static_cast<event_base*>(arg));
    };
    StopSignals events{EventPtr(evsignal_new(base, SIGINT, stop, base)),
                       EventPtr(evsignal_new(base, SIGTERM, stop, base))};
    evsignal_add(events.interrupt.get(), nullptr);
    evsignal_add(events.terminate.get(), nullptr);
    return events;
}

}  // namespace postern::bench
