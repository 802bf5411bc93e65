// restart_throttle.cpp: the growing delay between restarts of a failing service.
#include "restart_throttle.h"

#include <algorithm>

namespace postern::master {

bool RestartThrottle::isFailure(const ProcessEnd& end) const {
    return end.abnormal && (!end.wasReady || end.lifetime < settings_.quickDeath);
}

std::chrono::milliseconds RestartThrottle::processEnded(const ProcessEnd& end) {
    if (!isFailure(end)) {
        failures_ = 0;
        return std::chrono::milliseconds(0);
    }
    ++failures_;
    auto delay = settings_.firstDelay;
    for (int i = 1; i < failures_ && delay < settings_.maxDelay; ++i) delay *= 2;
    return std::min(delay, settings_.maxDelay);
}

}  // namespace postern::master
