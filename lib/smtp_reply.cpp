// smtp_reply.cpp: SMTP reply formatting, incremental reply reading and EHLO capability
// parsing; see smtp_reply.h.
#include "smtp_reply.h"

#include "smtp_text.h"
#include "text_escape.h"

namespace postern {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// True when digits is 1 to 3 ASCII digits.
bool isShortNumber(std::string_view digits) {
    if (digits.empty() || digits.size() > 3) return false;
    for (char c : digits)
        if (!isDigit(c)) return false;
    return true;
}

// RFC 5321 Reply-code: %x32-35 %x30-35 %x30-39.
bool isReplyCode(std::string_view line) {
    return line.size() >= 3 && line[0] >= '2' && line[0] <= '5' && line[1] >= '0' && line[1] <= '5' &&
           isDigit(line[2]);
}

// Removes a leading "enhanced " (or a text that is only the enhanced code) from text.
std::string stripEnhanced(std::string_view text, std::string_view enhanced) {
    if (enhanced.empty() || text.substr(0, enhanced.size()) != enhanced) return std::string(text);
    if (text.size() == enhanced.size()) return std::string();
    if (text[enhanced.size()] != ' ') return std::string(text);
    return std::string(text.substr(enhanced.size() + 1));
}

}  // namespace

std::string SmtpReply::format() const {
    const std::string prefix = std::to_string(code);
    const std::string lead = enhanced.empty() ? std::string() : enhanced;
    std::string out;
    const size_t count = lines.empty() ? 1 : lines.size();
    for (size_t i = 0; i < count; ++i) {
        const std::string text = lines.empty() ? std::string() : postern::printable(lines[i], EscapeCharset::ascii);
        const bool last = i + 1 == count;
        out += prefix;
        if (!last || !lead.empty() || !text.empty()) out += last ? ' ' : '-';  // "250", not "250 "
        out += lead;
        if (!lead.empty() && !text.empty()) out += ' ';
        out += text;
        out += "\r\n";
    }
    return out;
}

std::string SmtpReply::printable() const {
    std::string text = std::to_string(code);
    if (!enhanced.empty()) text += " " + enhanced;
    for (const auto& line : lines)
        if (!line.empty()) text += " " + line;
    return postern::printable(text);
}

SmtpReply makeReply(int code, std::string enhanced, std::string_view text) {
    SmtpReply reply{code, std::move(enhanced), {}};
    for (size_t start = 0;;) {
        const size_t newline = text.find('\n', start);
        reply.lines.emplace_back(text.substr(start, newline == std::string_view::npos ? newline : newline - start));
        if (newline == std::string_view::npos) break;
        start = newline + 1;
    }
    return reply;
}

std::optional<std::string> parseEnhancedCode(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return std::nullopt;
    const size_t dot = s.find('.', 2);
    if (dot == std::string_view::npos) return std::nullopt;
    if (!isShortNumber(s.substr(2, dot - 2)) || !isShortNumber(s.substr(dot + 1))) return std::nullopt;
    return std::string(s);
}

void ReplyReader::feed(std::string_view bytes) {
    if (error_) return;
    if (consumed_ > 4096 && consumed_ * 2 > buffer_.size()) {
        buffer_.erase(0, consumed_);
        consumed_ = 0;
    }
    buffer_.append(bytes);
}

void ReplyReader::discardBuffered() {
    buffer_.clear();
    consumed_ = 0;
    pending_.clear();
    pendingSize_ = 0;
}

Result<std::optional<SmtpReply>> ReplyReader::next() {
    while (!error_) {
        const size_t newline = buffer_.find('\n', consumed_);
        const size_t available = (newline == std::string::npos ? buffer_.size() : newline + 1) - consumed_;
        if (pendingSize_ + available > limits_.maxReplySize) {
            error_ = "reply longer than " + std::to_string(limits_.maxReplySize) + " bytes";
            break;
        }
        if (newline == std::string::npos) return std::optional<SmtpReply>();
        std::string_view line(buffer_.data() + consumed_, newline - consumed_);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        consumed_ = newline + 1;
        pendingSize_ += available;
        auto last = takeLine(line);
        if (!last) {
            error_ = last.error();
            break;
        }
        if (*last) return std::optional<SmtpReply>(finishReply());
    }
    return fail(*error_);
}

// Checks one line (CR LF removed) and adds it to the reply being read; returns true when
// it was the reply's last line.
Result<bool> ReplyReader::takeLine(std::string_view line) {
    if (!isReplyCode(line)) return fail("malformed reply line: " + printableTruncated(line, 100));
    if (line.size() > 3 && line[3] != '-' && line[3] != ' ')
        return fail("malformed reply line: " + printableTruncated(line, 100));
    if (!pending_.empty() && pending_.front().compare(0, 3, line.substr(0, 3)) != 0)
        return fail("reply code changed within a reply: " + printableTruncated(line, 100));
    if (pending_.size() == limits_.maxLines)
        return fail("reply with more than " + std::to_string(limits_.maxLines) + " lines");
    pending_.emplace_back(line.substr(0, limits_.maxLineLength));
    return line.size() == 3 || line[3] == ' ';
}

SmtpReply ReplyReader::finishReply() {
    SmtpReply reply;
    reply.code = std::stoi(pending_.front().substr(0, 3));
    const std::string_view firstText = pending_.front().size() > 4 ? std::string_view(pending_.front()).substr(4) : "";
    const auto enhanced = parseEnhancedCode(firstText.substr(0, firstText.find(' ')));
    if (enhanced && (*enhanced)[0] == pending_.front()[0]) reply.enhanced = *enhanced;
    for (const auto& raw : pending_)
        reply.lines.push_back(stripEnhanced(raw.size() > 4 ? std::string_view(raw).substr(4) : "", reply.enhanced));
    pending_.clear();
    pendingSize_ = 0;
    return reply;
}

ServerCapabilities parseEhloCapabilities(const SmtpReply& reply) {
    ServerCapabilities caps;
    if (reply.lines.empty()) return caps;
    caps.greeting = reply.lines.front();
    for (size_t i = 1; i < reply.lines.size(); ++i) {
        const std::string_view line = reply.lines[i];
        const size_t space = line.find(' ');
        const std::string keyword = asciiUppercase(line.substr(0, space));
        const std::string_view argument = space == std::string_view::npos ? "" : line.substr(space + 1);
        if (keyword == "PIPELINING") caps.pipelining = true;
        else if (keyword == "8BITMIME") caps.eightBitMime = true;
        else if (keyword == "BINARYMIME") caps.binaryMime = true;
        else if (keyword == "SMTPUTF8") caps.smtputf8 = true;
        else if (keyword == "DSN") caps.dsn = true;
        else if (keyword == "STARTTLS") caps.starttls = true;
        else if (keyword == "CHUNKING") caps.chunking = true;
        else if (keyword == "ENHANCEDSTATUSCODES") caps.enhancedStatusCodes = true;
        else if (keyword == "SIZE") {
            caps.size = true;
            caps.sizeLimit = parseDecimal(argument).value_or(0);  // unreadable: no fixed limit
        }
    }
    return caps;
}

}  // namespace postern
