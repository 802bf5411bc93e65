// settings.h: the queue manager's parameters as it uses them: the qmgr.* configuration in
// microseconds, plus the few global ones it needs (myhostname, soft_bounce,
// bounce_size_limit), and the bound on a worker's silence derived from the smtp.* timeouts.
// A plain value, so unit tests build one without a configuration file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "config.h"

namespace postern::qmgr {

// Microseconds since the epoch; injected so tests can move time.
using Clock = std::function<int64_t()>;

constexpr int64_t kMicrosPerSecond = 1000000;

struct Settings {
    std::string myhostname = "localhost";
    std::string queueDirectory;
    int64_t minimalBackoff = 300 * kMicrosPerSecond;
    int64_t maximalBackoff = 4000 * kMicrosPerSecond;
    int64_t queueRunDelay = 300 * kMicrosPerSecond;
    int64_t maximalQueueLifetime = 432000 * kMicrosPerSecond;
    int64_t bounceQueueLifetime = 432000 * kMicrosPerSecond;
    int64_t delayWarningTime = 0;  // 0: no delay notices
    int destinationConcurrencyLimit = 20;
    int totalConcurrencyLimit = 100;
    size_t destinationRecipientLimit = 50;
    size_t activeLimit = 20000;
    size_t bounceSizeLimit = 50000;
    bool softBounce = false;
    // A worker that sends nothing for this long is given up (its recipients deferred).
    std::chrono::milliseconds workerTimeout{std::chrono::hours(1)};

    // The settings of a loaded configuration.
    static Settings from(const Config& config);
};

// The retry delay after the given number of attempts: minimal_backoff_time doubled for
// each attempt after the first, at most maximal_backoff_time.
int64_t backoffAfter(const Settings& settings, uint32_t attempts);

}  // namespace postern::qmgr
