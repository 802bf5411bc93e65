// xtext.cpp: RFC 3461 xtext and RFC 6533 utf-8-addr-xtext; see xtext.h.
#include "xtext.h"

#include "text_escape.h"
#include "utf8.h"

namespace postern {

namespace {

constexpr char upperHex[] = "0123456789ABCDEF";

// Value of an uppercase hex digit, or -1.
int upperHexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 3461 xchar: 33..126 except '+' and '='.
bool isXchar(unsigned char c) { return c >= 33 && c <= 126 && c != '+' && c != '='; }

// RFC 6533 QCHAR: 33..126 except '+', '=' and '\'.
bool isQchar(unsigned char c) { return isXchar(c) && c != '\\'; }

void appendPlusHex(std::string& out, unsigned char byte) {
    out += '+';
    out += upperHex[byte >> 4];
    out += upperHex[byte & 0x0F];
}

// Parses "\x{HEX}" at text[pos]; on success stores the code point and returns the length
// of the escape, else returns 0.
size_t parseEmbeddedUnicode(std::string_view text, size_t pos, char32_t& cp) {
    if (text.substr(pos, 3) != "\\x{") return 0;
    const size_t close = text.find('}', pos + 3);
    if (close == std::string_view::npos) return 0;
    const std::string_view digits = text.substr(pos + 3, close - pos - 3);
    if (digits.size() < 2 || digits.size() > 6) return 0;
    if (digits.size() > 2 && digits[0] == '0') return 0;  // needless leading zero
    char32_t value = 0;
    for (char c : digits) {
        const int digit = upperHexValue(c);
        if (digit < 0) return 0;
        value = value * 16 + static_cast<char32_t>(digit);
    }
    if (value == 0 || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
    cp = value;
    return close + 1 - pos;
}

void appendEmbeddedUnicode(std::string& out, char32_t cp) {
    std::string digits;
    for (; cp != 0; cp >>= 4) digits.insert(digits.begin(), upperHex[cp & 0x0F]);
    while (digits.size() < 2) digits.insert(digits.begin(), '0');
    out += "\\x{" + digits + "}";
}

}  // namespace

Result<std::string> decodeXtext(std::string_view xtext) {
    std::string out;
    out.reserve(xtext.size());
    for (size_t pos = 0; pos < xtext.size(); ++pos) {
        const auto c = static_cast<unsigned char>(xtext[pos]);
        if (c == '+') {
            const int high = pos + 1 < xtext.size() ? upperHexValue(xtext[pos + 1]) : -1;
            const int low = pos + 2 < xtext.size() ? upperHexValue(xtext[pos + 2]) : -1;
            if (high < 0 || low < 0)
                return fail("bad xtext escape at offset " + std::to_string(pos) +
                            " (need + and two uppercase hex digits)");
            out += static_cast<char>(high * 16 + low);
            pos += 2;
        } else if (isXchar(c)) {
            out += static_cast<char>(c);
        } else {
            return fail("character not allowed in xtext: '" +
                        printable(xtext.substr(pos, 1), EscapeCharset::ascii) + "'");
        }
    }
    return out;
}

std::string encodeXtext(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        if (isXchar(c))
            out += ch;
        else
            appendPlusHex(out, c);
    }
    return out;
}

Result<std::string> decodeUtf8AddrXtext(std::string_view text, bool allowRawUtf8) {
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
        const auto c = static_cast<unsigned char>(text[pos]);
        char32_t cp = 0;
        if (isQchar(c)) {
            out += static_cast<char>(c);
            ++pos;
        } else if (const size_t used = c == '\\' ? parseEmbeddedUnicode(text, pos, cp) : 0) {
            appendUtf8(out, cp);
            pos += used;
        } else if (const size_t length = allowRawUtf8 && c >= 0x80 ? utf8SequenceLength(text, pos) : 0) {
            out.append(text.substr(pos, length));
            pos += length;
        } else {
            return fail("character not allowed in utf-8-addr-xtext at offset " + std::to_string(pos));
        }
    }
    return out;
}

std::string encodeUtf8AddrXtext(std::string_view utf8) {
    std::string out;
    for (size_t pos = 0; pos < utf8.size();) {
        const auto c = static_cast<unsigned char>(utf8[pos]);
        const size_t length = utf8SequenceLength(utf8, pos);
        if (isQchar(c)) {
            out += static_cast<char>(c);
            ++pos;
        } else if (length == 0) {
            appendEmbeddedUnicode(out, c);  // a stray byte, kept as its Latin-1 code point
            ++pos;
        } else {
            appendEmbeddedUnicode(out, utf8CodePoint(utf8, pos));
            pos += length;
        }
    }
    return out;
}

}  // namespace postern
