// active_message.cpp: per-message round state (see active_message.h).
#include "active_message.h"

#include <algorithm>

namespace postern::qmgr {

bool ActiveMessage::any(RecipientPhase phase) const {
    return std::any_of(recipients.begin(), recipients.end(),
                       [phase](const RecipientProgress& r) { return r.phase == phase; });
}

std::vector<size_t> ActiveMessage::inPhase(RecipientPhase phase) const {
    std::vector<size_t> indices;
    for (size_t i = 0; i < recipients.size(); ++i) {
        if (recipients[i].phase == phase) indices.push_back(i);
    }
    return indices;
}

std::vector<RecipientProgress> initialProgress(const queue::QueueMessage& message) {
    std::vector<RecipientProgress> progress(message.recipients.size());
    for (size_t i = 0; i < progress.size(); ++i) {
        const queue::RecipientStatus& status = message.recipients[i].status;
        RecipientProgress& p = progress[i];
        switch (status.state) {
            case queue::RecipientState::Delivered:
            case queue::RecipientState::Bounced:
                p.phase = RecipientPhase::Done;
                p.persisted = true;
                break;
            case queue::RecipientState::Failed:
                p.phase = RecipientPhase::Failed;
                p.persisted = true;
                p.dsn = status.dsnCode;
                p.reason = status.reason;
                p.attemptMicros = status.lastAttemptMicros;
                break;
            case queue::RecipientState::Pending:
            case queue::RecipientState::Deferred:
                p.phase = RecipientPhase::Waiting;
                p.dsn = status.dsnCode;
                p.reason = status.reason;
                p.attemptMicros = status.lastAttemptMicros;
                break;
        }
    }
    return progress;
}

}  // namespace postern::qmgr
