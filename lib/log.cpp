// log.cpp: Postfix-format logging to syslog, stderr or a shared append-only file.
// See log.h for the line format and the escaping rules.
#include "log.h"

#include <fcntl.h>
#include <limits.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <new>

#include "text_escape.h"
#include "unique_fd.h"

namespace postern::log {
namespace {

enum class Target { Stderr, File, Syslog };

// The state lives in static storage and holds no heap memory between calls: a test
// framework's leak checker must not see logging as a leak, and logging must keep working
// while static objects are destroyed at exit.
struct State {
    std::mutex mutex;
    Target target = Target::Stderr;
    char program[64] = "postern";
    char host[64] = "localhost";
    char path[PATH_MAX] = "";
    UniqueFd file;
    Sink sink;
    std::atomic<bool> verbose = false;
};

State& state() {
    alignas(State) static unsigned char storage[sizeof(State)];
    static State* instance = new (storage) State;  // never destroyed, never on the heap
    return *instance;
}

// Copies TEXT into a fixed buffer, cut to fit.
template <size_t N>
void copyInto(char (&buffer)[N], std::string_view text) {
    size_t n = std::min(text.size(), N - 1);
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
}

std::string_view shortHostName(char (&name)[256]) {
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    name[sizeof name - 1] = '\0';
    std::string_view host(name);
    return host.substr(0, host.find('.'));
}

Result<UniqueFd> openLogFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd) return fail("cannot open log file " + path + ": " + std::strerror(errno));
    return fd;
}

const char* prefixOf(Level level) {
    switch (level) {
        case Level::Debug:
        case Level::Info:
            return "";
        case Level::Warning:
            return "warning: ";
        case Level::Error:
            return "error: ";
        case Level::Fatal:
            return "fatal: ";
        case Level::Panic:
            return "panic: ";
    }
    return "";
}

int syslogPriority(Level level) {
    switch (level) {
        case Level::Debug:
            return LOG_DEBUG;
        case Level::Info:
            return LOG_INFO;
        case Level::Warning:
            return LOG_WARNING;
        case Level::Error:
            return LOG_ERR;
        case Level::Fatal:
        case Level::Panic:
            return LOG_CRIT;
    }
    return LOG_INFO;
}

void writeLine(State& s, Level level, const std::string& text) {
    if (s.target == Target::Syslog) {
        syslog(syslogPriority(level), "%s", text.c_str());
        return;
    }
    std::string line = formatLine(time(nullptr), s.host, s.program, getpid(), text);
    line += '\n';
    int fd = s.target == Target::File && s.file ? s.file.get() : STDERR_FILENO;
    // One write() per line, so processes sharing an O_APPEND file never interleave lines.
    while (::write(fd, line.data(), line.size()) < 0 && errno == EINTR) {
    }
}

}  // namespace

Status init(const std::string& service, const std::string& target) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    copyInto(s.program, service.empty() ? "postern" : "postern/" + service);
    char name[256] = {};
    copyInto(s.host, shortHostName(name));
    if (s.target == Target::Syslog) closelog();
    s.file.reset();
    s.path[0] = '\0';
    if (target == "syslog") {
        s.target = Target::Syslog;
        openlog(s.program, LOG_PID | LOG_NDELAY, LOG_MAIL);
    } else if (target == "-" || target.empty()) {
        s.target = Target::Stderr;
    } else {
        if (target.size() >= sizeof s.path) return fail("log file name too long: " + target);
        auto fd = openLogFile(target);
        if (!fd) {
            s.target = Target::Stderr;
            return fd.failure();
        }
        s.target = Target::File;
        copyInto(s.path, target);
        s.file = std::move(fd.value());
    }
    return {};
}

Status reopen() {
    State& s = state();
    std::lock_guard lock(s.mutex);
    if (s.target != Target::File) return {};
    auto fd = openLogFile(s.path);
    if (!fd) return fd.failure();  // keep writing to the old file rather than nowhere
    s.file = std::move(fd.value());
    return {};
}

std::string programName() {
    State& s = state();
    std::lock_guard lock(s.mutex);
    return s.program;
}

void setVerbose(bool on) {
    state().verbose = on;
}

std::string sanitize(std::string_view text) {
    return printableTruncated(text, kMaxTextBytes);
}

std::string formatLine(time_t when, const std::string& host, const std::string& program, long pid,
                       std::string_view text) {
    struct tm local = {};
    localtime_r(&when, &local);
    char stamp[32];
    size_t n = strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &local);
    std::string line(stamp, n);
    line += ' ';
    line += host.empty() ? "localhost" : host;
    line += ' ';
    line += program;
    line += '[' + std::to_string(pid) + "]: ";
    line += text;
    return line;
}

Sink setSink(Sink sink) {
    State& s = state();
    std::lock_guard lock(s.mutex);
    return std::exchange(s.sink, std::move(sink));
}

void vlog(Level level, const char* format, va_list args) {
    State& s = state();
    if (level == Level::Debug && !s.verbose) return;
    // Only the first kMaxTextBytes bytes can survive escaping, so format no more than that.
    char buffer[kMaxTextBytes + 1];
    int n = vsnprintf(buffer, sizeof buffer, format, args);
    size_t length = n < 0 ? 0 : std::min(static_cast<size_t>(n), kMaxTextBytes);
    std::string raw = prefixOf(level);
    raw += std::string_view(buffer, length);
    // Text cut by vsnprintf must come out marked: one byte more forces the cut.
    if (n > 0 && static_cast<size_t>(n) > kMaxTextBytes) raw += '.';
    std::string text = sanitize(raw);
    {
        std::lock_guard lock(s.mutex);
        if (s.sink) {
            s.sink(level, text);
        } else {
            writeLine(s, level, text);
        }
    }
}

#define POSTERN_LOG_AT(level)  \
    va_list args;              \
    va_start(args, format);    \
    vlog(level, format, args); \
    va_end(args)

void debug(const char* format, ...) {
    POSTERN_LOG_AT(Level::Debug);
}
void info(const char* format, ...) {
    POSTERN_LOG_AT(Level::Info);
}
void warning(const char* format, ...) {
    POSTERN_LOG_AT(Level::Warning);
}
void error(const char* format, ...) {
    POSTERN_LOG_AT(Level::Error);
}
void message(Level level, const char* format, ...) {
    POSTERN_LOG_AT(level);
}
void fatal(const char* format, ...) {
    POSTERN_LOG_AT(Level::Fatal);
    exit(1);
}
void panic(const char* format, ...) {
    POSTERN_LOG_AT(Level::Panic);
    abort();
}

Capture::Capture() {
    previous_ = setSink([this](Level, const std::string& text) { lines_.push_back(text); });
}

Capture::~Capture() {
    setSink(std::move(previous_));
}

bool Capture::contains(std::string_view needle) const {
    for (const auto& line : lines_) {
        if (line.find(needle) != std::string::npos) return true;
    }
    return false;
}

}  // namespace postern::log
