// sendmail_message.h: what sendmail does to a message before it submits it: reads it from
// a descriptor (any bytes, any line length; a lone "." line ends it unless -i), takes the
// recipients from To/Cc/Bcc with -t and removes Bcc, adds a From: header when there is
// none (with the -F full name), and completes bare local parts with @myorigin. Line ends
// are left as they come: the SMTP encoder makes every one CR LF on the wire.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace postern::cli {

// Reads the message from `fd` until end of file or, unless ignoreDots, a line that is
// only "." (which is not part of the message; nothing after it is read). Fails with
// kMessageTooBig once more than maxBytes were read (0: no limit).
Result<std::string> readMessage(int fd, bool ignoreDots, uint64_t maxBytes = 0);

// The error text of a message over the size limit.
inline constexpr const char* kMessageTooBig = "message too big";

// The addresses of an RFC 5322 address list (a To: value): angle addresses, bare
// addr-specs, groups ("team: a@x, b@y;"), with display names and comments dropped.
std::vector<std::string> parseAddressList(std::string_view value);

struct PrepareOptions {
    bool extractRecipients = false;  // -t
    std::string fromAddress;         // for an added From: ("" = the null sender)
    std::string fullName;            // for an added From:, may be empty
};

struct PreparedMessage {
    std::string content;                          // what is submitted
    std::vector<std::string> headerRecipients;    // with -t: To, Cc, Bcc, in order
};

// Applies -t and From: to a message as read.
PreparedMessage prepareMessage(std::string input, const PrepareOptions& options);

// `address` with "@" + myorigin appended when it has no domain ("root" → root@origin).
std::string qualifyAddress(const std::string& address, const std::string& myorigin);

// The From: header for an address and full name: `From: Full Name <a@b>` (quoted or RFC
// 2047-encoded as needed), `From: a@b` without a name. Ends in CR LF.
std::string formatFromHeader(const std::string& address, const std::string& fullName);

}  // namespace postern::cli
