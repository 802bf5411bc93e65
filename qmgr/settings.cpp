// settings.cpp: the queue manager's parameters (see settings.h).
#include "settings.h"

#include <algorithm>

namespace postern::qmgr {

namespace {

int64_t micros(int seconds) {
    return int64_t(seconds) * kMicrosPerSecond;
}

// The longest a healthy worker can stay silent: one whole SMTP session per MX host it may
// try (each stage at its timeout), plus a margin. It is a safety net, not a schedule.
std::chrono::milliseconds workerSilenceBound(const SmtpConfig& smtp) {
    int64_t session = int64_t(smtp.connect_timeout) + smtp.helo_timeout + smtp.starttls_timeout +
                      smtp.mail_timeout + smtp.rcpt_timeout + smtp.data_init_timeout +
                      smtp.data_xfer_timeout + smtp.data_done_timeout + smtp.quit_timeout;
    int64_t sessions = std::max(1, smtp.mx_session_limit);
    return std::chrono::seconds(session * sessions + 60);
}

}  // namespace

Settings Settings::from(const Config& config) {
    Settings settings;
    settings.myhostname = config.myhostname;
    settings.queueDirectory = config.queue_directory;
    const QmgrConfig& qmgr = config.qmgr;
    // A back-off of 0 would retry a failing destination in a tight loop.
    int minimal = std::max(1, qmgr.minimal_backoff_time);
    settings.minimalBackoff = micros(minimal);
    settings.maximalBackoff = micros(std::max(qmgr.maximal_backoff_time, minimal));
    settings.queueRunDelay = micros(std::max(qmgr.queue_run_delay, 1));
    settings.maximalQueueLifetime = micros(qmgr.maximal_queue_lifetime);
    settings.bounceQueueLifetime = micros(qmgr.bounce_queue_lifetime);
    settings.delayWarningTime = micros(qmgr.delay_warning_time);
    settings.destinationConcurrencyLimit = std::max(1, qmgr.destination_concurrency_limit);
    settings.totalConcurrencyLimit = std::max(1, qmgr.total_concurrency_limit);
    settings.destinationRecipientLimit = size_t(std::max(1, qmgr.destination_recipient_limit));
    settings.activeLimit = size_t(std::max(1, qmgr.active_limit));
    settings.bounceSizeLimit = size_t(std::max<int64_t>(0, config.bounce_size_limit));
    settings.softBounce = config.soft_bounce;
    settings.workerTimeout = workerSilenceBound(config.smtp);
    return settings;
}

int64_t backoffAfter(const Settings& settings, uint32_t attempts) {
    int64_t delay = settings.minimalBackoff;
    for (uint32_t i = 1; i < attempts && delay < settings.maximalBackoff; ++i) delay *= 2;
    return std::min(std::max<int64_t>(delay, 0), settings.maximalBackoff);
}

}  // namespace postern::qmgr
