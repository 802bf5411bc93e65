// delivery_log.cpp: qmgr's to= log lines (see delivery_log.h).
#include "delivery_log.h"

#include <algorithm>
#include <cstdio>

namespace postern::qmgr {

std::string formatDelay(int64_t micros) {
    double seconds = double(std::max<int64_t>(micros, 0)) / 1e6;
    // Two significant digits below 10 s, whole seconds above, as Postfix writes them.
    int decimals = seconds >= 10 ? 0 : seconds >= 1 ? 1 : 2;
    char text[32];
    snprintf(text, sizeof text, "%.*f", decimals, seconds);
    std::string formatted = text;
    if (decimals > 0) {
        while (formatted.ends_with('0')) formatted.pop_back();
        if (formatted.ends_with('.')) formatted.pop_back();
    }
    return formatted;
}

std::string formatRecipientLine(const RecipientLogLine& line) {
    int64_t beforeActive = line.activeMicros - line.arrivalMicros;
    int64_t inActive = line.nowMicros - line.activeMicros;
    return line.queueId + ": to=<" + line.address +
           ">, relay=none, delay=" + formatDelay(line.nowMicros - line.arrivalMicros) +
           ", delays=" + formatDelay(beforeActive) + "/" + formatDelay(inActive) +
           "/0/0, dsn=" + line.dsn + ", status=" + line.status;
}

}  // namespace postern::qmgr
