// active_message.h: what qmgr holds in memory for a message in active/: the parsed queue
// file, and per recipient where it stands in the current round (the time from taking the
// message into active/ until every delivery job of it has ended), with the last result.
// The file itself is not kept open: qmgr opens it only for the moment it writes slots or
// reads the content for a notice, so active_limit costs memory, never descriptors.
// Results stay in memory until the round ends or a partial result must be made durable,
// so a message whose recipients all succeed is simply removed: no slot writes at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "queue_message.h"
#include "scheduler.h"

namespace postern::qmgr {

enum class RecipientPhase : uint8_t {
    Done,      // final in the file (D or B) before this round: nothing to do
    Waiting,   // to be delivered in this round (queued or in flight)
    Sent,      // accepted by the next hop in this round
    Deferred,  // failed temporarily in this round
    Failed,    // failed for good (in this round, or F in the file): a notice is due
    Bounced,   // failed for good and its notice (if any) is queued
};

struct RecipientProgress {
    RecipientPhase phase = RecipientPhase::Waiting;
    bool persisted = false;  // the file's slot already says this phase
    bool expired = false;    // failed because the message outlived its lifetime
    std::string dsn;         // "2.0.0", "4.4.1", "5.1.1"
    std::string reason;      // the remote reply or local reason (printable)
    std::string relay;       // "host[ip]:port" or "none"/empty
    int64_t attemptMicros = 0;
};

struct ActiveMessage {
    std::string id;
    queue::QueueMessage parsed;  // the file as parsed, with the slot writes made since
    int64_t activeMicros = 0;  // when this round began
    std::vector<RecipientProgress> recipients;
    std::vector<JobId> jobs;  // this round's jobs not yet ended (queued or in flight)
    bool cancelled = false;   // deleted, held or requeued: its jobs' results are ignored

    const queue::QueueMessage& file() const { return parsed; }
    const queue::Envelope& envelope() const { return parsed.envelope; }
    const queue::Recipient& recipient(size_t index) const {
        return parsed.recipients[index].recipient;
    }
    // True when some recipient is in this phase.
    bool any(RecipientPhase phase) const;
    // The indices of the recipients in this phase.
    std::vector<size_t> inPhase(RecipientPhase phase) const;
};

// The progress of a message just opened: Done for D and B, Failed for F (with the stored
// code and reason), Waiting for P and T.
std::vector<RecipientProgress> initialProgress(const queue::QueueMessage& message);

}  // namespace postern::qmgr
