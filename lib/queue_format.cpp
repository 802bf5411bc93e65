// queue_format.cpp: encoding and strict decoding of queue file record payloads.
#include "queue_format.h"

#include <utility>

namespace postern::queue {

namespace {

// True when `code` is an enhanced status code class.subject.detail (RFC 3463).
bool isEnhancedStatusCode(std::string_view code) {
    if (code.size() < 5 || (code[0] != '2' && code[0] != '4' && code[0] != '5') || code[1] != '.')
        return false;
    size_t dot = code.find('.', 2);
    if (dot == std::string_view::npos) return false;
    auto isNumber = [](std::string_view part) {
        if (part.empty() || part.size() > 3) return false;
        for (char c : part) {
            if (c < '0' || c > '9') return false;
        }
        return true;
    };
    return isNumber(code.substr(2, dot - 2)) && isNumber(code.substr(dot + 1));
}

// True when every byte of `bytes` is zero.
bool allZero(std::string_view bytes) {
    return bytes.find_first_not_of('\0') == std::string_view::npos;
}

// Appends `value` and NUL bytes up to `width`; value.size() <= width.
void appendPadded(std::string& out, std::string_view value, size_t width) {
    out.append(value);
    out.append(width - value.size(), '\0');
}

// Appends a u16 length and the bytes.
void appendShortString(std::string& out, std::string_view value) {
    appendU16(out, uint16_t(value.size()));
    out.append(value);
}

bool isKnownState(uint8_t state) {
    switch (RecipientState(state)) {
        case RecipientState::Pending:
        case RecipientState::Deferred:
        case RecipientState::Delivered:
        case RecipientState::Failed:
        case RecipientState::Bounced:
            return true;
    }
    return false;
}

}  // namespace

std::string_view recordTypeName(RecordType type) {
    switch (type) {
        case RecordType::Schedule: return "schedule";
        case RecordType::EnvelopeScalars: return "envelope";
        case RecordType::Sender: return "sender";
        case RecordType::Envid: return "envid";
        case RecordType::ClientHostname: return "client hostname";
        case RecordType::ClientAddress: return "client address";
        case RecordType::HeloName: return "helo name";
        case RecordType::TlsDescription: return "tls description";
        case RecordType::Recipient: return "recipient";
        case RecordType::Content: return "content";
        case RecordType::End: return "end";
    }
    return "unknown";
}

const std::string* envelopeString(const Envelope& envelope, RecordType type) {
    switch (type) {
        case RecordType::Sender: return &envelope.sender;
        case RecordType::Envid: return &envelope.envid;
        case RecordType::ClientHostname: return &envelope.client.hostname;
        case RecordType::ClientAddress: return &envelope.client.address;
        case RecordType::HeloName: return &envelope.client.heloName;
        case RecordType::TlsDescription: return &envelope.client.tls;
        default: return nullptr;
    }
}

std::string* envelopeString(Envelope& envelope, RecordType type) {
    return const_cast<std::string*>(envelopeString(std::as_const(envelope), type));
}

void appendU8(std::string& out, uint8_t value) { out.push_back(char(value)); }

void appendU16(std::string& out, uint16_t value) {
    appendU8(out, uint8_t(value >> 8));
    appendU8(out, uint8_t(value));
}

void appendU32(std::string& out, uint32_t value) {
    appendU16(out, uint16_t(value >> 16));
    appendU16(out, uint16_t(value));
}

void appendU64(std::string& out, uint64_t value) {
    appendU32(out, uint32_t(value >> 32));
    appendU32(out, uint32_t(value));
}

std::string_view PayloadReader::bytes(size_t count) {
    if (failed_ || count > remaining()) {
        failed_ = true;
        return {};
    }
    std::string_view result = bytes_.substr(position_, count);
    position_ += count;
    return result;
}

uint8_t PayloadReader::u8() {
    std::string_view b = bytes(1);
    return b.empty() ? 0 : uint8_t(b[0]);
}

// (The halves are read in separate statements: the operands of | are unsequenced.)
uint16_t PayloadReader::u16() {
    uint16_t high = u8();
    return uint16_t((high << 8) | u8());
}

uint32_t PayloadReader::u32() {
    uint32_t high = u16();
    return (high << 16) | u16();
}

uint64_t PayloadReader::u64() {
    uint64_t high = u32();
    return (high << 32) | u32();
}

void appendRecord(std::string& out, RecordType type, std::string_view payload) {
    appendU8(out, uint8_t(type));
    appendU32(out, uint32_t(payload.size()));
    out.append(payload);
}

std::string encodeFileHeader() {
    std::string header(kFileMagic);
    appendU32(header, kFormatVersion);
    return header;
}

std::string truncateReason(std::string_view reason) {
    if (reason.size() <= kReasonCapacity) return std::string(reason);
    size_t keep = kReasonCapacity - kTruncationMarker.size();
    // reason[keep] is the first byte cut off; a continuation byte there means we split a
    // UTF-8 sequence, so cut before its lead byte.
    while (keep > 0 && (uint8_t(reason[keep]) & 0xC0) == 0x80) --keep;
    std::string result(reason.substr(0, keep));
    result += kTruncationMarker;
    return result;
}

Status validateStatus(const RecipientStatus& status) {
    if (!isKnownState(uint8_t(status.state)))
        return fail("unknown recipient state " + std::to_string(int(status.state)));
    if (!status.dsnCode.empty() && !isEnhancedStatusCode(status.dsnCode))
        return fail("malformed enhanced status code");
    if (status.lastAttemptMicros < 0) return fail("negative last attempt time");
    return {};
}

std::string encodeStatusSlot(const RecipientStatus& status) {
    std::string reason = truncateReason(status.reason);
    std::string slot;
    slot.reserve(kStatusSlotSize);
    appendU8(slot, uint8_t(status.state));
    appendU8(slot, 0);
    appendU16(slot, uint16_t(reason.size()));
    appendPadded(slot, status.dsnCode, kDsnCodeCapacity);
    appendU64(slot, uint64_t(status.lastAttemptMicros));
    appendPadded(slot, reason, kReasonCapacity);
    return slot;
}

Result<RecipientStatus> decodeStatusSlot(std::string_view slot) {
    if (slot.size() != kStatusSlotSize) return fail("status slot of the wrong size");
    PayloadReader in(slot);
    RecipientStatus status;
    uint8_t state = in.u8();
    uint8_t reserved = in.u8();
    uint16_t reasonLength = in.u16();
    std::string_view code = in.bytes(kDsnCodeCapacity);
    status.lastAttemptMicros = in.i64();
    std::string_view reasonArea = in.bytes(kReasonCapacity);
    if (!isKnownState(state)) return fail("unknown recipient state " + std::to_string(state));
    if (reserved != 0) return fail("status slot: reserved byte set");
    if (reasonLength > kReasonCapacity) return fail("status slot: reason length too large");
    size_t codeLength = code.find('\0');
    if (codeLength == std::string_view::npos || !allZero(code.substr(codeLength)))
        return fail("status slot: malformed status code");
    if (!allZero(reasonArea.substr(reasonLength))) return fail("status slot: bytes after reason");
    status.state = RecipientState(state);
    status.dsnCode = std::string(code.substr(0, codeLength));
    status.reason = std::string(reasonArea.substr(0, reasonLength));
    if (auto valid = validateStatus(status); !valid) return fail("status slot: " + valid.error());
    return status;
}

Status validateSchedule(const Schedule& schedule) {
    if (schedule.nextAttemptMicros < 0) return fail("negative next attempt time");
    if (schedule.flags & ~uint32_t(kDelayWarningSent)) return fail("unknown schedule flags");
    return {};
}

std::string encodeSchedule(const Schedule& schedule) {
    std::string payload;
    appendU64(payload, uint64_t(schedule.nextAttemptMicros));
    appendU32(payload, schedule.attempts);
    appendU32(payload, schedule.flags);
    return payload;
}

Result<Schedule> decodeSchedule(std::string_view payload) {
    if (payload.size() != kSchedulePayloadSize) return fail("schedule of the wrong size");
    PayloadReader in(payload);
    Schedule schedule;
    schedule.nextAttemptMicros = in.i64();
    schedule.attempts = in.u32();
    schedule.flags = in.u32();
    if (auto valid = validateSchedule(schedule); !valid) return valid.failure();
    return schedule;
}

Status validateField(std::string_view name, std::string_view value) {
    if (value.size() > kMaxFieldLength) return fail(std::string(name) + " too long");
    for (char c : value) {
        if (uint8_t(c) < 0x20 || c == 0x7F)
            return fail(std::string(name) + " contains a control character");
    }
    return {};
}

Status validateNotify(uint8_t notify) {
    constexpr uint8_t kMix = kNotifySuccess | kNotifyFailure | kNotifyDelay;
    if (notify == 0 || notify == kNotifyNever || (notify & ~kMix) == 0) return {};
    return fail("invalid NOTIFY flags " + std::to_string(notify));
}

// Checks one recipient.
static Status validateRecipient(const Recipient& recipient) {
    if (recipient.address.empty()) return fail("empty recipient address");
    if (auto ok = validateField("recipient address", recipient.address); !ok) return ok;
    if (auto ok = validateField("ORCPT", recipient.orcpt); !ok) return ok;
    return validateNotify(recipient.notify);
}

// Checks the scalar envelope fields.
static Status validateEnvelopeScalars(const Envelope& envelope) {
    if (envelope.arrivalMicros < 0) return fail("negative arrival time");
    if (uint8_t(envelope.ret) > uint8_t(ReturnContent::Headers)) return fail("unknown RET value");
    if (uint8_t(envelope.body) > uint8_t(BodyType::BinaryMime)) return fail("unknown BODY value");
    uint8_t protocol = uint8_t(envelope.client.protocol);
    if (protocol < uint8_t(ClientProtocol::Smtp) || protocol > uint8_t(ClientProtocol::Esmtps))
        return fail("unknown client protocol");
    return {};
}

Status validateEnvelope(const Envelope& envelope, const std::vector<Recipient>& recipients) {
    if (auto ok = validateEnvelopeScalars(envelope); !ok) return ok;
    for (RecordType type : kStringRecordTypes) {
        if (auto ok = validateField(recordTypeName(type), *envelopeString(envelope, type)); !ok)
            return ok;
    }
    if (recipients.empty()) return fail("no recipients");
    for (const Recipient& recipient : recipients) {
        if (auto ok = validateRecipient(recipient); !ok) return ok;
    }
    return {};
}

std::string encodeEnvelopeScalars(const Envelope& envelope, uint64_t messageSize) {
    std::string payload;
    appendU64(payload, uint64_t(envelope.arrivalMicros));
    appendU64(payload, messageSize);
    appendU8(payload, uint8_t(envelope.ret));
    appendU8(payload, uint8_t(envelope.body));
    appendU8(payload, envelope.smtputf8 ? 1 : 0);
    appendU8(payload, uint8_t(envelope.client.protocol));
    return payload;
}

Result<uint64_t> decodeEnvelopeScalars(std::string_view payload, Envelope& envelope) {
    if (payload.size() != kEnvelopeScalarsSize) return fail("envelope of the wrong size");
    PayloadReader in(payload);
    envelope.arrivalMicros = in.i64();
    uint64_t messageSize = in.u64();
    envelope.ret = ReturnContent(in.u8());
    envelope.body = BodyType(in.u8());
    uint8_t smtputf8 = in.u8();
    envelope.client.protocol = ClientProtocol(in.u8());
    if (smtputf8 > 1) return fail("SMTPUTF8 flag neither 0 nor 1");
    envelope.smtputf8 = smtputf8 == 1;
    if (auto ok = validateEnvelopeScalars(envelope); !ok) return ok.failure();
    return messageSize;
}

std::string encodeRecipient(const Recipient& recipient, const RecipientStatus& status) {
    std::string payload = encodeStatusSlot(status);
    appendU8(payload, recipient.notify);
    appendShortString(payload, recipient.address);
    appendShortString(payload, recipient.orcpt);
    return payload;
}

Result<QueuedRecipient> decodeRecipient(std::string_view payload) {
    PayloadReader in(payload);
    std::string_view slot = in.bytes(kStatusSlotSize);
    QueuedRecipient queued;
    queued.recipient.notify = in.u8();
    std::string_view address = in.bytes(in.u16());
    std::string_view orcpt = in.bytes(in.u16());
    if (in.failed() || in.remaining() != 0) return fail("recipient lengths do not add up");
    auto status = decodeStatusSlot(slot);
    if (!status) return status.failure();
    queued.status = std::move(status.value());
    queued.recipient.address = std::string(address);
    queued.recipient.orcpt = std::string(orcpt);
    if (auto ok = validateRecipient(queued.recipient); !ok) return ok.failure();
    return queued;
}

EncodedPrefix encodeMessagePrefix(const Envelope& envelope,
                                  const std::vector<Recipient>& recipients) {
    EncodedPrefix prefix;
    std::string& out = prefix.bytes;
    out = encodeFileHeader();
    appendRecord(out, RecordType::Schedule, encodeSchedule(Schedule{}));
    prefix.messageSizeOffset = out.size() + kRecordHeaderSize + kMessageSizeOffsetInScalars;
    appendRecord(out, RecordType::EnvelopeScalars,
                 encodeEnvelopeScalars(envelope, kUnpatchedMessageSize));
    for (RecordType type : kStringRecordTypes)
        appendRecord(out, type, *envelopeString(envelope, type));
    for (const Recipient& recipient : recipients)
        appendRecord(out, RecordType::Recipient, encodeRecipient(recipient, RecipientStatus{}));
    prefix.contentLengthOffset = out.size() + 1;
    appendU8(out, uint8_t(RecordType::Content));
    appendU32(out, kUnpatchedContentLength);
    return prefix;
}

}  // namespace postern::queue
