// queue_format.h: the binary layout of a queue file (version 1) and the codec for its
// record payloads. The reader (queue_reader.h) and the writer (queue_writer.h) build on it.
// docs/QUEUE_FORMAT.md says the same at more length.
//
// All integers are big-endian; times are µs since the epoch (signed 64 bits, never < 0).
//
//   file    := header record* ; the records in this order:
//              SCHEDULE, then the envelope records M F I N A H T (each exactly once, any
//              order), then RECIPIENT (one or more), then CONTENT, then END, and nothing after.
//   header  := "POSTERNQ" (8 bytes)  version u32 (= 1)
//   record  := type u8  length u32  payload[length]
//
//   type      payload
//   'S' 0x53  schedule slot, 16 bytes, rewritten in place:
//               next attempt i64 | attempts u32 | flags u32 (bit 0: delay warning sent)
//   'M' 0x4D  envelope scalars, 20 bytes:
//               arrival i64 | message size u64 | RET u8 (0 unset, 1 FULL, 2 HDRS)
//               | BODY u8 (0 unspecified, 1 7BIT, 2 8BITMIME, 3 BINARYMIME)
//               | SMTPUTF8 u8 (0/1) | protocol u8 (1 SMTP, 2 ESMTP, 3 ESMTPS)
//   'F' 0x46  sender address (empty = null sender)     } strings: at most 4096 bytes,
//   'I' 0x49  ENVID                                    } no control characters
//   'N' 0x4E  client host name                         } (0x00-0x1F, 0x7F)
//   'A' 0x41  client address                           }
//   'H' 0x48  HELO name                                }
//   'T' 0x54  TLS description (empty = no TLS)         }
//   'R' 0x52  recipient: status slot (324 bytes, rewritten in place)
//               | NOTIFY u8 | address length u16 | address | ORCPT length u16 | ORCPT
//   'C' 0x43  content: header + body, CRLF lines, not dot-stuffed; length = message size
//   'E' 0x45  end, empty. A file without it, or with bytes after it, is incomplete.
//
//   status slot (324 bytes):
//     state u8 ('P' pending, 'T' deferred, 'D' delivered, 'F' failed, 'B' bounced)
//     | reserved u8 (0) | reason length u16 (<= 300) | enhanced status code (12 bytes,
//     ASCII, NUL padded, empty or like "4.4.1") | last attempt i64 | reason (300 bytes,
//     NUL padded; a longer reason is cut and ends with " [truncated]")
//
// NOTIFY is 0 (unset), 8 (NEVER) or a non-empty mix of 1 SUCCESS, 2 FAILURE, 4 DELAY.
// While a message is being written, the content length and the message size hold
// 0xFFFFFFFF and 0xFFFFFFFFFFFFFFFF; they are patched in place before END is written, so a
// file cut before that can never pass for complete.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue_types.h"
#include "result.h"

namespace postern::queue {

inline constexpr std::string_view kFileMagic = "POSTERNQ";
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 12;
inline constexpr size_t kRecordHeaderSize = 5;

enum class RecordType : uint8_t {
    Schedule = 'S',
    EnvelopeScalars = 'M',
    Sender = 'F',
    Envid = 'I',
    ClientHostname = 'N',
    ClientAddress = 'A',
    HeloName = 'H',
    TlsDescription = 'T',
    Recipient = 'R',
    Content = 'C',
    End = 'E',
};

inline constexpr size_t kSchedulePayloadSize = 16;
inline constexpr size_t kEnvelopeScalarsSize = 20;
inline constexpr size_t kStatusSlotSize = 324;
inline constexpr size_t kDsnCodeCapacity = 12;
inline constexpr size_t kReasonCapacity = 300;
inline constexpr size_t kMaxFieldLength = 4096;
inline constexpr uint32_t kMaxContentLength = 0xFFFFFFFE;
inline constexpr uint32_t kUnpatchedContentLength = 0xFFFFFFFF;
inline constexpr uint64_t kUnpatchedMessageSize = ~uint64_t(0);
inline constexpr std::string_view kTruncationMarker = " [truncated]";
// Offset of the message size in the envelope-scalars payload.
inline constexpr size_t kMessageSizeOffsetInScalars = 8;

// The record types that each hold one envelope string, in the order the writer uses.
inline constexpr RecordType kStringRecordTypes[] = {
    RecordType::Sender,   RecordType::Envid,    RecordType::ClientHostname,
    RecordType::ClientAddress, RecordType::HeloName, RecordType::TlsDescription,
};

// A readable name of a record type ("sender", "content", ...), for error messages.
std::string_view recordTypeName(RecordType type);
// The envelope string a string record type holds; nullptr for other types.
const std::string* envelopeString(const Envelope& envelope, RecordType type);
std::string* envelopeString(Envelope& envelope, RecordType type);

// Appends big-endian integers.
void appendU8(std::string& out, uint8_t value);
void appendU16(std::string& out, uint16_t value);
void appendU32(std::string& out, uint32_t value);
void appendU64(std::string& out, uint64_t value);

// Reads big-endian integers and byte strings from a payload; a read past the end sets
// failed() and yields zeros, so a decoder checks once at the end.
class PayloadReader {
public:
    explicit PayloadReader(std::string_view bytes) : bytes_(bytes) {}
    uint8_t u8();
    uint16_t u16();
    uint32_t u32();
    uint64_t u64();
    int64_t i64() { return int64_t(u64()); }
    std::string_view bytes(size_t count);
    bool failed() const { return failed_; }
    size_t remaining() const { return bytes_.size() - position_; }

private:
    std::string_view bytes_;
    size_t position_ = 0;
    bool failed_ = false;
};

// Appends one record (header and payload).
void appendRecord(std::string& out, RecordType type, std::string_view payload);

// The first 12 bytes of every queue file.
std::string encodeFileHeader();

// Cuts a reason to the slot's width, ending a cut one with the truncation marker and never
// splitting a UTF-8 sequence.
std::string truncateReason(std::string_view reason);

// Checks a status for storing: a known state, a well-formed code, a time >= 0. The reason
// is cut by encodeStatusSlot, not refused.
Status validateStatus(const RecipientStatus& status);
// Encodes a status slot (exactly kStatusSlotSize bytes); the status must be valid.
std::string encodeStatusSlot(const RecipientStatus& status);
// Decodes a status slot, refusing anything encodeStatusSlot would not write.
Result<RecipientStatus> decodeStatusSlot(std::string_view slot);

// Checks a schedule for storing (known flags, times >= 0).
Status validateSchedule(const Schedule& schedule);
// Encodes the schedule payload (exactly kSchedulePayloadSize bytes).
std::string encodeSchedule(const Schedule& schedule);
// Decodes the schedule payload.
Result<Schedule> decodeSchedule(std::string_view payload);

// Checks an envelope and its recipients for storing: the rules the reader enforces.
Status validateEnvelope(const Envelope& envelope, const std::vector<Recipient>& recipients);
// Checks one string field: length and control characters; `name` is for the message.
Status validateField(std::string_view name, std::string_view value);
// Checks NOTIFY bits.
Status validateNotify(uint8_t notify);

// Encodes the envelope-scalars payload with the given message size.
std::string encodeEnvelopeScalars(const Envelope& envelope, uint64_t messageSize);
// Decodes the envelope-scalars payload into `envelope`; returns the message size.
Result<uint64_t> decodeEnvelopeScalars(std::string_view payload, Envelope& envelope);

// Encodes a recipient payload with the given status.
std::string encodeRecipient(const Recipient& recipient, const RecipientStatus& status);
// Decodes a recipient payload.
Result<QueuedRecipient> decodeRecipient(std::string_view payload);

// Where the writer must patch once the content is written.
struct EncodedPrefix {
    std::string bytes;                 // header up to and including the content record header
    uint64_t messageSizeOffset = 0;    // file offset of the message size (u64)
    uint64_t contentLengthOffset = 0;  // file offset of the content length (u32)
};

// Encodes everything before the content, with unpatched lengths; inputs must be valid.
EncodedPrefix encodeMessagePrefix(const Envelope& envelope,
                                  const std::vector<Recipient>& recipients);

}  // namespace postern::queue
