// cli_test_support.h: what the CLI unit tests share: planting messages with chosen IDs,
// queues and recipient states into a queue store, and running with TZ=UTC.
#pragma once

#include <string>
#include <vector>

#include "queue_store.h"

namespace postern::cli::testing {

// A message to plant: envelope, recipients with their states, content.
struct PlantedMessage {
    std::string id;
    queue::QueueName queue = queue::QueueName::Deferred;
    queue::Envelope envelope;
    std::vector<queue::Recipient> recipients;
    std::vector<queue::RecipientStatus> statuses;  // one per recipient, or none (all pending)
    std::string content = "Subject: test\r\n\r\nbody\r\n";
    queue::Schedule schedule;
};

// Writes the message with the real queue writer, then places it under its ID in its queue
// and sets the recipient statuses and schedule (fails the running test on any error).
void plantMessage(queue::QueueStore& store, const PlantedMessage& message);

// A fixed queue ID for test number `n` (arrival order follows n).
std::string testQueueId(int n);

// Sets TZ=UTC while it lives, restoring the previous value.
class UtcZone {
public:
    UtcZone();
    ~UtcZone();
    UtcZone(const UtcZone&) = delete;
    UtcZone& operator=(const UtcZone&) = delete;

private:
    std::string previous_;
    bool hadPrevious_ = false;
};

}  // namespace postern::cli::testing
