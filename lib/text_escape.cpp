// text_escape.cpp: escaping of untrusted bytes for logs, replies and DSNs; see text_escape.h.
#include "text_escape.h"

#include "utf8.h"

namespace postern {

namespace {

// Code points above ASCII that still act as controls or line breaks in some readers.
bool isUnsafeCodePoint(char32_t cp) {
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

void appendHexEscape(std::string& out, unsigned char byte) {
    static constexpr char hex[] = "0123456789ABCDEF";
    out += "\\x";
    out += hex[byte >> 4];
    out += hex[byte & 0x0F];
}

// Appends the escaped form of one ASCII byte.
void appendAscii(std::string& out, unsigned char byte) {
    switch (byte) {
        case '\t': out += "\\t"; return;
        case '\r': out += "\\r"; return;
        case '\n': out += "\\n"; return;
        default: break;
    }
    if (byte < 0x20 || byte == 0x7F)
        appendHexEscape(out, byte);
    else
        out += static_cast<char>(byte);
}

// Escapes the character at bytes[pos] into out; returns how many input bytes it used.
size_t escapeOne(std::string_view bytes, size_t pos, EscapeCharset charset, std::string& out) {
    const auto byte = static_cast<unsigned char>(bytes[pos]);
    if (byte < 0x80) {
        appendAscii(out, byte);
        return 1;
    }
    const size_t length = charset == EscapeCharset::utf8 ? utf8SequenceLength(bytes, pos) : 0;
    if (length == 0) {
        appendHexEscape(out, byte);
        return 1;
    }
    if (isUnsafeCodePoint(utf8CodePoint(bytes, pos))) {
        for (size_t i = 0; i < length; ++i) appendHexEscape(out, static_cast<unsigned char>(bytes[pos + i]));
    } else {
        out.append(bytes.substr(pos, length));
    }
    return length;
}

}  // namespace

std::string printable(std::string_view bytes, EscapeCharset charset) {
    std::string out;
    out.reserve(bytes.size());
    for (size_t pos = 0; pos < bytes.size();) pos += escapeOne(bytes, pos, charset, out);
    return out;
}

std::string printableTruncated(std::string_view bytes, size_t maxLength, EscapeCharset charset) {
    static constexpr std::string_view ellipsis = "...";
    std::string whole = printable(bytes, charset);
    if (whole.size() <= maxLength) return whole;
    if (maxLength < ellipsis.size()) return std::string();
    std::string out;
    std::string piece;
    for (size_t pos = 0; pos < bytes.size();) {
        piece.clear();
        pos += escapeOne(bytes, pos, charset, piece);
        if (out.size() + piece.size() + ellipsis.size() > maxLength) break;
        out += piece;
    }
    return out + std::string(ellipsis);
}

bool isPrintable(std::string_view bytes, EscapeCharset charset) {
    return printable(bytes, charset) == bytes;
}

}  // namespace postern
