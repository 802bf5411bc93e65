// address.h: envelope addresses as they appear in MAIL FROM:<...> and RCPT TO:<...>
// (RFC 5321 section 4.1.2, with RFC 6531 SMTPUTF8). Parses a reverse-path or
// forward-path into local part and domain, refusing anything the grammar does not allow
// (controls, unbalanced quotes or brackets, bare spaces, non-ASCII without SMTPUTF8);
// source routes are accepted and dropped, as Postfix does. Also gives the canonical text
// form used in queue files, logs and the SMTP client's commands.
#pragma once

#include <string>
#include <string_view>

#include "result.h"

namespace postern {

// RFC 5321 section 4.5.3.1 limits, in octets.
inline constexpr size_t kMaxLocalPartLength = 64;
inline constexpr size_t kMaxDomainLength = 255;
inline constexpr size_t kMaxPathLength = 256;

struct Address {
    std::string local;   // the local part, unquoted ("john doe", not "\"john doe\"")
    std::string domain;  // a domain name (ASCII or UTF-8), "[192.0.2.1]", "[IPv6:...]", or ""

    // True for the null reverse-path <>.
    bool isNull() const { return local.empty() && domain.empty(); }
    // The address in canonical form, local part quoted only when needed; "" for <>.
    std::string toString() const;
    // The domain with ASCII letters lowercased, for route and policy lookups.
    std::string routingDomain() const;
    // True when the address can only be sent with SMTPUTF8 (non-ASCII anywhere in it).
    bool needsSmtpUtf8() const;

    bool operator==(const Address&) const = default;
};

enum class PathType {
    reverse,  // MAIL FROM: <> is allowed
    forward,  // RCPT TO: <postmaster> without a domain is allowed
};

struct AddressOptions {
    bool smtputf8 = false;        // the transaction declared SMTPUTF8: UTF-8 is allowed
    bool lenientLength = false;   // Postfix-like: no local-part (64) or path (256) limit
    bool requireBrackets = false; // refuse a path written without <...>
};

// Parses a path as written after "MAIL FROM:" or "RCPT TO:", angle brackets included
// (Postfix also takes a bare local@domain, unless options.requireBrackets).
Result<Address> parsePath(std::string_view text, PathType type, const AddressOptions& options);

// Parses a bare mailbox "local@domain" (no brackets, no source route).
Result<Address> parseMailbox(std::string_view text, const AddressOptions& options);

// Returns the local part as written on the wire: unchanged when it is a dot-atom,
// otherwise as a quoted string with '"' and '\' escaped.
std::string quoteLocalPart(std::string_view local);

// True when text needs SMTPUTF8 to be sent in a MAIL or RCPT command.
bool pathNeedsSmtpUtf8(std::string_view text);

}  // namespace postern
