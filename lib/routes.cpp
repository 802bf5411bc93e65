// routes.cpp: next hop parsing and the route table lookup (see routes.h).
#include "routes.h"

#include <algorithm>
#include <cctype>

#include "hostport.h"

namespace postern {

namespace {

std::string lowerCase(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// Parses a port for a next hop, naming the next hop in the error.
Result<uint16_t> parsePort(std::string_view text, const std::string& quoted) {
    auto port = parsePortNumber(text);
    if (!port) return fail(quoted + ": " + port.error());
    return port;
}

// "[host]" or "[host]:port": no MX lookup.
Result<NextHop> parseLiteral(std::string_view text, const std::string& quoted) {
    auto close = text.find(']');
    if (close == std::string_view::npos || text.find('[', 1) != std::string_view::npos) {
        return fail(quoted + ": unbalanced brackets");
    }
    NextHop hop{NextHop::Kind::Literal, std::string(text.substr(1, close - 1)), 25};
    if (hop.host.empty()) return fail(quoted + ": empty host in brackets");
    if (!isIpAddress(hop.host) && !isValidHostName(hop.host)) {
        return fail(quoted + ": \"" + hop.host + "\" is not a host name or an IP address");
    }
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
        if (rest[0] != ':') return fail(quoted + ": unexpected text after \"]\"");
        auto port = parsePort(rest.substr(1), quoted);
        if (!port) return port.failure();
        hop.port = *port;
    }
    hop.host = normalizeDomain(hop.host);
    return hop;
}

// "mx", "mx:port", "host" or "host:port".
Result<NextHop> parseMxForm(std::string_view text, const std::string& quoted) {
    if (text.find(']') != std::string_view::npos) return fail(quoted + ": unbalanced brackets");
    auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
        return fail(quoted + ": an IPv6 address needs brackets, as in \"[2001:db8::1]:25\"");
    }
    std::string_view host = text.substr(0, colon);
    NextHop hop{NextHop::Kind::HostMx, normalizeDomain(host), 25};
    if (colon != std::string_view::npos) {
        auto port = parsePort(text.substr(colon + 1), quoted);
        if (!port) return port.failure();
        hop.port = *port;
    }
    if (hop.host == "mx") {
        hop.kind = NextHop::Kind::RecipientMx;
        hop.host.clear();
        return hop;
    }
    if (hop.host.empty()) return fail(quoted + ": empty host");
    if (isIpAddress(hop.host)) {
        return fail(quoted + ": an address has no MX records; write \"[" + hop.host +
                    "]:" + std::to_string(hop.port) + "\"");
    }
    if (!isValidHostName(hop.host))
        return fail(quoted + ": \"" + hop.host + "\" is not a host name");
    return hop;
}

}  // namespace

std::string normalizeDomain(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    return lowerCase(domain);
}

Result<NextHop> parseNextHop(std::string_view text) {
    std::string quoted = "\"" + std::string(text) + "\"";
    if (text.empty()) return fail("empty next hop");
    for (unsigned char c : text) {
        if (c <= ' ' || c >= 0x7f) return fail(quoted + ": spaces or control characters");
    }
    if (text.front() == '[') return parseLiteral(text, quoted);
    return parseMxForm(text, quoted);
}

std::string NextHop::toString() const {
    std::string portSuffix = ":" + std::to_string(port);
    switch (kind) {
        case Kind::RecipientMx:
            return port == 25 ? "mx" : "mx" + portSuffix;
        case Kind::HostMx:
            return port == 25 ? host : host + portSuffix;
        case Kind::Literal:
            return "[" + host + "]" + portSuffix;
    }
    return host;
}

const char* smtpTlsLevelName(SmtpTlsPolicy::Level level) {
    switch (level) {
        case SmtpTlsPolicy::Level::None:
            return "none";
        case SmtpTlsPolicy::Level::May:
            return "may";
        case SmtpTlsPolicy::Level::Encrypt:
            return "encrypt";
        case SmtpTlsPolicy::Level::Verify:
            return "verify";
        case SmtpTlsPolicy::Level::Secure:
            return "secure";
    }
    return "?";
}

std::optional<SmtpTlsPolicy::Level> parseSmtpTlsLevel(std::string_view name) {
    using Level = SmtpTlsPolicy::Level;
    for (Level level : {Level::None, Level::May, Level::Encrypt, Level::Verify, Level::Secure}) {
        if (name == smtpTlsLevelName(level)) return level;
    }
    return std::nullopt;
}

std::string Route::toString() const {
    std::string text = domain + " => " + nexthop.toString();
    if (!hasOwnTls) return text;
    text += " (tls ";
    text += smtpTlsLevelName(tls.security_level);
    if (!tls.match.empty()) {
        text += ", match";
        for (const auto& name : tls.match) text += " " + name;
    }
    if (!tls.ca_file.empty()) text += ", ca_file " + tls.ca_file;
    if (!tls.cert_file.empty()) text += ", cert_file " + tls.cert_file;
    if (!tls.key_file.empty()) text += ", key_file " + tls.key_file;
    return text + ")";
}

RouteTable::RouteTable(const std::vector<Route>& routes) {
    for (const auto& route : routes) byDomain_.emplace(normalizeDomain(route.domain), route);
}

const Route* RouteTable::lookup(std::string_view domain) const {
    std::string wanted = normalizeDomain(domain);
    auto found = byDomain_.find(wanted);
    if (found != byDomain_.end() && !wanted.empty() && wanted[0] != '.') return &found->second;
    // ".parent" entries, nearest parent first: a.b.c tries .b.c, then .c.
    for (size_t dot = wanted.find('.'); dot != std::string::npos; dot = wanted.find('.', dot + 1)) {
        found = byDomain_.find(wanted.substr(dot));
        if (found != byDomain_.end()) return &found->second;
    }
    found = byDomain_.find("*");
    return found != byDomain_.end() ? &found->second : nullptr;
}

}  // namespace postern
