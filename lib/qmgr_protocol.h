// qmgr_protocol.h: the messages qmgr takes on private/qmgr (docs/PROTOCOLS.md): the
// "qmgr-notify" notices from smtpd (a new message is in incoming/) and the "qmgr-control"
// requests of `postern queue` (delete, hold, release, requeue, flush) with their replies.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "ipc.h"
#include "queue_store.h"
#include "result.h"

namespace postern::qmgr_protocol {

constexpr const char* kNotifyProtocol = "qmgr-notify";
constexpr uint16_t kNotifyVersion = 1;
constexpr const char* kControlProtocol = "qmgr-control";
constexpr uint16_t kControlVersion = 1;
constexpr size_t kMaxIds = 100000;
// The word that stands for every message in a control request.
constexpr const char* kAllMessages = "ALL";

// smtpd → qmgr: a message was committed to incoming/.
struct NewMessage {
    std::string queueId;
};

enum class ControlOp { Delete, Hold, Release, Requeue, Flush };

// postern queue → qmgr.
struct ControlRequest {
    ControlOp op = ControlOp::Flush;
    std::vector<std::string> ids;  // queue IDs, or the one word ALL; empty for a whole flush
};

// qmgr → postern queue.
struct ControlReply {
    bool ok = true;
    std::string text;                  // for a person
    std::vector<std::string> done;     // IDs acted on
    std::vector<std::string> missing;  // IDs not found
};

// "delete", "hold", "release", "requeue", "flush"; parseOp is the reverse.
const char* opName(ControlOp op);
Result<ControlOp> parseOp(std::string_view name);

// The queues ALL stands for in a request: delete every queue but corrupt/, hold incoming/
// active/ deferred/, release hold/, requeue active/ deferred/ hold/, flush deferred/. Both
// qmgr and `postern queue` (on the files, while postern is stopped) go by it.
std::vector<queue::QueueName> queuesForAll(ControlOp op);

// What a message left alone by an operation is, in a reply's text ("already on hold").
const char* skippedMeaning(ControlOp op);

// qmgr's end accepts notices and control requests; the CLI's end accepts control replies.
ipc::FrameRules qmgrEndRules();
ipc::FrameRules controlClientRules();

ipc::Message encodeNewMessage(const NewMessage& notice);
ipc::Message encodeControlRequest(const ControlRequest& request);
ipc::Message encodeControlReply(const ControlReply& reply);

// What qmgr can receive: a notice or a control request.
using Incoming = std::variant<NewMessage, ControlRequest>;
Result<Incoming> decodeIncoming(const ipc::Message& message);
Result<ControlReply> decodeControlReply(const ipc::Message& message);

}  // namespace postern::qmgr_protocol
