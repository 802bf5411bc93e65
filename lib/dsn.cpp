// dsn.cpp: delivery status notifications (see dsn.h).
#include "dsn.h"

#include <time.h>

#include <algorithm>
#include <cctype>

#include "text_escape.h"
#include "xtext.h"

namespace postern::dsn {

namespace {

// Room for the field name and the "smtp; " prefix within RFC 5322's 998-byte line.
constexpr size_t kMaxFieldText = 900;
// RFC 2046 5.1.1: a boundary is at most 70 characters.
constexpr size_t kMaxBoundary = 70;

// Untrusted text made safe for one ASCII header line.
std::string asciiText(std::string_view text) {
    return printableTruncated(text, kMaxFieldText, EscapeCharset::ascii);
}

bool isAscii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return uint8_t(c) < 0x80; });
}

// RFC 3464 address-type ";" generic-address, in ASCII: a non-ASCII (SMTPUTF8) address is
// written as utf-8-addr-xtext (RFC 6533 section 3).
std::string typedAddress(std::string_view type, std::string_view address) {
    if (type == "utf-8" || !isAscii(address)) return "utf-8; " + encodeUtf8AddrXtext(address);
    return std::string(type) + "; " + asciiText(address);
}

// Original-Recipient from the queued ORCPT "type;address" (the address decoded).
std::string originalRecipient(std::string_view orcpt) {
    size_t semicolon = orcpt.find(';');
    if (semicolon == std::string_view::npos) return typedAddress("rfc822", orcpt);
    std::string type(orcpt.substr(0, semicolon));
    for (char& c : type) c = char(std::tolower(uint8_t(c)));
    if (type != "utf-8" && type != "rfc822") type = asciiText(type);
    return typedAddress(type, orcpt.substr(semicolon + 1));
}

// True for an RFC 3463 code: class 2, 4 or 5, then two numbers of 1 to 3 digits.
bool isStatusCode(std::string_view code) {
    if (code.size() < 5 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || code[1] != '.')
        return false;
    size_t dot = code.find('.', 2);
    if (dot == std::string_view::npos) return false;
    auto digits = [](std::string_view part) {
        return !part.empty() && part.size() <= 3 &&
               std::all_of(part.begin(), part.end(),
                           [](char c) { return std::isdigit(uint8_t(c)); });
    };
    return digits(code.substr(2, dot - 2)) && digits(code.substr(dot + 1));
}

std::string statusOf(const RecipientReport& recipient) {
    if (isStatusCode(recipient.status)) return recipient.status;
    switch (recipient.action) {
        case Action::Failed:
            return "5.0.0";
        case Action::Delayed:
            return "4.0.0";
        default:
            return "2.0.0";
    }
}

// A reply that starts with an SMTP code is an smtp diagnostic; anything else is ours.
std::string diagnosticCode(std::string_view text) {
    bool smtp = text.size() >= 3 && std::isdigit(uint8_t(text[0])) &&
                std::isdigit(uint8_t(text[1])) && std::isdigit(uint8_t(text[2])) &&
                (text.size() == 3 || text[3] == ' ' || text[3] == '-');
    return (smtp ? "smtp; " : "X-Postern; ") + asciiText(text);
}

// "N seconds", "N minutes", "N hours" or "N days", for the delay notice's text.
std::string describeDuration(int64_t seconds) {
    if (seconds < 120) return std::to_string(seconds) + " seconds";
    if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " minutes";
    if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " hours";
    return std::to_string(seconds / 86400) + " days";
}

bool isBoundaryChar(char c) {
    return std::isalnum(uint8_t(c)) ||
           std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

// A boundary made of the notice's ID, the time and the host, that the original does not
// contain (an attacker who guesses it could otherwise end our part early).
std::string chooseBoundary(const Report& report) {
    std::string base = report.dsnQueueId + "." + std::to_string(report.nowMicros / 1000000) + "/" +
                       report.reportingMta;
    for (char& c : base) {
        if (!isBoundaryChar(c)) c = '-';
    }
    base.resize(std::min(base.size(), kMaxBoundary - 8));
    std::string boundary = base;
    for (int attempt = 1; report.original.find("--" + boundary) != std::string::npos; ++attempt)
        boundary = base + "=" + std::to_string(attempt);
    return boundary;
}

const char* subjectOf(Kind kind) {
    switch (kind) {
        case Kind::Failure:
            return "Undelivered Mail Returned to Sender";
        case Kind::Delay:
            return "Delayed Mail (still being retried)";
        case Kind::Success:
            return "Successful Mail Delivery Report";
    }
    return "";
}

void appendLine(std::string& out, std::string_view line) {
    out += line;
    out += "\r\n";
}

void appendHeader(std::string& out, const Report& report, const std::string& boundary,
                  const char* transferEncoding) {
    std::string host = asciiText(report.reportingMta);
    EscapeCharset senderCharset = report.smtputf8 ? EscapeCharset::utf8 : EscapeCharset::ascii;
    appendLine(out, "Date: " + rfc5322Date(report.nowMicros));
    appendLine(out, "From: Mail Delivery System <MAILER-DAEMON@" + host + ">");
    appendLine(out, "To: " + printableTruncated(report.sender, kMaxFieldText, senderCharset));
    appendLine(out, std::string("Subject: ") + subjectOf(report.kind));
    appendLine(out, "Message-ID: <" + asciiText(report.dsnQueueId) + "@" + host + ">");
    appendLine(out, "Auto-Submitted: auto-replied");
    appendLine(out, "MIME-Version: 1.0");
    appendLine(out, "Content-Type: multipart/report; report-type=delivery-status;");
    appendLine(out, "\tboundary=\"" + boundary + "\"");
    if (std::string_view(transferEncoding) != "7bit")
        appendLine(out, std::string("Content-Transfer-Encoding: ") + transferEncoding);
    appendLine(out, "");
    appendLine(out, "This is a MIME-encapsulated message.");
    appendLine(out, "");
}

// The explanation before the list of recipients.
void appendIntroduction(std::string& out, const Report& report) {
    appendLine(out, "This is the mail system at host " + asciiText(report.reportingMta) + ".");
    appendLine(out, "");
    switch (report.kind) {
        case Kind::Failure:
            appendLine(out, "Your message could not be delivered to one or more of its");
            appendLine(out, "recipients. The reasons are listed below; the message, or its");
            appendLine(out, "header, is attached.");
            break;
        case Kind::Delay: {
            int64_t waited =
                std::max<int64_t>(0, (report.nowMicros - report.arrivalMicros) / 1000000);
            appendLine(out, "This is a warning only: you do not need to send your message again.");
            appendLine(out, "");
            appendLine(out, "Your message has not been delivered to the recipients below after");
            appendLine(out, describeDuration(waited) + ". The mail system keeps trying.");
            break;
        }
        case Kind::Success:
            appendLine(out, "Your message was handed over to the recipients' mail systems");
            appendLine(out, "listed below. They may not send any further notice about it.");
            break;
    }
    if (report.originalTruncated) {
        appendLine(out, "");
        appendLine(out, "The attached copy was cut to fit the size limit for returned mail.");
    }
    appendLine(out, "");
    appendLine(out, "If you need help, forward this report to your postmaster.");
    appendLine(out, "");
    appendLine(out, "                   The mail system");
    appendLine(out, "");
}

void appendTextPart(std::string& out, const Report& report) {
    appendLine(out, "Content-Description: Notification");
    appendLine(out, "Content-Type: text/plain; charset=us-ascii");
    appendLine(out, "");
    appendIntroduction(out, report);
    for (const RecipientReport& recipient : report.recipients) {
        std::string host = asciiText(recipient.remoteMta);
        std::string line = "<" + asciiText(recipient.address) + ">: ";
        if (report.kind == Kind::Success) {
            line += host.empty() ? "delivered: " : "handed over to host " + host + ": ";
        } else if (!host.empty()) {
            line += "host " + host + " said: ";
        }
        appendLine(out, line + asciiText(recipient.diagnostic));
    }
}

void appendRecipientFields(std::string& out, const RecipientReport& recipient) {
    appendLine(out, "Final-Recipient: " + typedAddress("rfc822", recipient.address));
    if (!recipient.orcpt.empty())
        appendLine(out, "Original-Recipient: " + originalRecipient(recipient.orcpt));
    appendLine(out, std::string("Action: ") + actionName(recipient.action));
    appendLine(out, "Status: " + statusOf(recipient));
    if (!recipient.remoteMta.empty())
        appendLine(out, "Remote-MTA: dns; " + asciiText(recipient.remoteMta));
    if (!recipient.diagnostic.empty())
        appendLine(out, "Diagnostic-Code: " + diagnosticCode(recipient.diagnostic));
    if (recipient.lastAttemptMicros > 0)
        appendLine(out, "Last-Attempt-Date: " + rfc5322Date(recipient.lastAttemptMicros));
    if (recipient.action == Action::Delayed && recipient.willRetryUntilMicros > 0)
        appendLine(out, "Will-Retry-Until: " + rfc5322Date(recipient.willRetryUntilMicros));
}

void appendStatusPart(std::string& out, const Report& report) {
    appendLine(out, "Content-Description: Delivery report");
    appendLine(out, "Content-Type: message/delivery-status");
    appendLine(out, "");
    if (!report.envid.empty()) appendLine(out, "Original-Envelope-Id: " + asciiText(report.envid));
    appendLine(out, "Reporting-MTA: dns; " + asciiText(report.reportingMta));
    appendLine(out, "X-Postern-Queue-ID: " + asciiText(report.queueId));
    std::string sender = report.sender.empty() ? "rfc822; " : typedAddress("rfc822", report.sender);
    appendLine(out, "X-Postern-Sender: " + sender);
    if (report.arrivalMicros > 0)
        appendLine(out, "Arrival-Date: " + rfc5322Date(report.arrivalMicros));
    for (const RecipientReport& recipient : report.recipients) {
        appendLine(out, "");
        appendRecipientFields(out, recipient);
    }
}

const char* returnedDescription(const Report& report) {
    switch (report.kind) {
        case Kind::Failure:
            return report.returnFull ? "Undelivered Message" : "Undelivered Message Headers";
        case Kind::Delay:
            return "Delayed Message Headers";
        case Kind::Success:
            return "Message Headers";
    }
    return "";
}

void appendOriginalPart(std::string& out, const Report& report, const char* transferEncoding) {
    appendLine(out, std::string("Content-Description: ") + returnedDescription(report));
    appendLine(out, report.returnFull ? "Content-Type: message/rfc822"
                                      : "Content-Type: text/rfc822-headers");
    if (std::string_view(transferEncoding) != "7bit")
        appendLine(out, std::string("Content-Transfer-Encoding: ") + transferEncoding);
    appendLine(out, "");
    out += report.original;
    if (!report.original.empty() && !report.original.ends_with("\r\n")) out += "\r\n";
}

}  // namespace

const char* actionName(Action action) {
    switch (action) {
        case Action::Failed:
            return "failed";
        case Action::Delayed:
            return "delayed";
        case Action::Delivered:
            return "delivered";
        case Action::Relayed:
            return "relayed";
        case Action::Expanded:
            return "expanded";
    }
    return "failed";
}

queue::BodyType bodyTypeOf(const Report& report) {
    if (report.originalBinary && report.returnFull) return queue::BodyType::BinaryMime;
    if (!isAscii(report.original) || (report.smtputf8 && !isAscii(report.sender)))
        return queue::BodyType::EightBitMime;
    return queue::BodyType::SevenBit;
}

Notice build(const Report& report) {
    Notice notice;
    notice.bodyType = bodyTypeOf(report);
    const char* transferEncoding = notice.bodyType == queue::BodyType::BinaryMime     ? "binary"
                                   : notice.bodyType == queue::BodyType::EightBitMime ? "8bit"
                                                                                      : "7bit";
    std::string boundary = chooseBoundary(report);
    std::string& out = notice.content;
    out.reserve(report.original.size() + 2048 + 512 * report.recipients.size());
    appendHeader(out, report, boundary, transferEncoding);
    appendLine(out, "--" + boundary);
    appendTextPart(out, report);
    appendLine(out, "");
    appendLine(out, "--" + boundary);
    appendStatusPart(out, report);
    appendLine(out, "");
    appendLine(out, "--" + boundary);
    appendOriginalPart(out, report, transferEncoding);
    appendLine(out, "");
    appendLine(out, "--" + boundary + "--");
    return notice;
}

size_t headerSectionLength(std::string_view content) {
    if (content.starts_with("\r\n")) return 0;
    size_t end = content.find("\r\n\r\n");
    return end == std::string_view::npos ? content.size() : end + 2;
}

Returned returnedPart(std::string_view content, bool full, size_t limit) {
    std::string_view wanted = full ? content : content.substr(0, headerSectionLength(content));
    Returned returned;
    if (wanted.size() > limit) {
        // Cut after the last complete line that fits.
        size_t lineEnd = wanted.substr(0, limit).rfind("\r\n");
        wanted = wanted.substr(0, lineEnd == std::string_view::npos ? 0 : lineEnd + 2);
        returned.truncated = true;
    }
    returned.bytes = std::string(wanted);
    return returned;
}

std::string rfc5322Date(int64_t micros) {
    time_t seconds = time_t(micros / 1000000);
    struct tm utc = {};
    gmtime_r(&seconds, &utc);
    static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char text[64];
    snprintf(text, sizeof text, "%s, %d %s %d %02d:%02d:%02d +0000", kDays[utc.tm_wday],
             utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
             utc.tm_sec);
    return text;
}

std::string relayHost(std::string_view relay) {
    if (relay == "none") return "";
    size_t bracket = relay.find('[');
    return std::string(relay.substr(0, bracket));
}

}  // namespace postern::dsn
