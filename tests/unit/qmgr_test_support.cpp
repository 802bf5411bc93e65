// qmgr_test_support.cpp: the queue manager's test bench (see qmgr_test_support.h).
#include "qmgr_test_support.h"

#include "queue_id.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

namespace postern::qmgr::testing {

namespace {

class FakeConnection : public DeliveryConnection {
  public:
    explicit FakeConnection(std::shared_ptr<FakeDelivery> delivery)
        : delivery_(std::move(delivery)) {}
    ~FakeConnection() override {
        if (!delivery_->ended) delivery_->cancelled = true;
    }

  private:
    std::shared_ptr<FakeDelivery> delivery_;
};

}  // namespace

Result<std::unique_ptr<DeliveryConnection>> FakeTransport::start(
    const delivery_protocol::DeliveryRequest& request, DeliveryEvents events) {
    if (!failure.empty()) return fail(failure);
    auto delivery = std::make_shared<FakeDelivery>();
    delivery->request = request;
    delivery->events = std::move(events);
    deliveries.push_back(delivery);
    return std::unique_ptr<DeliveryConnection>(std::make_unique<FakeConnection>(delivery));
}

std::vector<std::shared_ptr<FakeDelivery>> FakeTransport::open() const {
    std::vector<std::shared_ptr<FakeDelivery>> result;
    for (const auto& delivery : deliveries) {
        if (!delivery->ended && !delivery->cancelled) result.push_back(delivery);
    }
    return result;
}

Settings testSettings() {
    Settings settings;
    settings.myhostname = "mx.test.example";
    settings.minimalBackoff = 10 * kMicrosPerSecond;
    settings.maximalBackoff = 80 * kMicrosPerSecond;
    settings.queueRunDelay = 60 * kMicrosPerSecond;
    settings.maximalQueueLifetime = 1000 * kMicrosPerSecond;
    settings.bounceQueueLifetime = 500 * kMicrosPerSecond;
    settings.destinationConcurrencyLimit = 2;
    settings.totalConcurrencyLimit = 10;
    settings.destinationRecipientLimit = 50;
    settings.activeLimit = 100;
    settings.bounceSizeLimit = 1000;
    return settings;
}

QmgrBench::QmgrBench() : QmgrBench(testSettings()) {}

QmgrBench::QmgrBench(Settings settings_, Config config_)
    : settings(std::move(settings_)),
      config(std::move(config_)),
      now(queue::realtimeMicros()),
      store([this] { return now; }),
      router(config) {
    manager = std::make_unique<QueueManager>(store, settings, router, transport, wakeup,
                                             [this] { return now; });
    manager->start();
}

std::string QmgrBench::queueMessage(const TestMessage& message) {
    return queueTestMessage(store, message, now);
}

std::string queueTestMessage(queue::QueueStore& store, const TestMessage& message, int64_t now) {
    queue::Envelope envelope;
    envelope.arrivalMicros = now;
    envelope.sender = message.sender;
    envelope.envid = message.envid;
    envelope.ret = message.ret;
    envelope.client.hostname = "client.example";
    envelope.client.address = "192.0.2.1";
    envelope.client.heloName = "client.example";
    auto writer = store.createMessage(envelope, message.recipients);
    CHECK_TRUE_TEXT(writer.ok(), writer.ok() ? "" : writer.error().c_str());
    CHECK_TRUE(writer.value()->appendContent(message.content).ok());
    auto committed = writer.value()->commit();
    CHECK_TRUE_TEXT(committed.ok(), committed.ok() ? "" : committed.error().c_str());
    return writer.value()->id();
}

std::string QmgrBench::submit(const TestMessage& message) {
    std::string id = queueMessage(message);
    manager->newMessage(id);
    return id;
}

void QmgrBench::advance(int64_t seconds) {
    now += seconds * kMicrosPerSecond;
    manager->wake();
}

void QmgrBench::answer(FakeDelivery& delivery, size_t position,
                       delivery_protocol::RecipientOutcome outcome, const std::string& dsn,
                       const std::string& reply) {
    delivery_protocol::RecipientResult result;
    result.requestId = delivery.request.requestId;
    result.index = delivery.request.recipients.at(position).index;
    result.outcome = outcome;
    result.dsn = dsn;
    result.reply = reply;
    result.relay = "mx.example.net[192.0.2.25]:25";
    auto onResult = delivery.events.onResult;
    onResult(result);
}

void QmgrBench::done(FakeDelivery& delivery) {
    delivery.ended = true;
    auto onEnd = delivery.events.onEnd;
    onEnd("");
}

void QmgrBench::answerAll(FakeDelivery& delivery, delivery_protocol::RecipientOutcome outcome,
                          const std::string& dsn, const std::string& reply) {
    for (size_t i = 0; i < delivery.request.recipients.size(); ++i)
        answer(delivery, i, outcome, dsn, reply);
    done(delivery);
}

std::optional<queue::QueueName> QmgrBench::where(const std::string& id) {
    auto found = store.find(id);
    CHECK_TRUE(found.ok());
    return *found;
}

queue::QueueMessage QmgrBench::file(const std::string& id) {
    auto queue = where(id);
    CHECK_TRUE_TEXT(queue.has_value(), (id + " is in no queue").c_str());
    auto handle = store.open(*queue, id, queue::Access::ReadOnly);
    CHECK_TRUE_TEXT(handle.ok(), handle.ok() ? "" : handle.error().c_str());
    return handle.value()->message();
}

std::string QmgrBench::content(const std::string& id) {
    auto queue = where(id);
    CHECK_TRUE(queue.has_value());
    auto handle = store.open(*queue, id, queue::Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    auto bytes = handle.value()->readContent(0, 1 << 20);
    CHECK_TRUE(bytes.ok());
    return bytes.value();
}

std::vector<std::shared_ptr<FakeDelivery>> QmgrBench::noticeDeliveries() const {
    std::vector<std::shared_ptr<FakeDelivery>> notices;
    for (const auto& delivery : transport.deliveries) {
        if (delivery->request.sender.empty()) notices.push_back(delivery);
    }
    return notices;
}

}  // namespace postern::qmgr::testing
