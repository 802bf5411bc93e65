// qmgr_protocol.cpp: encoding and strict decoding of the frames qmgr takes on private/qmgr.
#include "qmgr_protocol.h"

#include "queue_id.h"

namespace postern::qmgr_protocol {
namespace {

constexpr ControlOp kAllOps[] = {ControlOp::Delete, ControlOp::Hold, ControlOp::Release,
                                 ControlOp::Requeue, ControlOp::Flush};

void addList(ipc::Message& message, const std::string& name, const std::vector<std::string>& items) {
    message.addInt(name + "_count", static_cast<int64_t>(items.size()));
    for (size_t i = 0; i < items.size(); i++) message.addString(name + "." + std::to_string(i), items[i]);
}

std::vector<std::string> readList(ipc::AttributeReader& reader, const std::string& name) {
    int64_t count = reader.int64(name + "_count", 0, kMaxIds);
    std::vector<std::string> items;
    for (int64_t i = 0; reader.ok() && i < count; i++) items.push_back(reader.string(name + "." + std::to_string(i)));
    return items;
}

// Every ID must be a queue ID (or the single word ALL where allowed): nothing else may
// reach a path.
Status checkIds(const std::vector<std::string>& ids, bool allowAll) {
    for (const auto& id : ids) {
        if (allowAll && id == kAllMessages && ids.size() == 1) continue;
        if (!queue::isValidQueueId(id)) return fail("not a queue ID");
    }
    return {};
}

}  // namespace

const char* opName(ControlOp op) {
    switch (op) {
        case ControlOp::Delete:
            return "delete";
        case ControlOp::Hold:
            return "hold";
        case ControlOp::Release:
            return "release";
        case ControlOp::Requeue:
            return "requeue";
        case ControlOp::Flush:
            return "flush";
    }
    return "unknown";
}

Result<ControlOp> parseOp(std::string_view name) {
    for (ControlOp op : kAllOps) {
        if (name == opName(op)) return op;
    }
    return fail("unknown operation \"" + std::string(name) + "\"");
}

std::vector<queue::QueueName> queuesForAll(ControlOp op) {
    using queue::QueueName;
    switch (op) {
        case ControlOp::Delete:
            return {QueueName::Incoming, QueueName::Active, QueueName::Deferred, QueueName::Hold};
        case ControlOp::Hold:
            return {QueueName::Incoming, QueueName::Active, QueueName::Deferred};
        case ControlOp::Release:
            return {QueueName::Hold};
        case ControlOp::Requeue:
            return {QueueName::Active, QueueName::Deferred, QueueName::Hold};
        case ControlOp::Flush:
            return {QueueName::Deferred};
    }
    return {};
}

const char* skippedMeaning(ControlOp op) {
    switch (op) {
        case ControlOp::Hold:
            return "already on hold";
        case ControlOp::Release:
            return "not on hold";
        case ControlOp::Flush:
            return "on hold (release them first)";
        default:
            return "skipped";
    }
}

ipc::FrameRules qmgrEndRules() {
    return {4 * 1024 * 1024, {{kNotifyProtocol, kNotifyVersion}, {kControlProtocol, kControlVersion}}};
}

ipc::FrameRules controlClientRules() { return {4 * 1024 * 1024, {{kControlProtocol, kControlVersion}}}; }

ipc::Message encodeNewMessage(const NewMessage& notice) {
    ipc::Message message(kNotifyProtocol, kNotifyVersion);
    message.addString("op", "new").addString("queue_id", notice.queueId);
    return message;
}

ipc::Message encodeControlRequest(const ControlRequest& request) {
    ipc::Message message(kControlProtocol, kControlVersion);
    message.addString("type", "request").addString("op", opName(request.op));
    addList(message, "id", request.ids);
    return message;
}

ipc::Message encodeControlReply(const ControlReply& reply) {
    ipc::Message message(kControlProtocol, kControlVersion);
    message.addString("type", "reply").addString("status", reply.ok ? "ok" : "error").addString("text", reply.text);
    addList(message, "done", reply.done);
    addList(message, "missing", reply.missing);
    return message;
}

Result<Incoming> decodeIncoming(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    if (message.protocol() == kNotifyProtocol) {
        if (reader.string("op") != "new") return fail("unknown notice");
        NewMessage notice{reader.string("queue_id")};
        if (auto finished = reader.finish(); !finished) return finished.failure();
        if (!queue::isValidQueueId(notice.queueId)) return fail("not a queue ID");
        return Incoming(notice);
    }
    if (reader.string("type") != "request") return fail("not a control request");
    std::string op = reader.string("op");
    ControlRequest request;
    request.ids = readList(reader, "id");
    if (auto finished = reader.finish(); !finished) return finished.failure();
    auto parsed = parseOp(op);
    if (!parsed) return parsed.failure();
    request.op = *parsed;
    if (auto checked = checkIds(request.ids, true); !checked) return checked.failure();
    return Incoming(request);
}

Result<ControlReply> decodeControlReply(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    if (reader.string("type") != "reply") return fail("not a control reply");
    std::string status = reader.string("status");
    ControlReply reply;
    reply.text = reader.string("text");
    reply.done = readList(reader, "done");
    reply.missing = readList(reader, "missing");
    if (auto finished = reader.finish(); !finished) return finished.failure();
    if (status != "ok" && status != "error") return fail("bad status \"" + status + "\"");
    reply.ok = status == "ok";
    if (auto checked = checkIds(reply.done, false); !checked) return checked.failure();
    return reply;
}

}  // namespace postern::qmgr_protocol
