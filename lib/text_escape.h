// text_escape.h: makes untrusted bytes (from a client, a server, a queue file) safe to put
// into a log line, an SMTP reply or a DSN. Every byte that could end a line, drive a
// terminal or break a UTF-8 reader is written as an escape sequence instead:
//   TAB CR LF        -> \t \r \n
//   other C0, DEL    -> \xHH
//   C1 controls, U+2028, U+2029, invalid UTF-8 -> \xHH for each byte
//   (ascii mode) every byte >= 0x80 -> \xHH
// A backslash is kept as is, so escaping twice gives the same text as escaping once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace postern {

enum class EscapeCharset {
    utf8,   // well-formed printable UTF-8 passes (logs, SMTPUTF8 replies)
    ascii,  // only printable US-ASCII passes (plain SMTP replies, DSN text fields)
};

// Returns the bytes made printable as described above.
std::string printable(std::string_view bytes, EscapeCharset charset = EscapeCharset::utf8);

// Like printable(), but the result is at most maxLength bytes: when cut, it ends in "..."
// and never in the middle of an escape sequence or a UTF-8 character.
std::string printableTruncated(std::string_view bytes, size_t maxLength,
                               EscapeCharset charset = EscapeCharset::utf8);

// True when printable(bytes, charset) would return bytes unchanged.
bool isPrintable(std::string_view bytes, EscapeCharset charset = EscapeCharset::utf8);

}  // namespace postern
