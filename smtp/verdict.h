// verdict.h: what became of a recipient, in Postfix's words. Every text the worker reports
// for a recipient (to qmgr and in the log) is built here, so they read like Postfix's:
// "connect to mx.example[192.0.2.1]:25: Connection refused", "host mx.example[192.0.2.1]
// said: 550 5.1.1 <a@b>: unknown (in reply to RCPT TO command)", "lost connection with
// mx.example[192.0.2.1] while sending message body". Texts are printable (text_escape.h):
// a server's bytes are escaped before they get here.
#pragma once

#include <string>
#include <string_view>

#include "delivery_protocol.h"
#include "smtp_reply.h"

namespace postern::smtp {

using delivery_protocol::RecipientOutcome;

// A recipient's result: sent, deferred or bounced, an RFC 3463 code, the reply or reason.
struct Verdict {
    RecipientOutcome outcome = RecipientOutcome::Deferred;
    std::string dsn;   // "2.0.0", "4.4.1", "5.1.1"
    std::string text;  // one printable line
};

// Delivered: the server's final reply.
Verdict sent(const SmtpReply& reply);
// A deferral with that code and reason.
Verdict deferral(std::string dsn, std::string text);
// A bounce with that code and reason.
Verdict bounce(std::string dsn, std::string text);

// The enhanced code to report for a reply: its own when its class fits, else "C.0.0" with
// C = 2 for 2xx, 5 for 5xx, 4 for anything else.
std::string dsnOf(const SmtpReply& reply);

// "host PEER said: REPLY (in reply to COMMAND command)": bounced for 5xx, else deferred.
Verdict replyFailure(std::string_view peer, const SmtpReply& reply, std::string_view command);

// "host PEER refused to talk to me: REPLY" (a greeting other than 2xx).
Verdict refusedToTalk(std::string_view peer, const SmtpReply& reply);

// "connect to RELAY: REASON" (4.4.1): the TCP connection did not come up.
Verdict connectFailed(std::string_view relay, std::string_view reason);

// "lost connection with PEER while PHASE" (4.4.2).
Verdict lostConnection(std::string_view peer, std::string_view phase);

// "conversation with PEER timed out while PHASE" (4.4.2).
Verdict timedOut(std::string_view peer, std::string_view phase);

// "host PEER sent a malformed reply while PHASE: DETAIL" (4.5.0).
Verdict malformedReply(std::string_view peer, std::string_view phase, std::string_view detail);

}  // namespace postern::smtp
