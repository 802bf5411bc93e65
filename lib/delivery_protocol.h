// delivery_protocol.h: the "delivery" protocol between qmgr and the smtp workers
// (docs/PROTOCOLS.md). qmgr sends one DeliveryRequest per connection on private/smtp; the
// worker answers with one RecipientResult per recipient, then a DeliveryDone. Both ends
// encode and check the frames here, so the two sides cannot drift.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "ipc.h"
#include "result.h"

namespace postern::delivery_protocol {

constexpr const char* kProtocol = "delivery";
constexpr uint16_t kVersion = 1;
// A request carries up to destination_recipient_limit recipients of at most a few hundred
// bytes each; 4 MiB leaves room for generous limits.
constexpr size_t kMaxFrameBytes = 4 * 1024 * 1024;
constexpr size_t kMaxRecipients = 10000;

struct RequestRecipient {
    int64_t index = 0;    // position of the recipient in the queue file
    std::string address;  // without angle brackets
    std::string orcpt;    // ORCPT as stored ("rfc822;a@b.example"), may be empty
    int64_t notify = 0;   // queue::NotifyFlag bits, 0 = unset
};

// The TLS policy of the route, as plain values (config's SmtpTlsPolicy in wire form).
struct RequestTls {
    std::string level;               // none | may | encrypt | verify | secure
    std::vector<std::string> match;  // names to match for verify/secure
    std::string caFile, certFile, keyFile;
    // Optional on the wire ("tls_ca_path"), sent only when set; a default member initializer
    // keeps aggregate initializations of the five fields above warning-free.
    std::string caPath = {};
};

struct DeliveryRequest {
    int64_t requestId = 0;
    std::string queueId;
    std::string queueFile;  // relative to queue_directory: "active/ID"
    int64_t contentOffset = 0;
    int64_t contentLength = 0;
    int64_t arrivalMicros = 0;  // when the message arrived
    int64_t activeMicros = 0;   // when qmgr took it into active/ (for delays=)
    std::string sender;         // empty = null sender
    std::string envid;
    std::string ret;       // "FULL", "HDRS" or ""
    std::string bodyType;  // "7BIT", "8BITMIME", "BINARYMIME" or ""
    bool smtputf8 = false;
    std::string nexthop;  // the route's next hop in config form: mx, host[:port], [host]:port
    std::string domain;   // the recipients' domain
    RequestTls tls;
    std::vector<RequestRecipient> recipients;
};

enum class RecipientOutcome { Sent, Deferred, Bounced };

struct RecipientResult {
    int64_t requestId = 0;
    int64_t index = 0;
    RecipientOutcome outcome = RecipientOutcome::Deferred;
    std::string dsn;    // "2.0.0", "4.4.1", "5.1.1"
    std::string reply;  // the remote reply or local reason, one printable line
    std::string relay;  // "host[ip]:port" or "none"
};

struct DeliveryDone {
    int64_t requestId = 0;
};

// "sent", "deferred", "bounced".
const char* outcomeName(RecipientOutcome outcome);

// The frame rules of each end: the worker accepts requests, qmgr accepts replies.
ipc::FrameRules workerEndRules();
ipc::FrameRules qmgrEndRules();

// Builds and strictly reads a request.
ipc::Message encodeRequest(const DeliveryRequest& request);
Result<DeliveryRequest> decodeRequest(const ipc::Message& message);

// Builds the two kinds of reply; decodeReply tells which one came.
ipc::Message encodeResult(const RecipientResult& result);
ipc::Message encodeDone(const DeliveryDone& done);
using Reply = std::variant<RecipientResult, DeliveryDone>;
Result<Reply> decodeReply(const ipc::Message& message);

}  // namespace postern::delivery_protocol
