// cidr.cpp: parsing CIDR networks and matching addresses against them (see cidr.h).
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace postern {

namespace {

using Bytes = std::array<uint8_t, 16>;

// The first 12 bytes of an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Parses a textual IPv4 or IPv6 address; returns its family, or 0 when it is neither.
int parseAddress(std::string_view text, Bytes& out) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return 0;
    std::string zeroTerminated(text);
    out.fill(0);
    if (inet_pton(AF_INET, zeroTerminated.c_str(), out.data()) == 1) return AF_INET;
    if (inet_pton(AF_INET6, zeroTerminated.c_str(), out.data()) == 1) return AF_INET6;
    return 0;
}

bool isMapped(const Bytes& v6) {
    return std::memcmp(v6.data(), kMappedPrefix, 12) == 0;
}

// True when the first `prefix` bits of a and b are equal.
bool samePrefix(const uint8_t* a, const uint8_t* b, int prefix) {
    int wholeBytes = prefix / 8;
    if (std::memcmp(a, b, wholeBytes) != 0) return false;
    int restBits = prefix % 8;
    if (restBits == 0) return true;
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - restBits));
    return (a[wholeBytes] & mask) == (b[wholeBytes] & mask);
}

// Clears every bit after the first `prefix` bits of an address `length` bytes long.
Bytes withHostBitsCleared(Bytes bytes, int length, int prefix) {
    for (int bit = prefix; bit < length * 8; ++bit) {
        bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    }
    return bytes;
}

}  // namespace

Result<CidrNetwork> CidrNetwork::parse(std::string_view text) {
    auto quoted = "\"" + std::string(text) + "\"";
    std::string_view addressText = text;
    std::string_view prefixText;
    bool hasPrefix = false;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
        addressText = text.substr(0, slash);
        prefixText = text.substr(slash + 1);
        hasPrefix = true;
    }
    CidrNetwork network;
    network.family_ = parseAddress(addressText, network.bytes_);
    if (network.family_ == 0) return fail(quoted + " is not a valid CIDR network");
    int maxPrefix = network.family_ == AF_INET ? 32 : 128;
    network.prefix_ = maxPrefix;
    if (hasPrefix) {
        int prefix = -1;
        auto [end, error] =
            std::from_chars(prefixText.data(), prefixText.data() + prefixText.size(), prefix);
        if (prefixText.empty() || error != std::errc() ||
            end != prefixText.data() + prefixText.size() || prefix < 0 || prefix > maxPrefix) {
            return fail(quoted + " is not a valid CIDR network");
        }
        network.prefix_ = prefix;
    }
    CidrNetwork masked = network;
    masked.bytes_ = withHostBitsCleared(network.bytes_, maxPrefix / 8, network.prefix_);
    if (masked.bytes_ != network.bytes_) {
        return fail(quoted + " has host bits set; did you mean \"" + masked.toString() + "\"?");
    }
    return network;
}

bool CidrNetwork::containsBytes(int family, const Bytes& address) const {
    if (family == family_) return samePrefix(address.data(), bytes_.data(), prefix_);
    // An IPv4-mapped IPv6 client is the IPv4 client it carries, and the other way round.
    if (family == AF_INET6 && family_ == AF_INET && isMapped(address)) {
        return samePrefix(address.data() + 12, bytes_.data(), prefix_);
    }
    if (family == AF_INET && family_ == AF_INET6) {
        Bytes mapped{};
        std::memcpy(mapped.data(), kMappedPrefix, 12);
        std::memcpy(mapped.data() + 12, address.data(), 4);
        return samePrefix(mapped.data(), bytes_.data(), prefix_);
    }
    return false;
}

bool CidrNetwork::contains(const sockaddr* address) const {
    if (address == nullptr) return false;
    Bytes bytes{};
    if (address->sa_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
        std::memcpy(bytes.data(), &v4->sin_addr, 4);
        return containsBytes(AF_INET, bytes);
    }
    if (address->sa_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
        std::memcpy(bytes.data(), &v6->sin6_addr, 16);
        return containsBytes(AF_INET6, bytes);
    }
    return false;
}

bool CidrNetwork::contains(std::string_view address) const {
    Bytes bytes{};
    int family = parseAddress(address, bytes);
    return family != 0 && containsBytes(family, bytes);
}

std::string CidrNetwork::toString() const {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(family_, bytes_.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(prefix_);
}

bool anyNetworkContains(const std::vector<CidrNetwork>& networks, const sockaddr* address) {
    for (const auto& network : networks) {
        if (network.contains(address)) return true;
    }
    return false;
}

bool anyNetworkContains(const std::vector<CidrNetwork>& networks, std::string_view address) {
    for (const auto& network : networks) {
        if (network.contains(address)) return true;
    }
    return false;
}

}  // namespace postern
