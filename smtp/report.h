// report.h: the worker's account of each recipient: the Postfix log line
//   ID: to=<rcpt>, relay=host[ip]:port, delay=1.2, delays=0.01/0/0.5/0.7, dsn=2.0.0,
//   status=sent (250 2.0.0 Ok: queued as ABC)
// with `conn_use=N` after relay= when the connection carried its N-th transaction (N > 1),
// and the `rcpt` frame to qmgr. delays= is a/b/c/d: before qmgr (active - arrival), in
// qmgr (request received - active), connection set-up (DNS, connect, greeting, EHLO, TLS:
// up to MAIL FROM), transmission (MAIL FROM to the result).
#pragma once

#include <cstdint>
#include <string>

#include "verdict.h"

namespace postern::smtp {

// Which connection a result came over.
struct RelayInfo {
    std::string relay = "none";    // "host[ip]:port" once connected
    int connectionUse = 0;         // the transaction's number on its connection (conn_use=)
    int64_t transactionStart = 0;  // when MAIL FROM was sent, µs since the epoch; 0: not sent
};

// The moments of one delivery, µs since the epoch; transactionStart 0: MAIL never sent.
struct DeliveryTimes {
    int64_t arrival = 0;
    int64_t active = 0;
    int64_t received = 0;
    int64_t transactionStart = 0;
};

// A duration as Postfix logs it: "0" under 10 ms, "0.01".."0.99", "1.2" under 10 s, then
// whole seconds ("115"); negative durations (a clock step) count as 0.
std::string formatDelay(int64_t micros);

// "delay=1.2, delays=0.01/0/0.5/0.7" at NOW.
std::string delayFields(const DeliveryTimes& times, int64_t now);

// The whole log line's text after "ID: ".
std::string recipientLogText(const std::string& address, const RelayInfo& via,
                             const DeliveryTimes& times, int64_t now, const Verdict& verdict);

// soft_bounce: a bounce becomes a deferral with the same detail ("5.1.1" -> "4.1.1").
Verdict softened(Verdict verdict);

}  // namespace postern::smtp
