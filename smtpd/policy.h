// policy.h: what smtpd accepts, as decisions separate from the protocol: relay control
// (relay_domains from anyone, anything from mynetworks and local submissions, else
// "554 5.7.1 <addr>: Relay access denied": never an open relay), the size and recipient
// limits, and the free space check (queue_minfree and 1.5 × message_size_limit, like
// Postfix). Each check returns the refusal to send, or nothing.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "address.h"
#include "config.h"
#include "queue_store.h"
#include "smtp_reply.h"

namespace postern::smtpd {

class RelayPolicy {
  public:
    explicit RelayPolicy(const Config& config);

    // True when the client may relay to any domain (its address is in mynetworks).
    bool inMynetworks(const sockaddr* client) const;
    // True when mail for `domain` is accepted from anyone: an exact relay_domains entry, or a
    // ".parent" entry for a subdomain of it. Case and a trailing dot do not matter.
    bool isRelayDomain(std::string_view domain) const;
    // The refusal for a recipient (canonical form), or nothing. `trusted`: mynetworks or a
    // local submission.
    std::optional<SmtpReply> checkRecipient(std::string_view recipient, bool trusted) const;

  private:
    std::vector<CidrNetwork> mynetworks_;
    std::vector<std::string> exactDomains_;
    std::vector<std::string> parentDomains_;  // ".example.com" entries, dot included
};

struct MessageLimits {
    uint64_t messageSizeLimit = 0;  // 0: none
    int recipientLimit = 0;         // 0: none

    // SIZE= of MAIL FROM against message_size_limit.
    std::optional<SmtpReply> checkDeclaredSize(std::optional<uint64_t> size) const;
    // One more recipient after `accepted` ones.
    std::optional<SmtpReply> checkRecipientCount(size_t accepted) const;
};

// The queue file system's free space against what smtpd must leave free. statvfs costs a
// system call, so the answer is kept for a second.
class FreeSpaceCheck {
  public:
    using Clock = std::chrono::steady_clock;
    FreeSpaceCheck(queue::QueueStore& store, uint64_t queueMinfree, uint64_t messageSizeLimit);

    // Bytes that must stay free before a message of `declared` bytes may come in:
    // max(queue_minfree, 1.5 × message_size_limit) + declared.
    uint64_t required(uint64_t declared) const;
    // "452 4.3.1 Insufficient system storage" when there is less, or nothing. A free space
    // that cannot be read is logged and not held against the client.
    std::optional<SmtpReply> check(uint64_t declared, Clock::time_point now = Clock::now());

  private:
    queue::QueueStore& store_;
    uint64_t reserve_;
    std::optional<uint64_t> cachedFree_;
    Clock::time_point cachedAt_;
};

// The canonical form of an address for the queue and the logs: an address without a domain
// gets @myorigin (Postfix's append_at_myorigin); the null sender stays empty.
std::string canonicalAddress(const Address& address, const std::string& myorigin);

// The domain `canonical` routes by (after the last '@'), lower-cased, trailing dot removed.
std::string domainOf(std::string_view canonical);

}  // namespace postern::smtpd
