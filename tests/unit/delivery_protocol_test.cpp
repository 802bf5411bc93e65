// delivery_protocol_test.cpp: unit tests for the qmgr ↔ smtp worker frames
// (lib/delivery_protocol) and the frames qmgr takes on private/qmgr (lib/qmgr_protocol).
#include <string>

#include "delivery_protocol.h"
#include "qmgr_protocol.h"
#include "queue_id.h"

#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::delivery_protocol;

namespace {

DeliveryRequest sampleRequest() {
    DeliveryRequest request;
    request.requestId = 42;
    request.queueId = queue::newQueueId();
    request.queueFile = "active/" + request.queueId;
    request.contentOffset = 512;
    request.contentLength = 4096;
    request.arrivalMicros = 1700000000000000;
    request.activeMicros = 1700000000100000;
    request.sender = "alice@example.org";
    request.envid = "env-1";
    request.ret = "HDRS";
    request.bodyType = "8BITMIME";
    request.smtputf8 = true;
    request.nexthop = "[127.0.0.1]:2525";
    request.domain = "example.com";
    request.tls = {"verify", {"mx.example.com", "example.com"}, "/etc/ca.pem", "", ""};
    request.recipients = {{0, "bob@example.com", "rfc822;bob@example.com", 6}, {3, "carol@example.com", "", 0}};
    return request;
}

// Passes a message through a frame and back, as the socket would.
ipc::Message throughFrame(const ipc::Message& message, const ipc::FrameRules& rules) {
    auto decoded = ipc::decodeFrame(ipc::encodeFrame(message), rules);
    CHECK(decoded.status == ipc::DecodeStatus::Message);
    return decoded.message;
}

// The same message without attribute NAME.
ipc::Message without(const ipc::Message& message, const std::string& name) {
    ipc::Message copy(message.protocol(), message.version());
    for (const auto& attr : message.attributes()) {
        if (attr.name != name) copy.addString(attr.name, attr.value);
    }
    return copy;
}

}  // namespace

TEST_GROUP(DeliveryProtocol){};

TEST(DeliveryProtocol, RequestRoundTrip) {
    DeliveryRequest sent = sampleRequest();
    auto got = decodeRequest(throughFrame(encodeRequest(sent), workerEndRules()));
    CHECK_TRUE(got.ok());
    STRCMP_EQUAL(sent.queueFile.c_str(), got->queueFile.c_str());
    LONGS_EQUAL(512, got->contentOffset);
    STRCMP_EQUAL("8BITMIME", got->bodyType.c_str());
    CHECK_TRUE(got->smtputf8);
    LONGS_EQUAL(2, got->tls.match.size());
    STRCMP_EQUAL("example.com", got->tls.match[1].c_str());
    LONGS_EQUAL(2, got->recipients.size());
    LONGS_EQUAL(3, got->recipients[1].index);
    STRCMP_EQUAL("rfc822;bob@example.com", got->recipients[0].orcpt.c_str());
    LONGS_EQUAL(6, got->recipients[0].notify);
}

TEST(DeliveryProtocol, CaPathIsOptional) {
    DeliveryRequest sent = sampleRequest();
    ipc::Message without = encodeRequest(sent);
    CHECK_TRUE(without.find("tls_ca_path") == nullptr);  // older frames look exactly like this
    STRCMP_EQUAL("", decodeRequest(without)->tls.caPath.c_str());
    sent.tls.caPath = "/etc/ssl/partner";
    auto got = decodeRequest(throughFrame(encodeRequest(sent), workerEndRules()));
    CHECK_TRUE(got.ok());
    STRCMP_EQUAL("/etc/ssl/partner", got->tls.caPath.c_str());
}

TEST(DeliveryProtocol, RequestMissingAnyAttributeIsRefused) {
    ipc::Message full = encodeRequest(sampleRequest());
    for (const auto& attr : full.attributes()) {
        auto got = decodeRequest(without(full, attr.name));
        CHECK_FALSE_TEXT(got.ok(), attr.name.c_str());
    }
}

TEST(DeliveryProtocol, RequestWithLeftoverOrBadValuesIsRefused) {
    ipc::Message extra = encodeRequest(sampleRequest());
    extra.addString("surprise", "1");
    CHECK_FALSE(decodeRequest(extra).ok());

    DeliveryRequest badLevel = sampleRequest();
    badLevel.tls.level = "paranoid";
    CHECK_FALSE(decodeRequest(encodeRequest(badLevel)).ok());

    DeliveryRequest noRecipients = sampleRequest();
    noRecipients.recipients.clear();
    CHECK_FALSE(decodeRequest(encodeRequest(noRecipients)).ok());
}

TEST(DeliveryProtocol, RepliesRoundTrip) {
    RecipientResult result{42, 3, RecipientOutcome::Bounced, "5.1.1", "550 5.1.1 no such user", "mx[192.0.2.1]:25"};
    auto got = decodeReply(throughFrame(encodeResult(result), qmgrEndRules()));
    CHECK_TRUE(got.ok());
    const auto& back = std::get<RecipientResult>(*got);
    LONGS_EQUAL(3, back.index);
    CHECK(back.outcome == RecipientOutcome::Bounced);
    STRCMP_EQUAL("550 5.1.1 no such user", back.reply.c_str());

    auto done = decodeReply(encodeDone({42}));
    CHECK_TRUE(done.ok());
    LONGS_EQUAL(42, std::get<DeliveryDone>(*done).requestId);
}

TEST(DeliveryProtocol, ResultWhoseCodeContradictsItsStatusIsRefused) {
    RecipientResult sentWith5 = {1, 0, RecipientOutcome::Sent, "5.0.0", "odd", "none"};
    CHECK_FALSE(decodeReply(encodeResult(sentWith5)).ok());
    RecipientResult garbage = {1, 0, RecipientOutcome::Deferred, "4.x.1", "odd", "none"};
    CHECK_FALSE(decodeReply(encodeResult(garbage)).ok());
    RecipientResult fine = {1, 0, RecipientOutcome::Deferred, "4.4.100", "ok", "none"};
    CHECK_TRUE(decodeReply(encodeResult(fine)).ok());
}

TEST_GROUP(QmgrProtocol){};

TEST(QmgrProtocol, NoticeAndControlRoundTrip) {
    std::string id = queue::newQueueId();
    auto notice = qmgr_protocol::decodeIncoming(throughFrame(qmgr_protocol::encodeNewMessage({id}), qmgr_protocol::qmgrEndRules()));
    CHECK_TRUE(notice.ok());
    STRCMP_EQUAL(id.c_str(), std::get<qmgr_protocol::NewMessage>(*notice).queueId.c_str());

    qmgr_protocol::ControlRequest request{qmgr_protocol::ControlOp::Hold, {id}};
    auto control = qmgr_protocol::decodeIncoming(qmgr_protocol::encodeControlRequest(request));
    CHECK_TRUE(control.ok());
    CHECK(std::get<qmgr_protocol::ControlRequest>(*control).op == qmgr_protocol::ControlOp::Hold);

    qmgr_protocol::ControlReply reply{true, "1 message placed on hold", {id}, {}};
    auto back = qmgr_protocol::decodeControlReply(qmgr_protocol::encodeControlReply(reply));
    CHECK_TRUE(back.ok());
    LONGS_EQUAL(1, back->done.size());
}

TEST(QmgrProtocol, PathLikeIdsAreRefused) {
    qmgr_protocol::ControlRequest sneaky{qmgr_protocol::ControlOp::Delete, {"../../etc/passwd"}};
    CHECK_FALSE(qmgr_protocol::decodeIncoming(qmgr_protocol::encodeControlRequest(sneaky)).ok());
    CHECK_FALSE(qmgr_protocol::decodeIncoming(qmgr_protocol::encodeNewMessage({"x/y"})).ok());
    qmgr_protocol::ControlRequest all{qmgr_protocol::ControlOp::Delete, {"ALL"}};
    CHECK_TRUE(qmgr_protocol::decodeIncoming(qmgr_protocol::encodeControlRequest(all)).ok());
    qmgr_protocol::ControlRequest mixed{qmgr_protocol::ControlOp::Delete, {"ALL", queue::newQueueId()}};
    CHECK_FALSE(qmgr_protocol::decodeIncoming(qmgr_protocol::encodeControlRequest(mixed)).ok());
}
