// qmgr_test_support.h: a bench for the queue manager's unit tests: an in-memory queue, a
// fake worker transport the test answers by hand, a fake wake-up timer and clock, and
// helpers to queue messages and read back their state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "delivery_protocol.h"
#include "log.h"
#include "qmgr/queue_manager.h"
#include "qmgr/routing.h"
#include "qmgr/settings.h"
#include "qmgr/transport.h"
#include "queue_memory_store.h"

namespace postern::qmgr::testing {

// One delivery the queue manager started on the fake transport.
struct FakeDelivery {
    delivery_protocol::DeliveryRequest request;
    DeliveryEvents events;
    bool ended = false;      // the fake sent its end
    bool cancelled = false;  // qmgr closed the connection before the end
};

class FakeTransport : public DeliveryTransport {
  public:
    Result<std::unique_ptr<DeliveryConnection>> start(
        const delivery_protocol::DeliveryRequest& request, DeliveryEvents events) override;
    // Makes start() fail with this text (empty: succeed).
    std::string failure;
    std::vector<std::shared_ptr<FakeDelivery>> deliveries;

    // Deliveries started and not yet ended or cancelled.
    std::vector<std::shared_ptr<FakeDelivery>> open() const;
};

class FakeWakeup : public Wakeup {
  public:
    void wakeAt(int64_t micros) override { at = micros; }
    int64_t at = 0;
};

// A message to queue.
struct TestMessage {
    std::string sender = "alice@example.org";
    std::vector<queue::Recipient> recipients = {{"bob@example.net", "", 0}};
    std::string content = "From: alice@example.org\r\nSubject: test\r\n\r\nhello\r\n";
    queue::ReturnContent ret = queue::ReturnContent::Unset;
    std::string envid;
};

class QmgrBench {
  public:
    // A queue manager with short, round settings: back-off 10 s..80 s, lifetime 1000 s.
    QmgrBench();
    explicit QmgrBench(Settings settings, Config config = Config());

    // Writes a message into incoming/ (arrival = the fake clock) and returns its ID.
    std::string queueMessage(const TestMessage& message);
    // Queues a message and tells the manager about it.
    std::string submit(const TestMessage& message);
    // Moves the fake clock and calls wake().
    void advance(int64_t seconds);

    // Answers a recipient of a delivery ("sent", "deferred", "bounced").
    static void answer(FakeDelivery& delivery, size_t position,
                delivery_protocol::RecipientOutcome outcome, const std::string& dsn,
                const std::string& reply);
    // The worker's "done".
    static void done(FakeDelivery& delivery);
    // Answers every recipient of the delivery with one outcome, then "done".
    static void answerAll(FakeDelivery& delivery, delivery_protocol::RecipientOutcome outcome,
                   const std::string& dsn, const std::string& reply);

    // The queue that holds the ID, or nullopt.
    std::optional<queue::QueueName> where(const std::string& id);
    // The parsed file, wherever it is.
    queue::QueueMessage file(const std::string& id);
    // The content of a message, wherever it is.
    std::string content(const std::string& id);
    // The deliveries of notices (null sender) started so far.
    std::vector<std::shared_ptr<FakeDelivery>> noticeDeliveries() const;

    Settings settings;
    Config config;
    int64_t now;
    queue::MemoryQueueStore store;
    Router router;
    FakeTransport transport;
    FakeWakeup wakeup;
    log::Capture logs;
    std::unique_ptr<QueueManager> manager;
};

// Writes a message into STORE's incoming/ (arrival = NOW) and returns its ID.
std::string queueTestMessage(queue::QueueStore& store, const TestMessage& message, int64_t now);

// Settings with small numbers for tests.
Settings testSettings();

}  // namespace postern::qmgr::testing
