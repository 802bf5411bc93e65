// dns.h: asynchronous DNS for the delivery side: MX and A/AAAA lookups with c-ares, driven by
// a libevent event_base (one event per resolver socket, one timer for c-ares's timeouts).
// Answers come back as values with a status the caller can act on: mail to a domain with
// NoData falls back to its A/AAAA, NullMx (RFC 7505) bounces, TempFail defers.
//
// Callbacks run from the event loop, never from inside lookupMx()/lookupAddresses(); a
// callback may start new lookups, cancel others, or destroy the Resolver. A lookup's
// callback is never called after cancel(id), nor once the Resolver's destructor has begun:
// destroying a Resolver silently drops every pending lookup.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "event.h"
#include "result.h"

struct ares_addrinfo;
struct ares_channeldata;

namespace postern::dns {

// What a lookup found, in the classes a mailer decides on.
enum class DnsStatus {
    Ok,            // records found
    NoSuchDomain,  // NXDOMAIN
    NoData,        // the name exists but has no record of the type asked for
    NullMx,        // RFC 7505 "MX 0 .": the domain accepts no mail
    TempFail,      // SERVFAIL, REFUSED, timeout, unreachable server, malformed answer: retry
    BadName,       // the name itself is invalid: retrying will not help
};

// A short lower-case name for a status, for log lines ("nxdomain", "temporary failure").
const char* statusName(DnsStatus status);

struct MxRecord {
    unsigned preference = 0;
    std::string host;  // without the trailing dot; empty for the root (".")
};

struct MxAnswer {
    DnsStatus status = DnsStatus::TempFail;
    std::vector<MxRecord> records;  // only with Ok, in the order of the answer
    std::string detail;             // c-ares's words for a failure
};

// One resolved socket address (IPv4 or IPv6) with the port asked for.
struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;

    // AF_INET or AF_INET6.
    int family() const { return storage.ss_family; }
    // The address for connect().
    const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage); }
    // The numeric address: "192.0.2.1" or "2001:db8::1".
    std::string ip() const;
    // The port, in host byte order.
    uint16_t port() const;
};

struct AddressAnswer {
    DnsStatus status = DnsStatus::TempFail;
    std::vector<Address> addresses;  // only with Ok
    std::string detail;
};

struct ResolverSettings {
    // "127.0.0.1:5353", "[::1]:53", "192.0.2.53"; empty means /etc/resolv.conf.
    std::vector<std::string> servers;
    // Per try; c-ares doubles it on each later round, so 5 s and 2 tries give up after ~15 s.
    std::chrono::milliseconds timeout{5000};
    int tries = 2;
    // Consult /etc/hosts for addresses too (Postfix's smtp_host_lookup = dns,native).
    bool useHostsFile = false;
    // Lookups sent at once; more wait their turn. A burst of hundreds of queries overflows a
    // resolver's UDP receive buffer (dnsmasq's drops beyond ~250), and each lost query then
    // costs a whole timeout.
    size_t maxConcurrentLookups = 64;
};

using MxCallback = std::function<void(MxAnswer)>;
using AddressCallback = std::function<void(AddressAnswer)>;
using LookupId = uint64_t;

class Resolver {
  public:
    // Makes a resolver on `base`; fails on a malformed server list or a c-ares error.
    static Result<std::unique_ptr<Resolver>> create(event_base* base,
                                                    const ResolverSettings& settings);
    // Drops every pending lookup without calling its callback.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Looks up the MX records of `domain`; `done` gets them or the reason there are none.
    LookupId lookupMx(const std::string& domain, MxCallback done);
    // Looks up the A and AAAA addresses of `host` (or parses an IP literal), each with `port`.
    LookupId lookupAddresses(const std::string& host, uint16_t port, AddressCallback done);
    // Forgets a pending lookup: its callback will not be called. Unknown ids are ignored.
    void cancel(LookupId id);
    // How many lookups still wait for their callback.
    size_t pending() const { return lookups_.size(); }

  private:
    // A pending lookup: the callback of its kind, then its answer once c-ares has one.
    struct Lookup {
        bool isMx = false;
        std::string name;
        uint16_t port = 0;
        MxCallback onMx;
        AddressCallback onAddresses;
        std::optional<MxAnswer> mx;
        std::optional<AddressAnswer> addresses;
    };
    struct QueryContext;

    explicit Resolver(event_base* base);
    Status configure(const ResolverSettings& settings);
    LookupId addLookup(Lookup lookup);
    void sendQuery(LookupId id, const Lookup& lookup);
    void sendWaitingQueries();
    Lookup* findLookup(LookupId id);
    void markReady(LookupId id);
    void deliverReady();
    void rearmTimer();
    void watchSocket(int fd, bool readable, bool writable);

    static void onSocketState(void* self, int fd, int readable, int writable);
    static void onSocketEvent(evutil_socket_t fd, short what, void* self);
    static void onTimer(evutil_socket_t fd, short what, void* self);
    static void onDeliver(evutil_socket_t fd, short what, void* self);
    static void onMxReply(void* context, int status, int timeouts, unsigned char* answer,
                          int length);
    static void onAddrInfo(void* context, int status, int timeouts, ares_addrinfo* info);

    event_base* base_;
    ares_channeldata* channel_ = nullptr;
    EventPtr timer_;
    EventPtr deliverEvent_;
    std::map<int, EventPtr> socketEvents_;
    std::unordered_map<LookupId, Lookup> lookups_;
    std::deque<LookupId> waiting_;  // not yet sent: over maxConcurrentLookups
    std::deque<LookupId> ready_;    // answered, callback not yet called
    size_t maxInFlight_ = 64;
    size_t inFlight_ = 0;  // queries c-ares holds, cancelled ones included
    LookupId nextId_ = 1;
    bool destroying_ = false;
    // Shared with deliverReady(), which checks it after each callback: a callback may
    // destroy the Resolver.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Classifies an MX query's outcome: c-ares's status and, on success, the raw answer.
// A lone "MX 0 ." is NullMx; root exchanges mixed with real ones are dropped.
MxAnswer classifyMxReply(int aresStatus, const unsigned char* answer, int length);

// Maps a c-ares status to the class a mailer acts on.
DnsStatus classifyAresStatus(int aresStatus);

// Returns a number in [0, bound); injected so tests can fix the shuffle.
using RandomBelow = std::function<size_t(size_t bound)>;

// A RandomBelow from a seeded std::mt19937 (for production use).
RandomBelow defaultRandom();

// The MX hosts in the order to try them: by preference, equal preferences shuffled, each
// host once (at its best preference), root exchanges left out.
std::vector<std::string> orderMxHosts(std::vector<MxRecord> records, const RandomBelow& random);

}  // namespace postern::dns
