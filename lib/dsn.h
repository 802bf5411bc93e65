// dsn.h: builds delivery status notifications (RFC 3464 multipart/report; RFC 3461 DSN
// semantics): the failure ("bounce"), delay and success notices qmgr sends from the null
// sender to the envelope sender of a message. Three parts: a text/plain explanation, the
// message/delivery-status report (per-message and per-recipient fields), and the returned
// original (message/rfc822 for RET=FULL, text/rfc822-headers otherwise).
//
// Every string that came from outside (addresses, ENVID, ORCPT, remote replies, host names)
// goes through text_escape's printable() before it reaches a header line, so nothing a
// remote server or client sent can add a line or a MIME part. Building is pure: the caller
// supplies the times, the IDs and the original's bytes, so the output is reproducible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue_types.h"

namespace postern::dsn {

// RFC 3464 2.3.3 action values.
enum class Action { Failed, Delayed, Delivered, Relayed, Expanded };
// "failed", "delayed", "delivered", "relayed", "expanded".
const char* actionName(Action action);

// Which notice: picks the subject, the explanation and the returned part's label.
enum class Kind { Failure, Delay, Success };

struct RecipientReport {
    std::string address;  // the recipient as queued (Final-Recipient)
    std::string orcpt;    // as queued: "rfc822;user@example" or empty (Original-Recipient)
    Action action = Action::Failed;
    std::string status;             // enhanced status code ("5.1.1"); empty: the action's default
    std::string remoteMta;          // host name of the server that answered; empty: none
    std::string diagnostic;         // the server's reply ("550 5.1.1 no such user") or local reason
    int64_t lastAttemptMicros = 0;  // 0: omit Last-Attempt-Date
    int64_t willRetryUntilMicros = 0;  // 0: omit Will-Retry-Until (delayed only)
};

struct Report {
    Kind kind = Kind::Failure;
    std::string reportingMta;  // myhostname: Reporting-MTA, From: MAILER-DAEMON@...
    std::string dsnQueueId;    // the notice's own queue ID: Message-ID and the boundary
    std::string queueId;       // the original message's queue ID (X-Postern-Queue-ID)
    std::string sender;        // the original envelope sender: To: and X-Postern-Sender
    std::string envid;         // ENVID of the original (Original-Envelope-Id); may be empty
    bool smtputf8 = false;     // the original was SMTPUTF8 (UTF-8 addresses allowed in To:)
    int64_t arrivalMicros = 0;
    int64_t nowMicros = 0;  // Date: of the notice
    std::vector<RecipientReport> recipients;
    std::string original;            // the returned bytes: the header section or the message
    bool returnFull = false;         // original is the whole message (message/rfc822)
    bool originalTruncated = false;  // original was cut to bounce_size_limit
    bool originalBinary = false;     // original came with BODY=BINARYMIME
};

// A built notice: its content (CRLF lines) and the BODY= it must be sent with.
struct Notice {
    std::string content;
    queue::BodyType bodyType = queue::BodyType::SevenBit;
};

// Builds the whole notice (header and body).
Notice build(const Report& report);
// The BODY= build() will choose for this report (known before the notice is written).
queue::BodyType bodyTypeOf(const Report& report);

// The returned part for a message content: its header section (RET=HDRS, delay and
// success notices) or the whole message (RET=FULL), cut at a line end to at most `limit`
// bytes. `truncated` says whether anything was cut.
struct Returned {
    std::string bytes;
    bool truncated = false;
};
Returned returnedPart(std::string_view content, bool full, size_t limit);

// Where the header section of a message ends: the offset just after the CRLF of its last
// header line (the empty line, if any, is not included); the whole content when it has no
// empty line.
size_t headerSectionLength(std::string_view content);

// An RFC 5322 date in UTC: "Tue, 14 Nov 2023 22:13:20 +0000".
std::string rfc5322Date(int64_t micros);

// The host of a relay as the worker reports it ("mx.example.com[192.0.2.1]:25" gives
// "mx.example.com"); empty for "none" or an empty text.
std::string relayHost(std::string_view relay);

}  // namespace postern::dsn
