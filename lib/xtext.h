// xtext.h: the "xtext" encoding of RFC 3461 section 4 (ENVID, ORCPT and AUTH values of
// ESMTP commands) and the "utf-8-addr-xtext" / "utf-8-addr-unitext" forms of RFC 6533
// section 3 (ORCPT=utf-8;...). Decoders are strict: anything the grammar does not allow
// is an error, never guessed at.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

namespace postern {

// Decodes RFC 3461 xtext: characters 33..126 except '+' and '=' stand for themselves, "+HH"
// (two uppercase hex digits) for any byte. Refuses lowercase hex, a short "+H", '=' and
// any character outside 33..126. The decoded bytes may be anything, including NUL.
Result<std::string> decodeXtext(std::string_view xtext);

// Encodes any bytes as RFC 3461 xtext (decodeXtext(encodeXtext(x)) == x).
std::string encodeXtext(std::string_view bytes);

// Decodes an RFC 6533 utf-8-addr-xtext (allowRawUtf8 = false) or utf-8-addr-unitext
// (allowRawUtf8 = true): printable ASCII except '+', '=', '\' stands for itself, "\x{HEX}"
// (2 to 6 uppercase hex digits, no needless leading zero) for a Unicode scalar value, and
// in unitext also raw well-formed UTF-8. Returns the address as UTF-8.
Result<std::string> decodeUtf8AddrXtext(std::string_view text, bool allowRawUtf8);

// Encodes a UTF-8 address as utf-8-addr-xtext (pure ASCII); invalid UTF-8 bytes are
// encoded as the code point of their Latin-1 value so that nothing is lost silently (a NUL
// is encoded too, but decodeUtf8AddrXtext refuses it: addresses never hold one).
std::string encodeUtf8AddrXtext(std::string_view utf8);

}  // namespace postern
