// utf8.h: UTF-8 well-formedness checks (RFC 3629) shared by the address parser, the
// SMTP command parser and the text escaper. Only structure is checked: overlong forms,
// surrogates and code points above U+10FFFF are refused; no Unicode tables are used.
#pragma once

#include <cstddef>
#include <string_view>

namespace postern {

// Length of the well-formed UTF-8 sequence starting at text[pos] (1 for ASCII), or 0 when
// the bytes there are not a well-formed sequence (truncated, overlong, surrogate, ...).
size_t utf8SequenceLength(std::string_view text, size_t pos);

// Code point of the well-formed sequence at text[pos]; only call when
// utf8SequenceLength(text, pos) != 0.
char32_t utf8CodePoint(std::string_view text, size_t pos);

// True when the whole text is well-formed UTF-8.
bool isValidUtf8(std::string_view text);

// True when the text has a byte outside US-ASCII (0x80 or above).
bool hasNonAscii(std::string_view text);

// Appends the UTF-8 encoding of code point cp (which must be a valid scalar value) to out.
void appendUtf8(std::string& out, char32_t cp);

}  // namespace postern
