// qmgr_notifier.h: tells qmgr about each message smtpd committed ("qmgr-notify" over
// private/qmgr, docs/PROTOCOLS.md). One persistent connection, opened when the first notice
// is due and re-opened lazily after it breaks. When qmgr is down, notices are dropped: the
// message waits in incoming/ and qmgr's scan finds it. A failed connect is not retried for
// a second, so an absent qmgr costs no system call per message.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "event.h"
#include "ipc_channel.h"

namespace postern::smtpd {

class QmgrNotifier {
  public:
    using Clock = std::chrono::steady_clock;
    // Notices go to the UNIX socket at `socketPath` (queue_directory/private/qmgr).
    QmgrNotifier(event_base* base, std::string socketPath);

    // Tells qmgr that `queueId` is in incoming/; returns true when the notice was queued
    // for sending (false: dropped, qmgr will find the message by its scan).
    bool notify(const std::string& queueId);
    // True while a connection is open.
    bool connected() const { return channel_ != nullptr; }

  private:
    bool ensureConnected();

    event_base* base_;
    std::string socketPath_;
    std::unique_ptr<ipc::Channel> channel_;
    Clock::time_point retryAfter_{};
    bool warned_ = false;  // one warning per outage
};

}  // namespace postern::smtpd
