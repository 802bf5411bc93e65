// destination.h: from a next hop to the ordered list of server addresses to try.
//   mx            the recipient domain's MX hosts (then its A/AAAA when it has no MX), port 25
//                 (or the route's port); an address-literal domain ("[192.0.2.1]") directly
//   host[:port]   the MX hosts of `host`, then its A/AAAA
//   [host]:port   host's A/AAAA (or the IP literal), no MX lookup
// MX hosts go in preference order, equal preferences shuffled (dns::orderMxHosts); each
// host's IPv4 addresses before its IPv6 ones; at most smtp.mx_address_limit addresses in
// all. An MX list naming this host (myhostname) loses that entry and every worse one, and
// when that leaves nothing the mail "loops back to myself" (Postfix's rule, by name only).
//
// DNS outcomes become Postfix's reasons: NXDOMAIN bounces 5.4.4 "Host or domain name not
// found", a null MX bounces 5.1.10, a temporary failure defers 4.4.3. A route's own host
// (host[:port], [host]:port) that does not resolve defers (4.4.4) instead of bouncing: a
// typo in the operator's route must not return every message to its sender.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dns.h"
#include "verdict.h"
#include "routes.h"

namespace postern::smtp {

// One server address to try.
struct Candidate {
    std::string host;  // the server's name (MX host, route host) or the IP literal
    dns::Address address;

    // "host[ip]", as log lines name a server.
    std::string peer() const;
    // "host[ip]:port", as relay= names it.
    std::string relay() const;
};

// What a lookup found: servers to try, or why there are none.
struct Destinations {
    std::vector<Candidate> candidates;
    std::optional<Verdict> failure;  // set when candidates is empty: why
};

struct DestinationSettings {
    std::string myhostname;  // MX hosts by this name are ourselves
    int addressLimit = 5;    // smtp.mx_address_limit; 0: no limit
};

// The domain for certificate matching ("nexthop" in tls.h): the recipient domain for mx,
// the route's host otherwise.
std::string tlsNexthop(const NextHop& nexthop, const std::string& domain);

// Drops the MX records of myhostname and every record not better than it; a failure
// ("mail for DOMAIN loops back to myself", 5.4.6) when none is left.
std::optional<Verdict> dropSelfAndWorse(std::vector<dns::MxRecord>& records,
                                        const std::string& myhostname, const std::string& domain);

// The reason for a failed lookup of `name` (type "MX" or "A"). recipientDomain: the name
// is the mail's own domain (hard failures bounce) rather than a route's host (they defer).
Verdict dnsFailure(dns::DnsStatus status, const std::string& name, const char* type,
                   bool recipientDomain);

// The candidates from each host's address answer, hosts in order, IPv4 before IPv6, no
// address twice, at most addressLimit (0: all).
std::vector<Candidate> assembleCandidates(const std::vector<std::string>& hosts,
                                          const std::vector<dns::AddressAnswer>& answers,
                                          int addressLimit);

// Finds the servers for one delivery. Destroying it cancels its pending lookups.
class DestinationLookup {
  public:
    using Done = std::function<void(Destinations)>;

    DestinationLookup(dns::Resolver& resolver, DestinationSettings settings,
                      dns::RandomBelow random);
    ~DestinationLookup();
    DestinationLookup(const DestinationLookup&) = delete;
    DestinationLookup& operator=(const DestinationLookup&) = delete;

    // Starts the lookups for NEXTHOP (DOMAIN: the recipients' domain); DONE is called once,
    // from the event loop, or before start() returns when there is nothing to look up (IP
    // literals). DONE may destroy this object only when called from the event loop.
    void start(const NextHop& nexthop, const std::string& domain, Done done);

  private:
    void onMx(dns::MxAnswer answer);
    void lookupHosts(std::vector<std::string> hosts);
    void onAddresses(size_t index, dns::AddressAnswer answer);
    void finish(Destinations destinations);

    dns::Resolver& resolver_;
    DestinationSettings settings_;
    dns::RandomBelow random_;
    Done done_;
    std::string mxName_;  // the name whose MX records are looked up
    bool recipientDomain_ = true;
    uint16_t port_ = 25;
    std::vector<std::string> hosts_;
    std::vector<dns::AddressAnswer> answers_;
    size_t unanswered_ = 0;
    std::vector<dns::LookupId> pending_;
};

}  // namespace postern::smtp
