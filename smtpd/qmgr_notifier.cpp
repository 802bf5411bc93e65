// qmgr_notifier.cpp: the smtpd end of qmgr-notify.
#include "qmgr_notifier.h"

#include "log.h"
#include "qmgr_protocol.h"
#include "sockets.h"

namespace postern::smtpd {

namespace {

// Bounds what smtpd sends and takes; qmgr never writes to smtpd: anything it sends
// closes the channel as malformed.
constexpr size_t kMaxFrame = 4096;
// Notices waiting to be written beyond this are dropped: qmgr is not reading.
constexpr size_t kMaxPendingOutput = 1024 * 1024;
constexpr std::chrono::seconds kRetryDelay{1};

}  // namespace

QmgrNotifier::QmgrNotifier(event_base* base, std::string socketPath)
    : base_(base), socketPath_(std::move(socketPath)) {}

bool QmgrNotifier::ensureConnected() {
    if (channel_ && channel_->isOpen()) return true;
    channel_.reset();
    auto now = Clock::now();
    if (now < retryAfter_) return false;
    auto fd = sockets::connectUnix(socketPath_);
    if (!fd) {
        retryAfter_ = now + kRetryDelay;
        if (!warned_)
            log::info("qmgr is not reachable (%s); new mail waits in incoming/",
                      fd.error().c_str());
        warned_ = true;
        return false;
    }
    ipc::ChannelOptions options;
    options.peer = "qmgr";
    options.rules = {kMaxFrame, {{qmgr_protocol::kNotifyProtocol, qmgr_protocol::kNotifyVersion}}};
    auto channel = ipc::Channel::open(
        base_, std::move(fd.value()), std::move(options), [](ipc::Message&&) {},
        [](ipc::CloseReason reason, const std::string& detail) {
            if (reason != ipc::CloseReason::Eof)
                log::warning("qmgr notice channel: %s %s", ipc::describe(reason), detail.c_str());
            // Not reset here: the channel is inside its own callback. The next notice sees
            // it closed and reconnects.
        });
    if (!channel) {
        retryAfter_ = now + kRetryDelay;
        log::warning("qmgr notice channel: %s", channel.error().c_str());
        return false;
    }
    channel_ = std::move(channel.value());
    warned_ = false;
    return true;
}

bool QmgrNotifier::notify(const std::string& queueId) {
    if (!ensureConnected()) return false;
    if (channel_->pendingOutputBytes() > kMaxPendingOutput) return false;
    auto sent = channel_->send(qmgr_protocol::encodeNewMessage({queueId}));
    if (!sent) {
        log::warning("qmgr notice for %s: %s", queueId.c_str(), sent.error().c_str());
        return false;
    }
    return true;
}

}  // namespace postern::smtpd
