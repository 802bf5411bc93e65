// delivery_protocol.cpp: encoding and strict decoding of the qmgr ↔ smtp worker frames.
#include "delivery_protocol.h"

#include <limits>
#include <sstream>

namespace postern::delivery_protocol {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr const char* kLevels[] = {"none", "may", "encrypt", "verify", "secure"};

// "rcpt.3.address"
std::string recipientAttr(size_t index, const char* field) {
    return "rcpt." + std::to_string(index) + "." + field;
}

std::string joinWords(const std::vector<std::string>& words) {
    std::string joined;
    for (const auto& word : words) {
        if (!joined.empty()) joined += ' ';
        joined += word;
    }
    return joined;
}

std::vector<std::string> splitWords(const std::string& text) {
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string word; in >> word;) words.push_back(word);
    return words;
}

bool isOneOf(const std::string& value, std::initializer_list<const char*> allowed) {
    for (const char* candidate : allowed) {
        if (value == candidate) return true;
    }
    return false;
}

// Reads the recipient list; errors stay in the reader.
std::vector<RequestRecipient> readRecipients(ipc::AttributeReader& reader) {
    int64_t count = reader.int64("rcpt_count", 1, kMaxRecipients);
    std::vector<RequestRecipient> recipients;
    for (int64_t i = 0; reader.ok() && i < count; i++) {
        RequestRecipient rcpt;
        rcpt.index = reader.int64(recipientAttr(i, "index"), 0, kMaxInt);
        rcpt.address = reader.string(recipientAttr(i, "address"));
        rcpt.orcpt = reader.string(recipientAttr(i, "orcpt"));
        rcpt.notify = reader.int64(recipientAttr(i, "notify"), 0, 15);
        recipients.push_back(std::move(rcpt));
    }
    return recipients;
}

Status checkRequestValues(const DeliveryRequest& request) {
    bool knownLevel = false;
    for (const char* level : kLevels) knownLevel = knownLevel || request.tls.level == level;
    if (!knownLevel) return fail("unknown tls_level \"" + request.tls.level + "\"");
    if (!isOneOf(request.ret, {"", "FULL", "HDRS"})) return fail("bad ret value");
    if (!isOneOf(request.bodyType, {"", "7BIT", "8BITMIME", "BINARYMIME"}))
        return fail("bad body_type value");
    if (request.queueId.empty() || request.queueFile.empty() || request.nexthop.empty())
        return fail("empty queue_id, queue_file or nexthop");
    return {};
}

// "2.0.0", "4.4.1", "5.1.10": class digit matching the outcome, then two numbers of 1-3 digits.
bool isEnhancedCodeFor(const std::string& dsn, RecipientOutcome outcome) {
    char expected = outcome == RecipientOutcome::Sent ? '2' : outcome == RecipientOutcome::Deferred ? '4' : '5';
    if (dsn.size() < 5 || dsn[0] != expected || dsn[1] != '.') return false;
    size_t digits = 0, dots = 0;
    for (size_t i = 2; i < dsn.size(); i++) {
        if (dsn[i] == '.') {
            if (digits == 0 || ++dots > 1) return false;
            digits = 0;
        } else if (dsn[i] >= '0' && dsn[i] <= '9' && ++digits <= 3) {
            continue;
        } else {
            return false;
        }
    }
    return dots == 1 && digits > 0;
}

}  // namespace

const char* outcomeName(RecipientOutcome outcome) {
    switch (outcome) {
        case RecipientOutcome::Sent:
            return "sent";
        case RecipientOutcome::Deferred:
            return "deferred";
        case RecipientOutcome::Bounced:
            return "bounced";
    }
    return "unknown";
}

ipc::FrameRules workerEndRules() { return {kMaxFrameBytes, {{kProtocol, kVersion}}}; }
ipc::FrameRules qmgrEndRules() { return {64 * 1024, {{kProtocol, kVersion}}}; }

ipc::Message encodeRequest(const DeliveryRequest& request) {
    ipc::Message message(kProtocol, kVersion);
    message.addString("type", "request")
        .addInt("request_id", request.requestId)
        .addString("queue_id", request.queueId)
        .addString("queue_file", request.queueFile)
        .addInt("content_offset", request.contentOffset)
        .addInt("content_length", request.contentLength)
        .addInt("arrival_us", request.arrivalMicros)
        .addInt("active_us", request.activeMicros)
        .addString("sender", request.sender)
        .addString("envid", request.envid)
        .addString("ret", request.ret)
        .addString("body_type", request.bodyType)
        .addBool("smtputf8", request.smtputf8)
        .addString("nexthop", request.nexthop)
        .addString("domain", request.domain)
        .addString("tls_level", request.tls.level)
        .addString("tls_match", joinWords(request.tls.match))
        .addString("tls_ca_file", request.tls.caFile)
        .addString("tls_cert_file", request.tls.certFile)
        .addString("tls_key_file", request.tls.keyFile);
    // Optional, so that frames from before it existed still decode.
    if (!request.tls.caPath.empty()) message.addString("tls_ca_path", request.tls.caPath);
    message.addInt("rcpt_count", static_cast<int64_t>(request.recipients.size()));
    for (size_t i = 0; i < request.recipients.size(); i++) {
        const RequestRecipient& rcpt = request.recipients[i];
        message.addInt(recipientAttr(i, "index"), rcpt.index)
            .addString(recipientAttr(i, "address"), rcpt.address)
            .addString(recipientAttr(i, "orcpt"), rcpt.orcpt)
            .addInt(recipientAttr(i, "notify"), rcpt.notify);
    }
    return message;
}

Result<DeliveryRequest> decodeRequest(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    DeliveryRequest request;
    if (reader.string("type") != "request") return fail("not a delivery request");
    request.requestId = reader.int64("request_id", 0, kMaxInt);
    request.queueId = reader.string("queue_id");
    request.queueFile = reader.string("queue_file");
    request.contentOffset = reader.int64("content_offset", 0, kMaxInt);
    request.contentLength = reader.int64("content_length", 0, kMaxInt);
    request.arrivalMicros = reader.int64("arrival_us", 0, kMaxInt);
    request.activeMicros = reader.int64("active_us", 0, kMaxInt);
    request.sender = reader.string("sender");
    request.envid = reader.string("envid");
    request.ret = reader.string("ret");
    request.bodyType = reader.string("body_type");
    request.smtputf8 = reader.boolean("smtputf8");
    request.nexthop = reader.string("nexthop");
    request.domain = reader.string("domain");
    request.tls.level = reader.string("tls_level");
    request.tls.match = splitWords(reader.string("tls_match"));
    request.tls.caFile = reader.string("tls_ca_file");
    request.tls.certFile = reader.string("tls_cert_file");
    request.tls.keyFile = reader.string("tls_key_file");
    request.tls.caPath = reader.optionalString("tls_ca_path").value_or("");
    request.recipients = readRecipients(reader);
    if (auto finished = reader.finish(); !finished) return finished.failure();
    if (auto checked = checkRequestValues(request); !checked) return checked.failure();
    return request;
}

ipc::Message encodeResult(const RecipientResult& result) {
    ipc::Message message(kProtocol, kVersion);
    message.addString("type", "rcpt")
        .addInt("request_id", result.requestId)
        .addInt("index", result.index)
        .addString("status", outcomeName(result.outcome))
        .addString("dsn", result.dsn)
        .addString("reply", result.reply)
        .addString("relay", result.relay);
    return message;
}

ipc::Message encodeDone(const DeliveryDone& done) {
    ipc::Message message(kProtocol, kVersion);
    message.addString("type", "done").addInt("request_id", done.requestId);
    return message;
}

namespace {

Result<RecipientOutcome> parseOutcome(const std::string& status) {
    if (status == "sent") return RecipientOutcome::Sent;
    if (status == "deferred") return RecipientOutcome::Deferred;
    if (status == "bounced") return RecipientOutcome::Bounced;
    return fail("unknown recipient status \"" + status + "\"");
}

Result<RecipientResult> decodeRecipientResult(ipc::AttributeReader& reader) {
    RecipientResult result;
    result.requestId = reader.int64("request_id", 0, kMaxInt);
    result.index = reader.int64("index", 0, kMaxInt);
    std::string status = reader.string("status");
    result.dsn = reader.string("dsn");
    result.reply = reader.string("reply");
    result.relay = reader.string("relay");
    if (auto finished = reader.finish(); !finished) return finished.failure();
    auto outcome = parseOutcome(status);
    if (!outcome) return outcome.failure();
    result.outcome = *outcome;
    if (!isEnhancedCodeFor(result.dsn, result.outcome))
        return fail("dsn \"" + result.dsn + "\" does not fit status " + status);
    return result;
}

}  // namespace

Result<Reply> decodeReply(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    std::string type = reader.string("type");
    if (type == "done") {
        DeliveryDone done;
        done.requestId = reader.int64("request_id", 0, kMaxInt);
        if (auto finished = reader.finish(); !finished) return finished.failure();
        return Reply(std::in_place_type<DeliveryDone>, done);
    }
    if (type != "rcpt") return fail("unknown reply type \"" + type + "\"");
    auto result = decodeRecipientResult(reader);
    if (!result) return result.failure();
    return Reply(std::in_place_type<RecipientResult>, std::move(result).value());
}

}  // namespace postern::delivery_protocol
