// queue_reader.cpp: the record-by-record state machine of the queue file parser.
#include "queue_reader.h"

#include <cinttypes>
#include <cstdio>

#include "queue_format.h"

namespace postern::queue {

namespace {

// Where the parser is in the fixed order of record groups.
enum class Section { Schedule, Envelope, Recipients, AfterContent };

// One bit per envelope record type, to find duplicates and gaps.
uint32_t envelopeBit(RecordType type) {
    switch (type) {
        case RecordType::EnvelopeScalars: return 1u << 0;
        case RecordType::Sender: return 1u << 1;
        case RecordType::Envid: return 1u << 2;
        case RecordType::ClientHostname: return 1u << 3;
        case RecordType::ClientAddress: return 1u << 4;
        case RecordType::HeloName: return 1u << 5;
        case RecordType::TlsDescription: return 1u << 6;
        default: return 0;
    }
}
constexpr uint32_t kAllEnvelopeBits = (1u << 7) - 1;

bool isKnownType(uint8_t type) {
    switch (RecordType(type)) {
        case RecordType::Schedule:
        case RecordType::EnvelopeScalars:
        case RecordType::Sender:
        case RecordType::Envid:
        case RecordType::ClientHostname:
        case RecordType::ClientAddress:
        case RecordType::HeloName:
        case RecordType::TlsDescription:
        case RecordType::Recipient:
        case RecordType::Content:
        case RecordType::End:
            return true;
    }
    return false;
}

// The largest payload a record of this type may have (content is bounded by the file).
uint64_t maxPayloadLength(RecordType type) {
    switch (type) {
        case RecordType::Schedule: return kSchedulePayloadSize;
        case RecordType::EnvelopeScalars: return kEnvelopeScalarsSize;
        case RecordType::Recipient: return kStatusSlotSize + 1 + 2 * (2 + kMaxFieldLength);
        case RecordType::Content: return kMaxContentLength;
        case RecordType::End: return 0;
        default: return kMaxFieldLength;
    }
}

class Parser {
public:
    explicit Parser(QueueFileSource& source) : source_(source), size_(source.size()) {}

    // Parses the whole file.
    Result<QueueMessage> run();

private:
    Status readFileHeader();
    // Reads the record at position_; sets done_ after the end record.
    Status readRecord();
    // Checks that a record of `type` may come next, and moves the section on.
    Status advanceSection(RecordType type);
    // Decodes a payload into message_.
    Status decodePayload(RecordType type, uint64_t offset, std::string_view payload);
    // Prefix of an error about the current record.
    std::string where(int type) const;

    QueueFileSource& source_;
    uint64_t size_;
    uint64_t position_ = 0;
    unsigned recordNumber_ = 0;
    uint64_t recordOffset_ = 0;
    Section section_ = Section::Schedule;
    uint32_t envelopeSeen_ = 0;
    uint64_t storedMessageSize_ = 0;
    bool done_ = false;
    std::string buffer_;
    QueueMessage message_;
};

std::string Parser::where(int type) const {
    char text[96];
    if (type >= 0 && isKnownType(uint8_t(type))) {
        std::snprintf(text, sizeof text, "record %u (%.*s) at offset %" PRIu64 ": ", recordNumber_,
                      int(recordTypeName(RecordType(type)).size()),
                      recordTypeName(RecordType(type)).data(), recordOffset_);
    } else {
        std::snprintf(text, sizeof text, "record %u at offset %" PRIu64 ": ", recordNumber_,
                      recordOffset_);
    }
    return text;
}

Status Parser::readFileHeader() {
    if (size_ < kFileHeaderSize)
        return fail("truncated: " + std::to_string(size_) + " bytes, shorter than the header");
    if (auto ok = source_.read(0, kFileHeaderSize, buffer_); !ok) return ok;
    PayloadReader in(buffer_);
    if (in.bytes(kFileMagic.size()) != kFileMagic) return fail("not a queue file (bad magic)");
    uint32_t version = in.u32();
    if (version != kFormatVersion)
        return fail("unsupported queue file version " + std::to_string(version));
    message_.version = version;
    position_ = kFileHeaderSize;
    return {};
}

Status Parser::advanceSection(RecordType type) {
    switch (section_) {
        case Section::Schedule:
            if (type != RecordType::Schedule) return fail("the schedule must come first");
            section_ = Section::Envelope;
            return {};
        case Section::Envelope:
            if (uint32_t bit = envelopeBit(type)) {
                if (envelopeSeen_ & bit) return fail("duplicate record");
                envelopeSeen_ |= bit;
                return {};
            }
            if (type != RecordType::Recipient)
                return fail("expected an envelope record or a recipient");
            if (envelopeSeen_ != kAllEnvelopeBits) return fail("envelope records missing");
            section_ = Section::Recipients;
            return {};
        case Section::Recipients:
            if (type == RecordType::Content) section_ = Section::AfterContent;
            if (type == RecordType::Content || type == RecordType::Recipient) return {};
            return fail("expected a recipient or the content");
        case Section::AfterContent:
            if (type == RecordType::End) return {};
            return fail("expected the end record after the content");
    }
    return fail("parser in an unknown state");
}

Status Parser::decodePayload(RecordType type, uint64_t offset, std::string_view payload) {
    if (std::string* field = envelopeString(message_.envelope, type)) {
        if (auto ok = validateField(recordTypeName(type), payload); !ok) return ok;
        *field = std::string(payload);
        return {};
    }
    switch (type) {
        case RecordType::Schedule: {
            auto schedule = decodeSchedule(payload);
            if (!schedule) return schedule.failure();
            message_.schedule = schedule.value();
            message_.scheduleOffset = offset;
            return {};
        }
        case RecordType::EnvelopeScalars: {
            auto size = decodeEnvelopeScalars(payload, message_.envelope);
            if (!size) return size.failure();
            storedMessageSize_ = size.value();
            return {};
        }
        case RecordType::Recipient: {
            auto recipient = decodeRecipient(payload);
            if (!recipient) return recipient.failure();
            recipient->slotOffset = offset;
            message_.recipients.push_back(std::move(recipient.value()));
            return {};
        }
        default:
            return fail("no payload decoder");
    }
}

Status Parser::readRecord() {
    ++recordNumber_;
    recordOffset_ = position_;
    if (size_ - position_ < kRecordHeaderSize) return fail("truncated: no end record");
    if (auto ok = source_.read(position_, kRecordHeaderSize, buffer_); !ok) return ok;
    PayloadReader header(buffer_);
    uint8_t rawType = header.u8();
    uint32_t length = header.u32();
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", rawType);
    if (!isKnownType(rawType)) return fail(where(-1) + "unknown record type " + hex);
    RecordType type = RecordType(rawType);
    uint64_t payloadOffset = position_ + kRecordHeaderSize;
    if (length > size_ - payloadOffset)
        return fail(where(rawType) + "length " + std::to_string(length) + " beyond end of file");
    if (auto ok = advanceSection(type); !ok) return fail(where(rawType) + ok.error());
    if (length > maxPayloadLength(type))
        return fail(where(rawType) + "length " + std::to_string(length) + " too large");
    position_ = payloadOffset + length;
    if (type == RecordType::End) {
        if (position_ != size_)
            return fail(std::to_string(size_ - position_) + " bytes after the end record");
        done_ = true;
        return {};
    }
    if (type == RecordType::Content) {
        message_.contentOffset = payloadOffset;
        message_.contentLength = length;
        return {};
    }
    if (auto ok = source_.read(payloadOffset, length, buffer_); !ok) return ok;
    if (auto ok = decodePayload(type, payloadOffset, buffer_); !ok)
        return fail(where(rawType) + ok.error());
    return {};
}

Result<QueueMessage> Parser::run() {
    if (auto ok = readFileHeader(); !ok) return ok.failure();
    while (!done_) {
        if (auto ok = readRecord(); !ok) return ok.failure();
    }
    if (storedMessageSize_ != message_.contentLength)
        return fail("message size " + std::to_string(storedMessageSize_) +
                    " does not match the content length " +
                    std::to_string(message_.contentLength));
    message_.fileSize = size_;
    return std::move(message_);
}

}  // namespace

Status BufferSource::read(uint64_t offset, size_t length, std::string& out) {
    if (offset > bytes_.size() || length > bytes_.size() - offset)
        return fail("read beyond the end of the buffer");
    out.assign(bytes_.substr(offset, length));
    return {};
}

Result<QueueMessage> parseQueueFile(QueueFileSource& source) { return Parser(source).run(); }

Result<QueueMessage> parseQueueFile(std::string_view bytes) {
    BufferSource source(bytes);
    return parseQueueFile(source);
}

}  // namespace postern::queue
