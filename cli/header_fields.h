// header_fields.h: recognizing RFC 5322 header lines in message content, for the commands
// that look into a message (sendmail -t, queue show): where the header section ends.
#pragma once

#include <string_view>

namespace postern::cli {

// The field name of a header line ("Subject" of "Subject: x"): printable ASCII without
// space up to the first colon. Empty when the line is not the start of a header field.
std::string_view headerFieldName(std::string_view line);

// True for a continuation line of a folded header field (it starts with a space or tab).
inline bool isHeaderContinuation(std::string_view line) {
    return !line.empty() && (line[0] == ' ' || line[0] == '\t');
}

}  // namespace postern::cli
