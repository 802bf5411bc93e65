// queue_types.h: what a queue file holds, as plain values: the envelope, the recipients
// with their delivery status, the schedule, and a parsed message (where its content and
// in-place slots are in the file). Written by queue_writer, read by queue_reader.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace postern::queue {

// RET= of MAIL FROM (RFC 3461).
enum class ReturnContent : uint8_t { Unset = 0, Full = 1, Headers = 2 };

// BODY= of MAIL FROM (RFC 6152, RFC 3030); Unspecified when the client gave none.
enum class BodyType : uint8_t { Unspecified = 0, SevenBit = 1, EightBitMime = 2, BinaryMime = 3 };

// The protocol the message came in with, for the Received: header and the logs.
enum class ClientProtocol : uint8_t { Smtp = 1, Esmtp = 2, Esmtps = 3 };

// Who handed the message to us.
struct ClientInfo {
    std::string hostname;  // verified reverse name, or "unknown"
    std::string address;   // IP address as text
    std::string heloName;  // what the client said in HELO/EHLO
    ClientProtocol protocol = ClientProtocol::Esmtp;
    std::string tls;  // e.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384", empty without TLS
};

// The message-wide envelope.
struct Envelope {
    int64_t arrivalMicros = 0;  // µs since the epoch; 0 at create = the queue ID's time
    std::string sender;         // empty = the null sender <>
    std::string envid;          // ENVID= (RFC 3461), empty when not given
    ReturnContent ret = ReturnContent::Unset;
    BodyType body = BodyType::Unspecified;
    bool smtputf8 = false;
    ClientInfo client;
};

// NOTIFY= flags of RCPT TO (RFC 3461); 0 means the client gave no NOTIFY.
// Never excludes the other three.
enum NotifyFlag : uint8_t {
    kNotifySuccess = 1,
    kNotifyFailure = 2,
    kNotifyDelay = 4,
    kNotifyNever = 8,
};

// One recipient as given in RCPT TO.
struct Recipient {
    std::string address;  // the forward path, without angle brackets
    std::string orcpt;    // ORCPT= (RFC 3461) as given, e.g. "rfc822;a@b.example"; may be empty
    uint8_t notify = 0;   // NotifyFlag bits, 0 = unset
};

// Where a recipient stands. Delivered and Bounced are final: they never change again.
enum class RecipientState : uint8_t {
    Pending = 'P',    // not tried yet
    Deferred = 'T',   // tried, failed temporarily, will be tried again
    Delivered = 'D',  // accepted by the next hop or delivered ("done")
    Failed = 'F',     // failed for good; the bounce notice is not written yet
    Bounced = 'B',    // failed for good and the bounce notice is in the queue (or not wanted)
};

// True for the states a recipient never leaves.
inline bool isFinal(RecipientState state) {
    return state == RecipientState::Delivered || state == RecipientState::Bounced;
}

// The in-place status slot of a recipient.
struct RecipientStatus {
    RecipientState state = RecipientState::Pending;
    std::string dsnCode;            // enhanced status code "4.4.1", empty before any attempt
    int64_t lastAttemptMicros = 0;  // 0 = never tried
    std::string reason;  // remote reply or local reason; cut to fit (see queue_format.h)
};

// Schedule flags.
enum ScheduleFlag : uint32_t {
    kDelayWarningSent = 1,
};

// The in-place schedule of the message.
struct Schedule {
    int64_t nextAttemptMicros = 0;  // 0 = as soon as possible
    uint32_t attempts = 0;
    uint32_t flags = 0;  // ScheduleFlag bits
};

// A recipient read from a file: its index among the recipients and where its slot is.
struct QueuedRecipient {
    Recipient recipient;
    RecipientStatus status;
    uint64_t slotOffset = 0;  // file offset of the status slot
};

// A complete, parsed queue file.
struct QueueMessage {
    uint32_t version = 0;
    Schedule schedule;
    uint64_t scheduleOffset = 0;  // file offset of the schedule slot
    Envelope envelope;
    std::vector<QueuedRecipient> recipients;
    uint64_t contentOffset = 0;  // file offset of the first content byte
    uint64_t contentLength = 0;  // = the message size
    uint64_t fileSize = 0;
};

}  // namespace postern::queue
