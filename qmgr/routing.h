// routing.h: where each recipient goes. A Router resolves a recipient address through the
// configuration's routes (lib/routes.h: exact domain, ".parent" from the nearest parent up,
// "*", else the domain's MX) to a Target: the next hop, the TLS policy, and the key that
// groups recipients into one delivery request and one per-destination concurrency limit.
// groupRecipients() cuts a message's recipients into such groups.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "delivery_protocol.h"
#include "routes.h"

namespace postern::qmgr {

struct Target {
    // Recipients with the same key share requests and a concurrency limit: the route (its
    // TLS policy), the next hop, and for "mx" the recipient domain. Recipients of different
    // domains share a key when a route sends them to the same relay.
    std::string key;
    std::string nexthop;                 // config form: "mx", "relay.example:2525", "[10.1.2.3]:25"
    std::string domain;                  // the recipient's domain, lower case
    const SmtpTlsPolicy* tls = nullptr;  // owned by the Router
};

class Router {
  public:
    // A router over the configuration's routes, with smtp.tls as the default TLS policy.
    explicit Router(const Config& config);
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    // The target of one recipient address.
    Target resolve(std::string_view address) const;

  private:
    RouteTable table_;
    SmtpTlsPolicy defaultTls_;
    std::string myorigin_;
};

// The domain of an address (after the last '@', lower case, no trailing dot); `fallback`
// for an address without one.
std::string recipientDomain(std::string_view address, std::string_view fallback);

// A route's TLS policy in the wire form of a delivery request.
delivery_protocol::RequestTls requestTls(const SmtpTlsPolicy& policy);

// Recipients (by index) that go to one target in one request.
struct RecipientGroup {
    Target target;
    std::vector<size_t> recipients;
};

// Groups the recipients `indices` of `addresses` by target, in order of first appearance,
// at most `limit` recipients a group.
std::vector<RecipientGroup> groupRecipients(const Router& router,
                                            const std::vector<std::string_view>& addresses,
                                            const std::vector<size_t>& indices, size_t limit);

}  // namespace postern::qmgr
