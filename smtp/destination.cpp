// destination.cpp: next hop → MX → addresses, with Postfix's reasons (see destination.h).
#include "destination.h"

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>

#include "hostport.h"

namespace postern::smtp {

namespace {

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// The IP address in an address-literal domain ("[192.0.2.1]", "[IPv6:2001:db8::1]"), or "".
std::string addressLiteral(const std::string& domain) {
    if (domain.size() < 3 || domain.front() != '[' || domain.back() != ']') return "";
    std::string inner = domain.substr(1, domain.size() - 2);
    if (inner.size() > 5 && equalsIgnoringCase(inner.substr(0, 5), "IPv6:")) inner.erase(0, 5);
    return isIpAddress(inner) ? inner : "";
}

// The socket address of an IP literal, or nothing when TEXT is not one.
std::optional<dns::Address> literalAddress(const std::string& text, uint16_t port) {
    dns::Address address;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        address.length = sizeof(sockaddr_in);
        return address;
    }
    if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        address.length = sizeof(sockaddr_in6);
        return address;
    }
    return std::nullopt;
}

bool sameAddress(const dns::Address& a, const dns::Address& b) {
    return a.family() == b.family() && a.ip() == b.ip() && a.port() == b.port();
}

}  // namespace

std::string Candidate::peer() const { return host + "[" + address.ip() + "]"; }

std::string Candidate::relay() const { return peer() + ":" + std::to_string(address.port()); }

std::string tlsNexthop(const NextHop& nexthop, const std::string& domain) {
    return nexthop.kind == NextHop::Kind::RecipientMx ? domain : nexthop.host;
}

std::optional<Verdict> dropSelfAndWorse(std::vector<dns::MxRecord>& records,
                                        const std::string& myhostname, const std::string& domain) {
    std::optional<unsigned> ours;
    for (const auto& record : records) {
        if (!myhostname.empty() && equalsIgnoringCase(record.host, myhostname))
            ours = std::min(ours.value_or(record.preference), record.preference);
    }
    if (!ours) return std::nullopt;
    std::erase_if(records, [&](const dns::MxRecord& r) { return r.preference >= *ours; });
    if (records.empty()) return bounce("5.4.6", "mail for " + domain + " loops back to myself");
    return std::nullopt;
}

Verdict dnsFailure(dns::DnsStatus status, const std::string& name, const char* type,
                   bool recipientDomain) {
    const std::string prefix = "Host or domain name not found. Name service error for name=" +
                               name + " type=" + type + ": ";
    switch (status) {
        case dns::DnsStatus::TempFail:
            return deferral("4.4.3", prefix + "Host not found, try again");
        case dns::DnsStatus::NullMx:
            if (recipientDomain) return bounce("5.1.10", "Recipient address has null MX");
            return deferral("4.4.4", "Route host " + name + " has a null MX");
        case dns::DnsStatus::NoData:
        case dns::DnsStatus::Ok: {  // Ok without an address: as good as no data
            const std::string text = prefix + "Host found but no data record of requested type";
            return recipientDomain ? bounce("5.4.4", text) : deferral("4.4.4", text);
        }
        case dns::DnsStatus::NoSuchDomain:
        case dns::DnsStatus::BadName:
            break;
    }
    const std::string text = prefix + "Host not found";
    return recipientDomain ? bounce("5.4.4", text) : deferral("4.4.4", text);
}

std::vector<Candidate> assembleCandidates(const std::vector<std::string>& hosts,
                                          const std::vector<dns::AddressAnswer>& answers,
                                          int addressLimit) {
    std::vector<Candidate> candidates;
    auto full = [&] { return addressLimit > 0 && candidates.size() >= size_t(addressLimit); };
    for (size_t i = 0; i < hosts.size() && i < answers.size(); ++i) {
        for (int family : {AF_INET, AF_INET6}) {
            for (const auto& address : answers[i].addresses) {
                if (address.family() != family || full()) continue;
                const bool seen = std::any_of(candidates.begin(), candidates.end(), [&](auto& c) {
                    return sameAddress(c.address, address);
                });
                if (!seen) candidates.push_back({hosts[i], address});
            }
        }
    }
    return candidates;
}

DestinationLookup::DestinationLookup(dns::Resolver& resolver, DestinationSettings settings,
                                     dns::RandomBelow random)
    : resolver_(resolver), settings_(std::move(settings)), random_(std::move(random)) {}

DestinationLookup::~DestinationLookup() {
    for (dns::LookupId id : pending_) resolver_.cancel(id);
}

void DestinationLookup::start(const NextHop& nexthop, const std::string& domain, Done done) {
    done_ = std::move(done);
    port_ = nexthop.port;
    recipientDomain_ = nexthop.kind == NextHop::Kind::RecipientMx;
    mxName_ = recipientDomain_ ? domain : nexthop.host;
    if (nexthop.kind == NextHop::Kind::Literal) {
        lookupHosts({nexthop.host});
        return;
    }
    if (std::string literal = addressLiteral(mxName_); !literal.empty()) {
        lookupHosts({literal});
        return;
    }
    pending_.push_back(resolver_.lookupMx(mxName_, [this](dns::MxAnswer answer) {
        pending_.clear();
        onMx(std::move(answer));
    }));
}

void DestinationLookup::onMx(dns::MxAnswer answer) {
    switch (answer.status) {
        case dns::DnsStatus::Ok: {
            if (auto looping = dropSelfAndWorse(answer.records, settings_.myhostname, mxName_)) {
                finish({{}, std::move(looping)});
                return;
            }
            lookupHosts(dns::orderMxHosts(std::move(answer.records), random_));
            return;
        }
        case dns::DnsStatus::NoData:  // no MX: the name's own addresses (RFC 5321 5.1)
            lookupHosts({mxName_});
            return;
        default:
            finish({{}, dnsFailure(answer.status, mxName_, "MX", recipientDomain_)});
    }
}

void DestinationLookup::lookupHosts(std::vector<std::string> hosts) {
    hosts_ = std::move(hosts);
    answers_.assign(hosts_.size(), dns::AddressAnswer{});
    unanswered_ = hosts_.size();
    if (hosts_.empty()) {  // orderMxHosts dropped every record
        finish({{}, dnsFailure(dns::DnsStatus::NoData, mxName_, "MX", recipientDomain_)});
        return;
    }
    for (size_t i = 0; i < hosts_.size(); ++i) {
        if (auto literal = literalAddress(hosts_[i], port_)) {  // no DNS for an IP address
            onAddresses(i, {dns::DnsStatus::Ok, {*literal}, ""});
            continue;
        }
        pending_.push_back(resolver_.lookupAddresses(
            hosts_[i], port_, [this, i](dns::AddressAnswer answer) { onAddresses(i, std::move(answer)); }));
    }
}

void DestinationLookup::onAddresses(size_t index, dns::AddressAnswer answer) {
    answers_[index] = std::move(answer);
    if (--unanswered_ > 0) return;
    pending_.clear();
    Destinations destinations;
    destinations.candidates = assembleCandidates(hosts_, answers_, settings_.addressLimit);
    if (destinations.candidates.empty()) {
        // A temporary failure anywhere may hide a usable address: defer rather than bounce.
        size_t worst = 0;
        for (size_t i = 0; i < answers_.size(); ++i) {
            if (answers_[i].status == dns::DnsStatus::TempFail) worst = i;
        }
        destinations.failure = dnsFailure(answers_[worst].status, hosts_[worst], "A", recipientDomain_);
    }
    finish(std::move(destinations));
}

void DestinationLookup::finish(Destinations destinations) {
    Done done = std::move(done_);
    done(std::move(destinations));  // may destroy this object
}

}  // namespace postern::smtp
