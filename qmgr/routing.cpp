// routing.cpp: recipient routing and grouping (see routing.h).
#include "routing.h"

#include <unordered_map>

namespace postern::qmgr {

Router::Router(const Config& config)
    : table_(config.routes), defaultTls_(config.smtp.tls), myorigin_(config.myorigin) {
    if (myorigin_.empty()) myorigin_ = config.myhostname;
}

Target Router::resolve(std::string_view address) const {
    Target target;
    target.domain = recipientDomain(address, myorigin_);
    const Route* route = table_.lookup(target.domain);
    NextHop hop = route ? route->nexthop : NextHop{};
    target.nexthop = hop.toString();
    target.tls = route ? &route->tls : &defaultTls_;
    // A route's domain names it uniquely; '\n' cannot occur in a domain or a next hop.
    target.key = (route ? route->domain : std::string()) + '\n' + target.nexthop;
    if (hop.kind == NextHop::Kind::RecipientMx) target.key += '\n' + target.domain;
    return target;
}

std::string recipientDomain(std::string_view address, std::string_view fallback) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos) return normalizeDomain(fallback);
    return normalizeDomain(address.substr(at + 1));
}

delivery_protocol::RequestTls requestTls(const SmtpTlsPolicy& policy) {
    delivery_protocol::RequestTls tls;
    tls.level = smtpTlsLevelName(policy.security_level);
    tls.match = policy.match;
    tls.caFile = policy.ca_file;
    tls.caPath = policy.ca_path;
    tls.certFile = policy.cert_file;
    tls.keyFile = policy.key_file;
    return tls;
}

std::vector<RecipientGroup> groupRecipients(const Router& router,
                                            const std::vector<std::string_view>& addresses,
                                            const std::vector<size_t>& indices, size_t limit) {
    std::vector<RecipientGroup> groups;
    std::unordered_map<std::string, size_t> open;  // key -> the group still taking recipients
    for (size_t index : indices) {
        Target target = router.resolve(addresses[index]);
        auto found = open.find(target.key);
        if (found == open.end() || groups[found->second].recipients.size() >= limit) {
            open[target.key] = groups.size();
            groups.push_back({std::move(target), {}});
            groups.back().recipients.push_back(index);
        } else {
            groups[found->second].recipients.push_back(index);
        }
    }
    return groups;
}

}  // namespace postern::qmgr
