// dns.cpp: the c-ares resolver on libevent (see dns.h). c-ares tells us which sockets it
// wants watched (onSocketState) and when its next timeout falls (ares_timeout); we run
// ares_process_fd on activity. Answers are queued and handed to callbacks from a separate
// event, so no callback ever runs inside c-ares or inside a lookup call.
#include "dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>

namespace postern::dns {

namespace {

// Out of memory inside libevent: nothing sensible is left to do.
[[noreturn]] void panic(const char* what) {
    std::fprintf(stderr, "postern dns: fatal: %s\n", what);
    std::abort();
}

// c-ares wants its process-wide state set up once, before the first channel.
int initAresLibrary() {
    static std::once_flag once;
    static int status = ARES_SUCCESS;
    std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
    return status;
}

struct AresDataFree {
    void operator()(void* data) const { ares_free_data(data); }
};
struct AddrInfoFree {
    void operator()(ares_addrinfo* info) const { ares_freeaddrinfo(info); }
};
using AddrInfoPtr = std::unique_ptr<ares_addrinfo, AddrInfoFree>;

std::string joinServers(const std::vector<std::string>& servers) {
    std::string csv;
    for (const auto& server : servers) {
        if (!csv.empty()) csv += ',';
        csv += server;
    }
    return csv;
}

bool isRootExchange(const std::string& host) {
    return host.empty() || host == ".";
}

std::string lowerCase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool sameAddress(const Address& a, const Address& b) {
    return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

// The addresses of a getaddrinfo answer, each with `port`, without repeats.
AddressAnswer makeAddressAnswer(int status, const ares_addrinfo* info, uint16_t port) {
    AddressAnswer answer;
    answer.status = classifyAresStatus(status);
    if (status != ARES_SUCCESS) {
        answer.detail = ares_strerror(status);
        return answer;
    }
    for (const ares_addrinfo_node* node = info ? info->nodes : nullptr; node;
         node = node->ai_next) {
        Address address;
        if (node->ai_family == AF_INET && node->ai_addrlen >= sizeof(sockaddr_in)) {
            auto* in = reinterpret_cast<sockaddr_in*>(&address.storage);
            std::memcpy(in, node->ai_addr, sizeof(sockaddr_in));
            in->sin_port = htons(port);
            address.length = sizeof(sockaddr_in);
        } else if (node->ai_family == AF_INET6 && node->ai_addrlen >= sizeof(sockaddr_in6)) {
            auto* in6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
            std::memcpy(in6, node->ai_addr, sizeof(sockaddr_in6));
            in6->sin6_port = htons(port);
            address.length = sizeof(sockaddr_in6);
        } else {
            continue;
        }
        bool seen = false;
        for (const auto& known : answer.addresses) seen = seen || sameAddress(known, address);
        if (!seen) answer.addresses.push_back(address);
    }
    if (answer.addresses.empty()) {
        answer.status = DnsStatus::NoData;
        answer.detail = "no A or AAAA records";
    }
    return answer;
}

}  // namespace

// What c-ares carries for one query: where to report, under which id.
struct Resolver::QueryContext {
    Resolver* resolver;
    LookupId id;
    uint16_t port;
};

const char* statusName(DnsStatus status) {
    switch (status) {
        case DnsStatus::Ok:
            return "ok";
        case DnsStatus::NoSuchDomain:
            return "no such domain";
        case DnsStatus::NoData:
            return "no data";
        case DnsStatus::NullMx:
            return "null MX";
        case DnsStatus::TempFail:
            return "temporary failure";
        case DnsStatus::BadName:
            return "bad name";
    }
    return "unknown";
}

std::string Address::ip() const {
    char text[INET6_ADDRSTRLEN] = "";
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
                  sizeof text);
    } else if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
                  sizeof text);
    }
    return text;
}

uint16_t Address::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

DnsStatus classifyAresStatus(int aresStatus) {
    switch (aresStatus) {
        case ARES_SUCCESS:
            return DnsStatus::Ok;
        case ARES_ENOTFOUND:
            return DnsStatus::NoSuchDomain;
        case ARES_ENODATA:
            return DnsStatus::NoData;
        case ARES_EBADNAME:
            return DnsStatus::BadName;
        default:
            return DnsStatus::TempFail;  // SERVFAIL, REFUSED, timeouts, resources
    }
}

MxAnswer classifyMxReply(int aresStatus, const unsigned char* answer, int length) {
    MxAnswer result;
    if (aresStatus != ARES_SUCCESS) {
        result.status = classifyAresStatus(aresStatus);
        result.detail = ares_strerror(aresStatus);
        return result;
    }
    ares_mx_reply* head = nullptr;
    int rc = ares_parse_mx_reply(answer, length, &head);
    std::unique_ptr<void, AresDataFree> owner(head);
    if (rc != ARES_SUCCESS) {
        // A NOERROR answer without MX (only a CNAME, say) is NoData; garbage is a retry.
        result.status = rc == ARES_ENODATA ? DnsStatus::NoData : DnsStatus::TempFail;
        result.detail =
            std::string(rc == ARES_ENODATA ? "" : "malformed MX answer: ") + ares_strerror(rc);
        return result;
    }
    bool sawRoot = false;
    for (const ares_mx_reply* mx = head; mx; mx = mx->next) {
        std::string host = mx->host ? mx->host : "";
        if (isRootExchange(host)) {
            sawRoot = true;
            continue;
        }
        result.records.push_back({mx->priority, std::move(host)});
    }
    if (!result.records.empty()) {
        result.status = DnsStatus::Ok;
    } else if (sawRoot) {
        result.status = DnsStatus::NullMx;
        result.detail = "null MX: the domain accepts no mail (RFC 7505)";
    } else {
        result.status = DnsStatus::NoData;
        result.detail = "no MX records";
    }
    return result;
}

RandomBelow defaultRandom() {
    auto engine = std::make_shared<std::mt19937>(std::random_device{}());
    return [engine](size_t bound) {
        return std::uniform_int_distribution<size_t>(0, bound - 1)(*engine);
    };
}

std::vector<std::string> orderMxHosts(std::vector<MxRecord> records, const RandomBelow& random) {
    std::erase_if(records, [](const MxRecord& mx) { return isRootExchange(mx.host); });
    std::stable_sort(records.begin(), records.end(), [](const MxRecord& a, const MxRecord& b) {
        return a.preference < b.preference;
    });
    for (size_t begin = 0; begin < records.size();) {
        size_t end = begin;
        while (end < records.size() && records[end].preference == records[begin].preference) {
            ++end;
        }
        for (size_t count = end - begin; count > 1; --count) {
            std::swap(records[begin + count - 1], records[begin + random(count)]);
        }
        begin = end;
    }
    std::vector<std::string> hosts;
    std::vector<std::string> seen;
    for (auto& mx : records) {
        std::string key = lowerCase(mx.host);
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
        seen.push_back(std::move(key));
        hosts.push_back(std::move(mx.host));
    }
    return hosts;
}

Result<std::unique_ptr<Resolver>> Resolver::create(event_base* base,
                                                   const ResolverSettings& settings) {
    if (int rc = initAresLibrary(); rc != ARES_SUCCESS) {
        return fail(std::string("c-ares initialisation failed: ") + ares_strerror(rc));
    }
    std::unique_ptr<Resolver> resolver(new Resolver(base));
    if (Status status = resolver->configure(settings); !status) return status.failure();
    return resolver;
}

Resolver::Resolver(event_base* base)
    : base_(base),
      timer_(evtimer_new(base, onTimer, this)),
      deliverEvent_(event_new(base, -1, 0, onDeliver, this)) {
    if (!timer_ || !deliverEvent_) panic("cannot allocate resolver events");
}

Status Resolver::configure(const ResolverSettings& settings) {
    ares_options options{};
    // Mail domains are fully qualified: never append resolv.conf's search domains.
    options.flags = ARES_FLAG_NOSEARCH;
    options.timeout = static_cast<int>(settings.timeout.count());
    options.tries = settings.tries;
    options.sock_state_cb = onSocketState;
    options.sock_state_cb_data = this;
    // c-ares sends all queries to a server through one UDP socket: a burst of hundreds of
    // lookups overflows the default receive buffer (~200 KiB) and the lost replies each cost
    // a timeout. The kernel caps this at net.core.rmem_max.
    options.socket_receive_buffer_size = 1 << 20;
    std::string lookups = settings.useHostsFile ? "fb" : "b";
    options.lookups = lookups.data();
    options.domains = nullptr;
    options.ndomains = 0;
    int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB |
               ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_SOCK_RCVBUF;
    int rc = ares_init_options(&channel_, &options, mask);
    maxInFlight_ = std::max<size_t>(1, settings.maxConcurrentLookups);
    if (rc != ARES_SUCCESS) {
        channel_ = nullptr;
        return fail(std::string("cannot set up the DNS resolver: ") + ares_strerror(rc));
    }
    if (!settings.servers.empty()) {
        std::string csv = joinServers(settings.servers);
        rc = ares_set_servers_ports_csv(channel_, csv.c_str());
        if (rc != ARES_SUCCESS) {
            return fail("bad DNS server list \"" + csv + "\": " + ares_strerror(rc));
        }
    }
    return {};
}

Resolver::~Resolver() {
    destroying_ = true;
    // Calls each pending query's callback with ARES_EDESTRUCTION (which frees its context)
    // and closes the sockets through onSocketState.
    if (channel_) ares_destroy(channel_);
}

LookupId Resolver::addLookup(Lookup lookup) {
    LookupId id = nextId_++;
    auto& added = lookups_.emplace(id, std::move(lookup)).first->second;
    if (inFlight_ < maxInFlight_) {
        sendQuery(id, added);
        rearmTimer();
    } else {
        waiting_.push_back(id);
    }
    return id;
}

LookupId Resolver::lookupMx(const std::string& domain, MxCallback done) {
    return addLookup(Lookup{true, domain, 0, std::move(done), {}, {}, {}});
}

LookupId Resolver::lookupAddresses(const std::string& host, uint16_t port, AddressCallback done) {
    return addLookup(Lookup{false, host, port, {}, std::move(done), {}, {}});
}

void Resolver::sendQuery(LookupId id, const Lookup& lookup) {
    ++inFlight_;
    auto* context = new QueryContext{this, id, lookup.port};  // c-ares owns it until its callback
    if (lookup.isMx) {
        ares_query(channel_, lookup.name.c_str(), ns_c_in, ns_t_mx, onMxReply, context);
        return;
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    ares_getaddrinfo(channel_, lookup.name.c_str(), nullptr, &hints, onAddrInfo, context);
}

// Sends waiting lookups as earlier ones finish; called outside c-ares's own processing.
void Resolver::sendWaitingQueries() {
    while (inFlight_ < maxInFlight_ && !waiting_.empty()) {
        LookupId id = waiting_.front();
        waiting_.pop_front();
        if (const Lookup* lookup = findLookup(id)) sendQuery(id, *lookup);
    }
    rearmTimer();
}

void Resolver::cancel(LookupId id) {
    lookups_.erase(id);
}

Resolver::Lookup* Resolver::findLookup(LookupId id) {
    auto it = lookups_.find(id);
    return it == lookups_.end() ? nullptr : &it->second;
}

void Resolver::markReady(LookupId id) {
    ready_.push_back(id);
    event_active(deliverEvent_.get(), EV_TIMEOUT, 0);
}

void Resolver::deliverReady() {
    std::weak_ptr<bool> alive = alive_;
    std::deque<LookupId> batch;
    batch.swap(ready_);
    for (LookupId id : batch) {
        auto it = lookups_.find(id);
        if (it == lookups_.end()) continue;  // cancelled after its answer came
        Lookup lookup = std::move(it->second);
        lookups_.erase(it);
        if (lookup.isMx && lookup.onMx) {
            lookup.onMx(std::move(*lookup.mx));
        } else if (!lookup.isMx && lookup.onAddresses) {
            lookup.onAddresses(std::move(*lookup.addresses));
        }
        if (alive.expired()) return;  // that callback destroyed the Resolver
    }
}

void Resolver::rearmTimer() {
    timeval next{};
    if (ares_timeout(channel_, nullptr, &next)) {
        evtimer_add(timer_.get(), &next);
    } else {
        evtimer_del(timer_.get());
    }
}

void Resolver::watchSocket(int fd, bool readable, bool writable) {
    // Replaced rather than modified; freeing an event inside its own callback is safe.
    socketEvents_.erase(fd);
    if (!readable && !writable) return;
    short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
    EventPtr watcher(event_new(base_, fd, what, onSocketEvent, this));
    if (!watcher || event_add(watcher.get(), nullptr) != 0) panic("cannot watch a DNS socket");
    socketEvents_.emplace(fd, std::move(watcher));
}

void Resolver::onSocketState(void* self, int fd, int readable, int writable) {
    static_cast<Resolver*>(self)->watchSocket(fd, readable != 0, writable != 0);
}

void Resolver::onSocketEvent(evutil_socket_t fd, short what, void* self) {
    auto* resolver = static_cast<Resolver*>(self);
    ares_process_fd(resolver->channel_, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    resolver->sendWaitingQueries();
}

void Resolver::onTimer(evutil_socket_t, short, void* self) {
    auto* resolver = static_cast<Resolver*>(self);
    ares_process_fd(resolver->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    resolver->sendWaitingQueries();
}

void Resolver::onDeliver(evutil_socket_t, short, void* self) {
    static_cast<Resolver*>(self)->deliverReady();
}

void Resolver::onMxReply(void* arg, int status, int, unsigned char* answer, int length) {
    std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
    Resolver* resolver = context->resolver;
    --resolver->inFlight_;
    if (resolver->destroying_) return;
    Lookup* lookup = resolver->findLookup(context->id);
    if (!lookup) return;  // cancelled
    lookup->mx = classifyMxReply(status, answer, length);
    resolver->markReady(context->id);
}

void Resolver::onAddrInfo(void* arg, int status, int, ares_addrinfo* info) {
    std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
    AddrInfoPtr owner(info);
    Resolver* resolver = context->resolver;
    --resolver->inFlight_;
    if (resolver->destroying_) return;
    Lookup* lookup = resolver->findLookup(context->id);
    if (!lookup) return;  // cancelled
    lookup->addresses = makeAddressAnswer(status, info, context->port);
    resolver->markReady(context->id);
}

}  // namespace postern::dns
