// queue_listing.h: what `postern queue` (and mailq, sendmail -bp) lists: the messages of
// the queue with their pending recipients and deferral reasons, filtered by queue, sender
// or recipient domain, printed in Postfix's mailq layout (postqueue -p with long queue
// IDs, since ours are 17 characters) or as postqueue -j JSON Lines.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "queue_message.h"
#include "queue_store.h"

namespace postern::cli {

// One recipient still to be delivered.
struct ListedRecipient {
    std::string address;
    std::string origAddress;  // from ORCPT, decoded; empty when not given
    std::string reason;       // why it waits (deferred or failed); empty when none
};

// One message as the listing shows it.
struct ListedMessage {
    queue::QueueName queue = queue::QueueName::Incoming;
    std::string id;
    int64_t arrivalSeconds = 0;
    uint64_t size = 0;  // the content's bytes (header and body)
    std::string sender;  // empty for the null sender
    std::vector<ListedRecipient> recipients;  // those not delivered or bounced yet
};

// Which messages to list. Empty fields do not filter.
struct ListFilter {
    std::vector<queue::QueueName> queues;  // default: incoming active deferred hold
    // Exact, case-insensitive; "", "<>" and "MAILER-DAEMON" stand for the null sender.
    std::optional<std::string> sender;
    std::string recipientDomain;  // a recipient's domain, case-insensitive; ".d" = below d

    // True when the message passes every filter.
    bool matches(const ListedMessage& message) const;
    // The queues to scan, in listing order.
    std::vector<queue::QueueName> queuesToScan() const;
};

// The listing's view of an open message in `queue`.
ListedMessage describeMessage(queue::QueueName queue, const queue::MessageHandle& handle);

// Calls `visit` for every readable message that passes `filter`, queue by queue, in ID
// (arrival) order. A message that moved or vanished while listing is skipped; one that
// cannot be read is reported through `warn` ("ID: reason") and skipped.
Status forEachListedMessage(queue::QueueStore& store, const ListFilter& filter,
                            const std::function<void(const ListedMessage&)>& visit,
                            const std::function<void(const std::string&)>& warn);

// Postfix's mailq text, built one message at a time.
class MailqFormatter {
public:
    // The text for one message (the heading before the first, a blank line before others).
    std::string message(const ListedMessage& message);
    // The end: "-- N Kbytes in M Requests." or "Mail queue is empty".
    std::string finish() const;

private:
    uint64_t count_ = 0;
    uint64_t totalBytes_ = 0;
};

// One postqueue -j JSON object (one line, with its newline).
std::string formatJsonLine(const ListedMessage& message);

// "incoming", "active", ... as JSON and the listing name them.
std::string queueLabel(queue::QueueName queue);

}  // namespace postern::cli
