// message_headers.cpp: Received:, Date: and Message-ID: lines; the header section scanner.
#include "message_headers.h"

#include <cstdio>

#include "smtp_text.h"

namespace postern::smtpd {

namespace {

const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool isBlank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trimBlanks(std::string_view text) {
    while (!text.empty() && isBlank(text.front())) text.remove_prefix(1);
    while (!text.empty() && isBlank(text.back())) text.remove_suffix(1);
    return text;
}

// The length of the field name when `line` starts a header field ("Name:"), else 0.
// RFC 5322 field names are printable ASCII but the colon; Postfix also takes blanks before
// the colon ("Subject :"), so do we.
size_t fieldNameLength(std::string_view line) {
    size_t length = 0;
    while (length < line.size()) {
        unsigned char c = static_cast<unsigned char>(line[length]);
        if (c == ':' || c <= 32 || c >= 127) break;
        ++length;
    }
    if (length == 0) return 0;
    size_t colon = length;
    while (colon < line.size() && isBlank(line[colon])) ++colon;
    return colon < line.size() && line[colon] == ':' ? length : 0;
}

}  // namespace

std::string rfc5322Date(time_t when) {
    struct tm local = {};
    localtime_r(&when, &local);
    long offsetMinutes = local.tm_gmtoff / 60;
    char sign = offsetMinutes < 0 ? '-' : '+';
    if (offsetMinutes < 0) offsetMinutes = -offsetMinutes;
    char text[96];
    std::snprintf(text, sizeof text, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld (%s)",
                  kDays[local.tm_wday % 7], local.tm_mday, kMonths[local.tm_mon % 12],
                  local.tm_year + 1900, local.tm_hour, local.tm_min, local.tm_sec, sign,
                  offsetMinutes / 60, offsetMinutes % 60, local.tm_zone ? local.tm_zone : "UTC");
    return text;
}

std::string dateHeader(time_t when) {
    return "Date: " + rfc5322Date(when) + "\r\n";
}

std::string newMessageId(time_t when, std::string_view queueId, std::string_view myhostname) {
    struct tm utc = {};
    gmtime_r(&when, &utc);
    char stamp[32];
    std::snprintf(stamp, sizeof stamp, "%04d%02d%02d%02d%02d%02d", utc.tm_year + 1900,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    return "<" + std::string(stamp) + "." + std::string(queueId) + "@" + std::string(myhostname) +
           ">";
}

std::string messageIdHeader(time_t when, std::string_view queueId, std::string_view myhostname) {
    return "Message-ID: " + newMessageId(when, queueId, myhostname) + "\r\n";
}

std::string receivedHeader(const ReceivedInfo& info) {
    std::string header = "Received: ";
    if (info.local) {
        header += "by " + info.myhostname + " (postern, from userid " + std::to_string(info.uid) +
                  ")\r\n\tid " + info.queueId;
    } else {
        // An address literal as RFC 5321 4.1.3 writes it: [192.0.2.1], [IPv6:2001:db8::1].
        bool ipv6 = info.clientAddress.find(':') != std::string::npos;
        std::string literal = "[" + std::string(ipv6 ? "IPv6:" : "") + info.clientAddress + "]";
        header += "from ";
        if (!info.heloName.empty()) {
            header += info.heloName + " (" + info.clientHost + " " + literal + ")";
        } else {
            header += info.clientHost + " " + literal;
        }
        if (!info.tls.empty()) header += "\r\n\t(using " + info.tls + ")";
        header += "\r\n\tby " + info.myhostname + " (postern) with " + info.protocol + " id " +
                  info.queueId;
        if (!info.recipient.empty()) header += "\r\n\tfor <" + info.recipient + ">";
    }
    header += "; " + rfc5322Date(info.when) + "\r\n";
    return header;
}

queue::ClientProtocol clientProtocol(bool ehlo, bool tls) {
    if (tls) return queue::ClientProtocol::Esmtps;
    return ehlo ? queue::ClientProtocol::Esmtp : queue::ClientProtocol::Smtp;
}

std::string protocolName(bool ehlo, bool tls, bool smtputf8) {
    if (smtputf8) return tls ? "UTF8SMTPS" : "UTF8SMTP";
    if (tls) return "ESMTPS";
    return ehlo ? "ESMTP" : "SMTP";
}

std::optional<size_t> HeaderScanner::feed(std::string_view bytes) {
    if (ended_) {
        offset_ += bytes.size();
        return std::nullopt;
    }
    const uint64_t pieceStart = offset_;
    for (size_t i = 0; i < bytes.size(); ++i) {
        char c = bytes[i];
        ++offset_;
        if (c != '\n') {
            if (line_.size() < kMaxValue + 1) {
                line_.push_back(c);
            } else {
                lineTruncated_ = true;
            }
            continue;
        }
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        if (endOfLine()) {
            offset_ = pieceStart + bytes.size();
            return size_t(end_.offset - pieceStart);
        }
        lineStart_ = offset_;
    }
    return std::nullopt;
}

std::optional<HeaderEnd> HeaderScanner::finish() {
    if (ended_) return std::nullopt;
    if ((!line_.empty() || lineTruncated_) && endOfLine()) return end_;
    endHeaderAt(offset_, false);
    return end_;
}

void HeaderScanner::endHeaderAt(uint64_t offset, bool blank) {
    ended_ = true;
    end_ = {offset, blank};
    if (inMessageId_) messageId_ = std::string(trimBlanks(messageId_));
    line_.clear();
    line_.shrink_to_fit();
    inMessageId_ = false;
}

bool HeaderScanner::endOfLine() {
    std::string_view line = line_;
    if (line.empty() && !lineTruncated_) {
        endHeaderAt(lineStart_, true);
        return true;
    }
    if (inField_ && isBlank(line.front())) {
        if (inMessageId_) messageId_.append(line.substr(0, kMaxValue - messageId_.size()));
    } else if (size_t nameLength = fieldNameLength(line); nameLength > 0) {
        inField_ = true;
        std::string_view name = line.substr(0, nameLength);
        std::string_view value = line.substr(line.find(':') + 1);
        if (inMessageId_) messageId_ = std::string(trimBlanks(messageId_));
        inMessageId_ = false;
        if (equalsIgnoringCase(name, "Received")) ++receivedCount_;
        if (equalsIgnoringCase(name, "Date")) sawDate_ = true;
        if (equalsIgnoringCase(name, "Message-ID") && !sawMessageId_) {
            sawMessageId_ = true;
            inMessageId_ = true;
            messageId_ = std::string(value.substr(0, kMaxValue));
        }
    } else {
        // Not a header line: the body starts here, without the empty line.
        endHeaderAt(lineStart_, false);
        return true;
    }
    line_.clear();
    lineTruncated_ = false;
    return false;
}

}  // namespace postern::smtpd
