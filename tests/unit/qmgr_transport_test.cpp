// qmgr_transport_test.cpp: unit tests for qmgr/worker_transport.h against a worker played
// by the test on a real UNIX socket (results, done, early close, garbage, a reply for
// another request, silence, no worker, cancelling), qmgr/queue_lock.h and the log lines of
// qmgr/delivery_log.h.
#include <sys/socket.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc_channel.h"
#include "log.h"
#include "qmgr/delivery_log.h"
#include "qmgr/queue_lock.h"
#include "qmgr/worker_transport.h"
#include "sockets.h"
#include "test_support.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;
namespace dp = postern::delivery_protocol;
using postern::testing::runUntil;
using postern::testing::TempDir;

namespace {

dp::DeliveryRequest sampleRequest(int64_t id) {
    dp::DeliveryRequest request;
    request.requestId = id;
    request.queueId = "4ZXba987650001xyz";
    request.queueFile = "active/4ZXba987650001xyz";
    request.sender = "alice@example.org";
    request.nexthop = "mx";
    request.domain = "example.net";
    request.tls.level = "may";
    request.recipients = {{0, "bob@example.net", "", 0}};
    return request;
}

// What the transport reported for one delivery.
struct Observed {
    std::vector<dp::RecipientResult> results;
    std::optional<std::string> end;
};

}  // namespace

TEST_GROUP(QmgrWorkerTransport) {
    TempDir dir;
    EventBasePtr base;
    UniqueFd listener;
    std::string path;
    std::unique_ptr<ipc::Channel> worker;  // the test's end of the accepted connection
    std::vector<ipc::Message> toWorker;
    bool workerSawClose = false;
    log::Capture logs;

    void setup() override {
        base.reset(event_base_new());
        path = dir.path + "/smtp";
        auto bound = sockets::listenUnix(path, 0600);
        CHECK_TRUE(bound.ok());
        listener = std::move(bound.value());
    }
    void teardown() override {
        worker.reset();
        base.reset();
    }

    // Starts a delivery and accepts it as the worker; returns the connection.
    std::unique_ptr<DeliveryConnection> startDelivery(WorkerTransport & transport, Observed & seen,
                                                      int64_t id = 7) {
        DeliveryEvents events;
        events.onResult = [&seen](const dp::RecipientResult& result) {
            seen.results.push_back(result);
        };
        events.onEnd = [&seen](const std::string& failure) { seen.end = failure; };
        auto started = transport.start(sampleRequest(id), std::move(events));
        CHECK_TEXT(started.ok(), started.ok() ? "" : started.error().c_str());
        UniqueFd accepted = sockets::acceptConnection(listener.get(), nullptr);
        CHECK_TRUE(accepted.valid());
        ipc::ChannelOptions options;
        options.peer = "qmgr";
        options.rules = dp::workerEndRules();
        auto channel = ipc::Channel::open(
            base.get(), std::move(accepted), std::move(options),
            [this](ipc::Message&& message) { toWorker.push_back(std::move(message)); },
            [this](ipc::CloseReason, const std::string&) { workerSawClose = true; });
        CHECK_TRUE(channel.ok());
        worker = std::move(channel.value());
        CHECK_TRUE(runUntil(base.get(), [this] { return !toWorker.empty(); }));
        return std::move(started.value());
    }

    WorkerTransport transport(std::chrono::milliseconds silence = std::chrono::seconds(10)) {
        return WorkerTransport(base.get(), path, silence, nullptr);
    }
};

TEST(QmgrWorkerTransport, CarriesTheRequestTheResultsAndTheEnd) {
    auto workers = transport();
    Observed seen;
    auto connection = startDelivery(workers, seen);
    auto request = dp::decodeRequest(toWorker.at(0));
    CHECK_TRUE(request.ok());
    STRCMP_EQUAL("bob@example.net", request->recipients.at(0).address.c_str());
    dp::RecipientResult result{7,       0,        dp::RecipientOutcome::Sent,
                               "2.0.0", "250 ok", "mx[192.0.2.1]:25"};
    CHECK_TRUE(worker->send(dp::encodeResult(result)).ok());
    CHECK_TRUE(worker->send(dp::encodeDone({7})).ok());
    CHECK_TRUE(runUntil(base.get(), [&] { return seen.end.has_value(); }));
    LONGS_EQUAL(1, seen.results.size());
    STRCMP_EQUAL("250 ok", seen.results[0].reply.c_str());
    STRCMP_EQUAL("", seen.end->c_str());
}

TEST(QmgrWorkerTransport, AWorkerThatClosesEarlyEndsTheDelivery) {
    auto workers = transport();
    Observed seen;
    auto connection = startDelivery(workers, seen);
    worker.reset();
    CHECK_TRUE(runUntil(base.get(), [&] { return seen.end.has_value(); }));
    STRCMP_EQUAL("lost connection with the smtp worker (connection closed)", seen.end->c_str());
}

TEST(QmgrWorkerTransport, GarbageAndRepliesForAnotherRequestAreRefused) {
    auto workers = transport();
    Observed garbage;
    auto first = startDelivery(workers, garbage);
    ipc::Message wrong(dp::kProtocol, dp::kVersion);
    wrong.addString("type", "mystery");
    CHECK_TRUE(worker->send(wrong).ok());
    CHECK_TRUE(runUntil(base.get(), [&] { return garbage.end.has_value(); }));
    STRCMP_EQUAL("malformed reply from the smtp worker", garbage.end->c_str());
    CHECK_TRUE(runUntil(base.get(), [&] { return workerSawClose; }));

    Observed other;
    toWorker.clear();
    auto second = startDelivery(workers, other, 8);
    CHECK_TRUE(worker->send(dp::encodeDone({9})).ok());
    CHECK_TRUE(runUntil(base.get(), [&] { return other.end.has_value(); }));
    STRCMP_EQUAL("malformed reply from the smtp worker", other.end->c_str());
    CHECK_TRUE(logs.contains("reply for request 9 on the connection of request 8"));
}

TEST(QmgrWorkerTransport, ASilentWorkerIsGivenUp) {
    auto workers = transport(std::chrono::milliseconds(100));
    Observed seen;
    auto connection = startDelivery(workers, seen);
    CHECK_TRUE(runUntil(base.get(), [&] { return seen.end.has_value(); }));
    CHECK_TRUE(seen.end->starts_with("the smtp worker made no progress"));
}

TEST(QmgrWorkerTransport, CancellingClosesTheWorkersConnection) {
    auto workers = transport();
    Observed seen;
    auto connection = startDelivery(workers, seen);
    connection.reset();
    CHECK_TRUE(runUntil(base.get(), [this] { return workerSawClose; }));
    CHECK_FALSE(seen.end.has_value());
}

TEST(QmgrWorkerTransport, NoWorkerFailsAtOnce) {
    listener.reset();
    unlink(path.c_str());
    auto workers = transport();
    auto started = workers.start(sampleRequest(1), DeliveryEvents());
    CHECK_FALSE(started.ok());
    STRCMP_EQUAL("connect to private/smtp: No such file or directory", started.error().c_str());
}

TEST_GROUP(QmgrLock){};

TEST(QmgrLock, OnlyOneHolderAtATime) {
    TempDir dir;
    CHECK_EQUAL(0, mkdir((dir.path + "/pid").c_str(), 0755));
    auto first = takeQmgrLock(dir.path, std::chrono::milliseconds(0));
    CHECK_TRUE(first.ok());
    auto second = takeQmgrLock(dir.path, std::chrono::milliseconds(200));
    CHECK_FALSE(second.ok());
    CHECK_TRUE(second.error().find("another qmgr is running") != std::string::npos);
    CHECK_TRUE(second.error().find("/pid/qmgr.lock") != std::string::npos);
    first.value().reset();
    CHECK_TRUE(takeQmgrLock(dir.path, std::chrono::milliseconds(0)).ok());
}

TEST_GROUP(QmgrDeliveryLog){};

TEST(QmgrDeliveryLog, DelaysInPostfixNotation) {
    STRCMP_EQUAL("0", formatDelay(0).c_str());
    STRCMP_EQUAL("0", formatDelay(-5).c_str());
    STRCMP_EQUAL("0.03", formatDelay(30000).c_str());
    STRCMP_EQUAL("0.1", formatDelay(100000).c_str());
    STRCMP_EQUAL("1.2", formatDelay(1234000).c_str());
    STRCMP_EQUAL("10", formatDelay(10000000).c_str());
    STRCMP_EQUAL("12", formatDelay(12400000).c_str());
    STRCMP_EQUAL("4000", formatDelay(4000000000).c_str());
}

TEST(QmgrDeliveryLog, RecipientLine) {
    RecipientLogLine line{"QID",
                          "bob@example.net",
                          1000000,
                          1500000,
                          3000000,
                          "4.3.0",
                          "deferred (delivery temporarily suspended: x)"};
    STRCMP_EQUAL(
        "QID: to=<bob@example.net>, relay=none, delay=2, delays=0.5/1.5/0/0, dsn=4.3.0, "
        "status=deferred (delivery temporarily suspended: x)",
        formatRecipientLine(line).c_str());
}
