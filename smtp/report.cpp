// report.cpp: Postfix's delay fields and recipient log line (see report.h).
#include "report.h"

#include <algorithm>
#include <cstdio>

namespace postern::smtp {

std::string formatDelay(int64_t micros) {
    micros = std::max<int64_t>(micros, 0);
    if (micros >= 10'000'000) return std::to_string(micros / 1'000'000);
    char text[32];
    if (micros >= 1'000'000) {
        const int64_t tenths = micros / 100'000;
        if (tenths % 10 == 0) return std::to_string(tenths / 10);
        std::snprintf(text, sizeof text, "%lld.%lld", static_cast<long long>(tenths / 10),
                      static_cast<long long>(tenths % 10));
        return text;
    }
    const int64_t hundredths = micros / 10'000;
    if (hundredths == 0) return "0";
    std::snprintf(text, sizeof text, "0.%02lld", static_cast<long long>(hundredths));
    std::string result = text;
    if (result.back() == '0') result.pop_back();  // "0.10" -> "0.1"
    return result;
}

std::string delayFields(const DeliveryTimes& times, int64_t now) {
    const int64_t setupEnd = times.transactionStart ? times.transactionStart : now;
    const int64_t transmission = times.transactionStart ? now - times.transactionStart : 0;
    return "delay=" + formatDelay(now - times.arrival) + ", delays=" +
           formatDelay(times.active - times.arrival) + "/" + formatDelay(times.received - times.active) +
           "/" + formatDelay(setupEnd - times.received) + "/" + formatDelay(transmission);
}

std::string recipientLogText(const std::string& address, const RelayInfo& via,
                             const DeliveryTimes& times, int64_t now, const Verdict& verdict) {
    const std::string use = via.connectionUse > 1 ? ", conn_use=" + std::to_string(via.connectionUse) : "";
    return "to=<" + address + ">, relay=" + via.relay + use + ", " + delayFields(times, now) +
           ", dsn=" + verdict.dsn + ", status=" + delivery_protocol::outcomeName(verdict.outcome) +
           " (" + verdict.text + ")";
}

Verdict softened(Verdict verdict) {
    if (verdict.outcome != RecipientOutcome::Bounced) return verdict;
    verdict.outcome = RecipientOutcome::Deferred;
    if (!verdict.dsn.empty()) verdict.dsn[0] = '4';
    return verdict;
}

}  // namespace postern::smtp
