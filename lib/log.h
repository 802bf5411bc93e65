// log.h: Postfix-format logging for every postern program.
// Lines read `Mon DD HH:MM:SS host postern/SERVICE[pid]: text` in a file or on stderr, and
// go to syslog (LOG_MAIL, ident postern/SERVICE, LOG_PID) when the target is "syslog".
// Warnings, errors and fatal errors carry Postfix's "warning: ", "error: ", "fatal: " prefix.
//
// Untrusted bytes cannot forge a line: after formatting, the text goes through
// printableTruncated() (text_escape.h, UTF-8 mode): CR, LF, TAB become \r \n \t; every
// other control character (C0, DEL, C1), U+2028/U+2029 and invalid UTF-8 become \xHH per
// byte; valid UTF-8 is kept. A line's text is capped at kMaxTextBytes and then ends with
// kTruncatedMarker.
//
// Single process-wide state; safe to call from several threads (one mutex).
#pragma once

#include <cstdarg>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace postern::log {

enum class Level { Debug, Info, Warning, Error, Fatal, Panic };

// The longest text kept from one message (after escaping), in bytes.
constexpr size_t kMaxTextBytes = 4096;
// The end of a text that was cut to kMaxTextBytes (printableTruncated()'s mark).
constexpr std::string_view kTruncatedMarker = "...";

// Sets the program name to postern/SERVICE and opens TARGET: "syslog", "-" (stderr) or a
// file path (created 0640, appended to). Before init, lines go to stderr as "postern".
Status init(const std::string& service, const std::string& target);
// Re-opens the log file (after rotation); a no-op for syslog and stderr.
Status reopen();
// The program name in use: "postern/smtpd" (or "postern" before init).
std::string programName();
// Turns debug() lines on or off (off by default; daemons turn it on with -v).
void setVerbose(bool on);

// Logs at that level; printf-style. fatal() exits with status 1, panic() aborts: use panic
// only for an inconsistency in the program's own state, never for bad input.
void debug(const char* format, ...) __attribute__((format(printf, 1, 2)));
void info(const char* format, ...) __attribute__((format(printf, 1, 2)));
void warning(const char* format, ...) __attribute__((format(printf, 1, 2)));
void error(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic(const char* format, ...) __attribute__((format(printf, 1, 2)));
// Logs at LEVEL and returns, whatever the level: for a "fatal: " line from code that
// exits by itself (runDaemon returns its exit status instead of calling exit()).
void message(Level level, const char* format, ...) __attribute__((format(printf, 2, 3)));
// The va_list form of message().
void vlog(Level level, const char* format, va_list args) __attribute__((format(printf, 2, 0)));

// Escapes control characters as described above and caps the result at kMaxTextBytes.
std::string sanitize(std::string_view text);
// Builds one line for a file or stderr, without the trailing newline.
std::string formatLine(time_t when, const std::string& host, const std::string& program, long pid,
                       std::string_view text);

// Receives each message's final text ("warning: ..." included, already sanitized) instead
// of the configured target; an empty function restores the target. Returns the sink it
// replaces.
using Sink = std::function<void(Level, const std::string& text)>;
Sink setSink(Sink sink);

// For tests: captures every line logged while it lives, then restores the previous output.
class Capture {
  public:
    Capture();
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // The texts captured so far, in order.
    const std::vector<std::string>& lines() const { return lines_; }
    // True when some captured text contains NEEDLE.
    bool contains(std::string_view needle) const;

  private:
    std::vector<std::string> lines_;
    Sink previous_;
};

}  // namespace postern::log
