// smtp_text.h: small ASCII helpers shared by the SMTP protocol modules (command parser,
// reply reader, address parser): case-insensitive comparison and overflow-safe decimal
// numbers. Locale-independent on purpose: SMTP keywords are ASCII.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern {

// Returns c uppercased if it is an ASCII letter.
constexpr char asciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// Returns text with ASCII letters uppercased.
inline std::string asciiUppercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = asciiUpper(c);
    return out;
}

// True when a and b are equal ignoring the case of ASCII letters.
constexpr bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (asciiUpper(a[i]) != asciiUpper(b[i])) return false;
    return true;
}

// True when text starts with prefix, ignoring the case of ASCII letters.
constexpr bool startsWithIgnoringCase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && equalsIgnoringCase(text.substr(0, prefix.size()), prefix);
}

// Parses 1 or more ASCII digits as an unsigned 64-bit number; nothing when text is empty,
// holds anything but digits, or does not fit.
constexpr std::optional<uint64_t> parseDecimal(std::string_view text) {
    if (text.empty()) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

}  // namespace postern
