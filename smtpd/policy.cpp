// policy.cpp: relay control, message limits and the free space check.
#include "policy.h"

#include "log.h"
#include "text_escape.h"

namespace postern::smtpd {

namespace {

std::string lowerCase(std::string_view text) {
    std::string lowered(text);
    for (char& c : lowered)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return lowered;
}

}  // namespace

std::string domainOf(std::string_view canonical) {
    size_t at = canonical.rfind('@');
    if (at == std::string_view::npos) return {};
    std::string domain = lowerCase(canonical.substr(at + 1));
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    return domain;
}

std::string canonicalAddress(const Address& address, const std::string& myorigin) {
    if (address.isNull()) return {};
    if (address.domain.empty()) return address.toString() + "@" + myorigin;
    return address.toString();
}

RelayPolicy::RelayPolicy(const Config& config) : mynetworks_(config.mynetworks) {
    for (const std::string& entry : config.relay_domains) {
        std::string domain = lowerCase(entry);
        if (!domain.empty() && domain.back() == '.') domain.pop_back();
        if (domain.starts_with('.')) {
            parentDomains_.push_back(std::move(domain));
        } else if (!domain.empty()) {
            exactDomains_.push_back(std::move(domain));
        }
    }
}

bool RelayPolicy::inMynetworks(const sockaddr* client) const {
    return anyNetworkContains(mynetworks_, client);
}

bool RelayPolicy::isRelayDomain(std::string_view domain) const {
    std::string wanted = lowerCase(domain);
    if (!wanted.empty() && wanted.back() == '.') wanted.pop_back();
    if (wanted.empty()) return false;
    for (const std::string& exact : exactDomains_)
        if (wanted == exact) return true;
    for (const std::string& parent : parentDomains_)
        if (wanted.size() > parent.size() && wanted.ends_with(parent)) return true;
    return false;
}

std::optional<SmtpReply> RelayPolicy::checkRecipient(std::string_view recipient,
                                                     bool trusted) const {
    if (trusted || isRelayDomain(domainOf(recipient))) return std::nullopt;
    return makeReply(554, "5.7.1", "<" + printable(recipient) + ">: Relay access denied");
}

std::optional<SmtpReply> MessageLimits::checkDeclaredSize(std::optional<uint64_t> size) const {
    if (messageSizeLimit > 0 && size && *size > messageSizeLimit)
        return makeReply(552, "5.3.4", "Message size exceeds fixed limit");
    return std::nullopt;
}

std::optional<SmtpReply> MessageLimits::checkRecipientCount(size_t accepted) const {
    if (recipientLimit > 0 && accepted >= size_t(recipientLimit))
        return makeReply(452, "4.5.3", "Error: too many recipients");
    return std::nullopt;
}

FreeSpaceCheck::FreeSpaceCheck(queue::QueueStore& store, uint64_t queueMinfree,
                               uint64_t messageSizeLimit)
    : store_(store), reserve_(std::max(queueMinfree, messageSizeLimit / 2 * 3)) {}

uint64_t FreeSpaceCheck::required(uint64_t declared) const {
    return declared > UINT64_MAX - reserve_ ? UINT64_MAX : reserve_ + declared;
}

std::optional<SmtpReply> FreeSpaceCheck::check(uint64_t declared, Clock::time_point now) {
    if (!cachedFree_ || now - cachedAt_ >= std::chrono::seconds(1)) {
        auto free = store_.freeBytes();
        if (!free) {
            log::warning("cannot read the queue file system's free space: %s",
                         free.error().c_str());
            return std::nullopt;
        }
        cachedFree_ = *free;
        cachedAt_ = now;
    }
    if (*cachedFree_ >= required(declared)) return std::nullopt;
    return makeReply(452, "4.3.1", "Insufficient system storage");
}

}  // namespace postern::smtpd
