// restart_throttle.h: how long master waits before starting a service's next process
// after one ended. A process that ends abnormally (non-zero exit, killed by a signal)
// before it said "ready", or within `quickDeath` of its start, is a failure; consecutive
// failures double the wait, from `firstDelay` up to `maxDelay` (service_throttle_time), so
// a crash-looping service is never respawned in a tight loop. A process that ended
// normally, or lived long enough, resets the count and is replaced at once.
#pragma once

#include <chrono>

namespace postern::master {

struct ThrottleSettings {
    std::chrono::milliseconds firstDelay{1000};
    std::chrono::milliseconds maxDelay{60000};
    std::chrono::milliseconds quickDeath{10000};
};

// How one process of the service ended.
struct ProcessEnd {
    std::chrono::milliseconds lifetime{0};
    bool abnormal = false;    // non-zero exit status or a signal
    bool wasReady = false;    // it had said "ready"
};

class RestartThrottle {
  public:
    explicit RestartThrottle(ThrottleSettings settings = {}) : settings_(settings) {}

    // Records END; returns how long to wait before starting the next process (0: now).
    std::chrono::milliseconds processEnded(const ProcessEnd& end);
    // Consecutive failures so far.
    int failures() const { return failures_; }
    // Forgets past failures (after a reload: the new configuration may have fixed them).
    void reset() { failures_ = 0; }
    // True when END counts as a failure.
    bool isFailure(const ProcessEnd& end) const;

  private:
    ThrottleSettings settings_;
    int failures_ = 0;
};

}  // namespace postern::master
