// cidr.h: IPv4 and IPv6 networks in CIDR notation ("10.0.0.0/8", "::1/128", a bare address
// is a /32 or /128), and matching a client address against them. An IPv4-mapped IPv6
// client (::ffff:127.0.0.1) matches IPv4 networks, so a dual-stack listener needs no
// special case. smtpd uses it for mynetworks.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "result.h"

namespace postern {

class CidrNetwork {
  public:
    // Parses "addr/prefix" or a bare address; host bits set beyond the prefix are an error
    // ("10.1.2.3/8"), because they usually hide a typing mistake.
    static Result<CidrNetwork> parse(std::string_view text);

    // True when the address (AF_INET or AF_INET6 sockaddr) lies inside this network.
    bool contains(const sockaddr* address) const;
    // True when the textual address ("192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1") lies
    // inside this network; text that is not an address matches nothing.
    bool contains(std::string_view address) const;

    // The canonical form: "10.0.0.0/8", "::1/128".
    std::string toString() const;

    int family() const { return family_; }
    int prefixLength() const { return prefix_; }

    bool operator==(const CidrNetwork&) const = default;

  private:
    // Address bytes in network order; IPv4 uses the first 4.
    using Bytes = std::array<uint8_t, 16>;
    bool containsBytes(int family, const Bytes& address) const;

    int family_ = AF_INET;
    int prefix_ = 0;
    Bytes bytes_{};
};

// True when any network in the list contains the address.
bool anyNetworkContains(const std::vector<CidrNetwork>& networks, const sockaddr* address);
// True when any network in the list contains the textual address.
bool anyNetworkContains(const std::vector<CidrNetwork>& networks, std::string_view address);

}  // namespace postern
