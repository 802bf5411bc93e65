// notices.h: writes delivery status notifications (lib/dsn) about a queued message into
// the queue as new messages: from the null sender to the message's envelope sender,
// through the queue writer into incoming/ (file and directory fsync'ed), so a notice is
// durable before qmgr marks its recipients bounced. qmgr then schedules it like any mail.
// Also decides who gets which notice (NOTIFY= of RFC 3461).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dsn.h"
#include "queue_message.h"
#include "queue_store.h"
#include "result.h"
#include "settings.h"

namespace postern::qmgr {

// True when NOTIFY (0 = the client gave none) asks for this kind of notice: failure and
// delay by default, success only on request, none with NEVER.
bool wantsNotice(uint8_t notify, dsn::Kind kind);

class NoticeWriter {
  public:
    NoticeWriter(queue::QueueStore& store, const Settings& settings)
        : store_(store), settings_(settings) {}

    // Queues a notice of `kind` about `message` covering `recipients`; returns its queue ID.
    // The original's header (or all of it, for a failure notice with RET=FULL) is attached,
    // cut to bounce_size_limit.
    Result<std::string> write(queue::MessageHandle& message, dsn::Kind kind,
                              std::vector<dsn::RecipientReport> recipients, int64_t nowMicros);

  private:
    // The report about `message`, with the returned part read from its content.
    Result<dsn::Report> reportFor(queue::MessageHandle& message, dsn::Kind kind,
                                  std::vector<dsn::RecipientReport> recipients, int64_t nowMicros);

    queue::QueueStore& store_;
    const Settings& settings_;
};

}  // namespace postern::qmgr
