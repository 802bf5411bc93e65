// message_headers.h: the header lines smtpd writes into a message (Received:, and for local
// submissions Message-ID: and Date: when missing), in Postfix's formats, and HeaderScanner,
// which watches the content stream go by and learns what smtpd needs from the header
// section: how many Received: lines (hopcount_limit), the Message-ID (for the log), whether
// Date: and Message-ID: are there, and where the header section ends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "queue_types.h"

namespace postern::smtpd {

// What the Received: line says about the message's arrival.
struct ReceivedInfo {
    std::string myhostname;
    std::string queueId;
    time_t when = 0;
    // Remote clients: "from HELO (HOST [IP])", the TLS line, "with PROTO".
    std::string heloName;  // empty when the client sent none
    std::string clientHost;
    std::string clientAddress;
    std::string protocol;   // "SMTP", "ESMTP", "ESMTPS", "UTF8SMTPS", ...
    std::string tls;        // "TLSv1.3 with cipher ... (256/256 bits)", empty without TLS
    std::string recipient;  // "for <rcpt>" when the message has exactly one recipient
    // Local submissions: "by HOST (postern, from userid N)".
    bool local = false;
    long uid = -1;
};

// The Received: header, CR LF line ends, folded like Postfix's, ending in CR LF.
std::string receivedHeader(const ReceivedInfo& info);

// An RFC 5322 date in local time: "Tue, 2 Jan 2024 10:00:00 +0100 (CET)".
std::string rfc5322Date(time_t when);

// "Date: <rfc5322Date>\r\n".
std::string dateHeader(time_t when);

// "<YYYYMMDDhhmmss.QUEUEID@myhostname>" (Postfix's form, UTC digits).
std::string newMessageId(time_t when, std::string_view queueId, std::string_view myhostname);

// "Message-ID: <newMessageId>\r\n".
std::string messageIdHeader(time_t when, std::string_view queueId, std::string_view myhostname);

// Where the header section ended in the content stream.
struct HeaderEnd {
    uint64_t offset = 0;          // stream offset of the first line after the header section
    bool blankSeparator = false;  // that line is the empty line (otherwise a body line, or
                                  // the end of the content)
};

// Reads the header section of a content stream (CR LF lines, un-dot-stuffed) fed in pieces
// of any size; ignores the body. Untrusted input: nothing here can fail or grow unbounded.
class HeaderScanner {
  public:
    // Reads the next piece. Returns the offset within `bytes` where the header section
    // ended, once, when that happens in this piece; nullopt otherwise.
    std::optional<size_t> feed(std::string_view bytes);
    // The content ended (a last line without CR LF counts as a line); returns the header
    // end when the header section ran to the end of the content.
    std::optional<HeaderEnd> finish();

    bool headerEnded() const { return ended_; }
    // Valid once the header section ended.
    const HeaderEnd& headerEnd() const { return end_; }
    int receivedCount() const { return receivedCount_; }
    bool sawDate() const { return sawDate_; }
    bool sawMessageId() const { return sawMessageId_; }
    // The first Message-ID: value, blanks around it removed (at most kMaxValue bytes).
    const std::string& messageId() const { return messageId_; }
    // Content bytes seen so far.
    uint64_t streamOffset() const { return offset_; }
    // True when the last byte seen ended a line (or nothing was seen).
    bool atLineStart() const { return line_.empty() && !lineTruncated_; }

    static constexpr size_t kMaxValue = 998;

  private:
    // Classifies the line now complete; returns true when it ends the header section.
    bool endOfLine();
    void endHeaderAt(uint64_t offset, bool blank);

    bool ended_ = false;
    HeaderEnd end_;
    uint64_t offset_ = 0;     // bytes fed so far
    uint64_t lineStart_ = 0;  // stream offset of the current line
    std::string line_;        // the current line, CR LF excluded, at most kMaxValue bytes
    bool lineTruncated_ = false;
    bool inMessageId_ = false;  // the current logical header is Message-ID:
    bool inField_ = false;      // a header field was seen (continuations belong to it)
    int receivedCount_ = 0;
    bool sawDate_ = false;
    bool sawMessageId_ = false;
    std::string messageId_;
};

// The ClientProtocol for the queue file: SMTP after HELO, ESMTP after EHLO, ESMTPS with TLS.
queue::ClientProtocol clientProtocol(bool ehlo, bool tls);

// The protocol word of the Received: line and the logs: SMTP, ESMTP, ESMTPS, and with
// SMTPUTF8 (RFC 6531) UTF8SMTP, UTF8SMTPS.
std::string protocolName(bool ehlo, bool tls, bool smtputf8);

}  // namespace postern::smtpd
