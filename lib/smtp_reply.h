// smtp_reply.h: SMTP replies (RFC 5321 section 4.2) with RFC 3463 enhanced status codes
// (RFC 2034). SmtpReply is the value both sides use: smtpd formats it for the wire, the
// smtp client gets it from ReplyReader, which cuts a server's byte stream into complete
// replies, bounded in line length, line count and size. parseEhloCapabilities() turns
// the reply to EHLO into the extensions the client may use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace postern {

struct SmtpReply {
    int code = 0;                    // 200..599
    std::string enhanced;            // "2.1.0", or "" when the reply has none
    std::vector<std::string> lines;  // text of each line, without code or enhanced code

    // The reply as sent on the wire: "250-2.0.0 first\r\n250 2.0.0 last\r\n". Line text
    // is escaped (text_escape.h, ASCII) so untrusted text cannot break the framing.
    std::string format() const;
    // One line for logs and DSNs: "550 5.1.1 first second", escaped.
    std::string printable() const;
    // The first digit of the code: 2 success, 3 intermediate, 4 transient, 5 permanent.
    int replyClass() const { return code / 100; }

    bool operator==(const SmtpReply&) const = default;
};

// Makes a one-line (or multi-line, split at '\n') reply.
SmtpReply makeReply(int code, std::string enhanced, std::string_view text);

// Returns s parsed as an RFC 3463 status code "c.sss.ddd" whose class c is 2, 4 or 5;
// nothing when it is not one.
std::optional<std::string> parseEnhancedCode(std::string_view s);

struct ReplyLimits {
    size_t maxLineLength = 2048;     // code included; longer lines are truncated (rest dropped)
    size_t maxLines = 100;           // more lines in one reply is a protocol error
    size_t maxReplySize = 64 * 1024; // more bytes in one reply is a protocol error
};

// Incremental reply reader for the SMTP client: feed() what the server sends, then call
// next() until it has nothing more. A protocol error is final: drop the connection.
class ReplyReader {
public:
    explicit ReplyReader(ReplyLimits limits = {}) : limits_(limits) {}

    // Appends bytes received from the server.
    void feed(std::string_view bytes);
    // The next complete reply; nothing when more bytes are needed; an error when the
    // server broke the protocol (bad code, mismatched codes, too many lines, too big).
    Result<std::optional<SmtpReply>> next();
    // Forgets every byte fed but not yet returned as a reply: after the 220 to STARTTLS,
    // whatever the server sent in plaintext must not be read as its TLS replies.
    void discardBuffered();
    // Number of bytes fed but not yet consumed by a returned reply.
    size_t buffered() const { return buffer_.size() - consumed_; }

private:
    Result<bool> takeLine(std::string_view line);
    SmtpReply finishReply();

    ReplyLimits limits_;
    std::string buffer_;
    size_t consumed_ = 0;         // bytes of buffer_ already turned into lines
    std::vector<std::string> pending_;  // raw lines of the reply being read
    size_t pendingSize_ = 0;
    std::optional<std::string> error_;
};

struct ServerCapabilities {
    std::string greeting;        // the text of the first line (server name and more)
    bool pipelining = false;
    bool size = false;           // SIZE advertised
    uint64_t sizeLimit = 0;      // SIZE n; 0 = no fixed limit announced
    bool eightBitMime = false;
    bool binaryMime = false;
    bool smtputf8 = false;
    bool dsn = false;
    bool starttls = false;
    bool chunking = false;
    bool enhancedStatusCodes = false;
};

// Reads the extensions from a 250 reply to EHLO (keywords are case-insensitive; unknown
// ones and AUTH are ignored).
ServerCapabilities parseEhloCapabilities(const SmtpReply& reply);

}  // namespace postern
