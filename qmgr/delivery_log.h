// delivery_log.h: the Postfix-format lines qmgr logs about a recipient it settles itself
// (deferred because no worker answered, expired), with Postfix's delay notation.
#pragma once

#include <cstdint>
#include <string>

namespace postern::qmgr {

// A duration in Postfix's log notation: "0", "0.03", "1.2", "12", "4000".
std::string formatDelay(int64_t micros);

// What a `to=` line says about one recipient.
struct RecipientLogLine {
    std::string queueId;
    std::string address;
    int64_t arrivalMicros = 0;
    int64_t activeMicros = 0;  // when the round began
    int64_t nowMicros = 0;
    std::string dsn;
    std::string status;  // "deferred (reason)", "expired, returned to sender"
};

// "ID: to=<rcpt>, relay=none, delay=D, delays=a/b/0/0, dsn=X, status=..."
std::string formatRecipientLine(const RecipientLogLine& line);

}  // namespace postern::qmgr
