// hostport.cpp: parsing and printing "host:port" addresses (see hostport.h).
#include "hostport.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace postern {

namespace {

bool isAddressOf(int family, std::string_view text) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    unsigned char buffer[16];
    std::string zeroTerminated(text);
    return inet_pton(family, zeroTerminated.c_str(), buffer) == 1;
}

// Checks the host part of a host:port: an address, or a name when names are allowed.
Status checkHost(std::string_view host, std::string_view text) {
    if (host.empty()) return fail("\"" + std::string(text) + "\": empty host");
    if (isIpAddress(host) || isValidHostName(host)) return {};
    return fail("\"" + std::string(text) + "\": \"" + std::string(host) +
                "\" is not a host name or an IP address");
}

}  // namespace

bool isIpAddress(std::string_view text) {
    return isAddressOf(AF_INET, text) || isAddressOf(AF_INET6, text);
}

bool isIpv6Address(std::string_view text) {
    return isAddressOf(AF_INET6, text);
}

bool isValidHostName(std::string_view text) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    if (text.empty() || text.size() > 253) return false;
    size_t labelStart = 0;
    while (labelStart <= text.size()) {
        size_t labelEnd = std::min(text.find('.', labelStart), text.size());
        std::string_view label = text.substr(labelStart, labelEnd - labelStart);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
            return false;
        }
        for (unsigned char c : label) {
            if (!std::isalnum(c) && c != '-' && c != '_') return false;
        }
        labelStart = labelEnd + 1;
    }
    return true;
}

Result<uint16_t> parsePortNumber(std::string_view text) {
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value == 0 ||
        value > 65535) {
        return fail("bad port \"" + std::string(text) + "\"");
    }
    return static_cast<uint16_t>(value);
}

std::string HostPort::toString() const {
    std::string portText = std::to_string(port);
    if (isIpv6Address(host)) return "[" + host + "]:" + portText;
    return host + ":" + portText;
}

Result<HostPort> parseHostPort(std::string_view text, std::optional<uint16_t> defaultPort) {
    std::string quoted = "\"" + std::string(text) + "\"";
    for (unsigned char c : text) {
        if (c <= ' ' || c >= 0x7f) return fail(quoted + ": spaces or control characters");
    }
    std::string_view host = text;
    std::string_view portText;
    bool hasPort = false;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return fail(quoted + ": unbalanced brackets");
        host = text.substr(1, close - 1);
        std::string_view rest = text.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return fail(quoted + ": text after \"]\"");
        if (!isIpv6Address(host)) return fail(quoted + ": brackets hold an IPv6 address");
        hasPort = !rest.empty();
        if (hasPort) portText = rest.substr(1);
    } else if (isIpv6Address(text)) {
        hasPort = false;  // a bare IPv6 address: its colons are not a port separator
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        portText = text.substr(colon + 1);
        hasPort = true;
        if (host.find(':') != std::string_view::npos) {
            return fail(quoted + ": an IPv6 address needs brackets, as in \"[::1]:25\"");
        }
    }
    if (text.find(']') != std::string_view::npos && text.front() != '[') {
        return fail(quoted + ": unbalanced brackets");
    }
    if (auto status = checkHost(host, text); !status) return status.failure();
    HostPort result{std::string(host), defaultPort.value_or(0)};
    if (hasPort) {
        auto port = parsePortNumber(portText);
        if (!port) return fail(quoted + ": " + port.error());
        result.port = *port;
    } else if (!defaultPort) {
        return fail(quoted + ": missing port (host:port)");
    }
    return result;
}

}  // namespace postern
