// hostport.h: "host:port" addresses as the configuration writes them: listening addresses
// (smtpd.listen), DNS servers (dns_servers). IPv6 addresses go in brackets: "[::1]:25".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "result.h"

namespace postern {

// A host (name, IPv4 or IPv6 address, without brackets) and a port.
struct HostPort {
    std::string host;
    uint16_t port = 0;

    // "host:port", or "[ipv6]:port" when host is an IPv6 address.
    std::string toString() const;
    bool operator==(const HostPort&) const = default;
};

// Parses a decimal port 1..65535; the error message names the text.
Result<uint16_t> parsePortNumber(std::string_view text);

// True when text is a valid DNS host name: dot-separated labels of letters, digits, '-'
// and '_', at most 63 characters each and 253 in all; one trailing dot is allowed.
bool isValidHostName(std::string_view text);

// True when text is an IPv4 or an IPv6 address.
bool isIpAddress(std::string_view text);

// True when text is an IPv6 address.
bool isIpv6Address(std::string_view text);

// Parses "host:port", "[ipv6]:port", and, when defaultPort is given, "host", "[ipv6]" and
// a bare IPv6 address. The host must be an IP address or a valid host name.
Result<HostPort> parseHostPort(std::string_view text, std::optional<uint16_t> defaultPort);

}  // namespace postern
