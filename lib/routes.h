// routes.h: next hops and the route table (DESIGN.md "Routes (contract)").
// A next hop says where mail for a domain goes: "mx" (the recipient domain's MX hosts),
// "host" or "host:port" (MX lookup of host), "[host]:port" / "[ip]:port" / "[ipv6]:port"
// (that host or address, no MX lookup). A RouteTable maps recipient domains to routes:
// the exact domain, then ".parent" entries from the nearest parent up, then "*".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "result.h"

namespace postern {

struct NextHop {
    enum class Kind {
        RecipientMx,  // "mx": the recipient domain's MX hosts, then its A/AAAA
        HostMx,       // "host[:port]": MX lookup of host
        Literal,      // "[host]:port": that host's addresses, no MX lookup
    };
    Kind kind = Kind::RecipientMx;
    std::string host;  // lower case; empty for RecipientMx; no brackets for Literal
    uint16_t port = 25;

    // The canonical text form: "mx", "relay.example", "relay.example:2525", "[10.1.2.3]:25".
    std::string toString() const;
    bool operator==(const NextHop&) const = default;
};

// Parses every next hop form; malformed text (empty, spaces, bad port, unbalanced brackets,
// a bare IPv6 address) is an error naming the problem.
Result<NextHop> parseNextHop(std::string_view text);

// Lower-cases a domain and drops one trailing dot: "Example.COM." -> "example.com".
std::string normalizeDomain(std::string_view domain);

// TLS policy of an SMTP client connection: the smtp.tls defaults, or a route's own.
// Field names are the configuration's parameter names.
struct SmtpTlsPolicy {
    enum class Level { None, May, Encrypt, Verify, Secure };
    Level security_level = Level::May;
    std::vector<std::string> match = {"nexthop", "dot-nexthop"};  // names for verify/secure
    std::string ca_file;    // absolute path or empty (system store)
    std::string ca_path;    // absolute path or empty
    std::string cert_file;  // client certificate: only when a route names one
    std::string key_file;
    bool operator==(const SmtpTlsPolicy&) const = default;
};

// "none", "may", "encrypt", "verify", "secure".
const char* smtpTlsLevelName(SmtpTlsPolicy::Level level);
// Parses a level name (lower case); nullopt when unknown.
std::optional<SmtpTlsPolicy::Level> parseSmtpTlsLevel(std::string_view name);

// One entry of the configuration's routes list.
struct Route {
    std::string domain;  // "example.com", ".parent.example" or "*" (normalized)
    NextHop nexthop;
    SmtpTlsPolicy tls;       // the route's policy; smtp.tls's values where it sets none
    bool hasOwnTls = false;  // true when the route has a tls group
    int sourceLine = 0;      // where the configuration file defines it (0: not from a file)

    // A readable one-line form: "partner.example => [10.1.2.3]:25 (tls verify, match a)".
    std::string toString() const;
};

class RouteTable {
  public:
    RouteTable() = default;
    // Builds the table; the routes' domains must be distinct (the loader checks it).
    explicit RouteTable(const std::vector<Route>& routes);

    // The route for a recipient domain: exact, then ".parent" from nearest up, then "*".
    // Case-insensitive; a trailing dot is ignored. nullptr: use the domain's MX.
    const Route* lookup(std::string_view domain) const;

    size_t size() const { return byDomain_.size(); }

  private:
    std::unordered_map<std::string, Route> byDomain_;
};

}  // namespace postern
