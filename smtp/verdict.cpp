// verdict.cpp: Postfix-style results and reasons for recipients (see verdict.h).
#include "verdict.h"

#include "text_escape.h"

namespace postern::smtp {

namespace {

// Deferred or bounced by the reply's class, with its code.
Verdict fromReply(const SmtpReply& reply, const std::string& text) {
    const auto outcome = reply.replyClass() == 5 ? RecipientOutcome::Bounced : RecipientOutcome::Deferred;
    SmtpReply classed = reply;
    if (outcome == RecipientOutcome::Deferred && reply.replyClass() != 4) classed.code = 451;
    return {outcome, dsnOf(classed), printable(text)};
}

std::string joined(std::initializer_list<std::string_view> parts) {
    std::string text;
    for (auto part : parts) text += part;
    return text;
}

}  // namespace

Verdict sent(const SmtpReply& reply) {
    return {RecipientOutcome::Sent, dsnOf(reply), reply.printable()};
}

Verdict deferral(std::string dsn, std::string text) {
    return {RecipientOutcome::Deferred, std::move(dsn), printable(text)};
}

Verdict bounce(std::string dsn, std::string text) {
    return {RecipientOutcome::Bounced, std::move(dsn), printable(text)};
}

std::string dsnOf(const SmtpReply& reply) {
    const char expected = reply.replyClass() == 5 ? '5' : reply.replyClass() == 2 ? '2' : '4';
    if (!reply.enhanced.empty() && reply.enhanced[0] == expected) return reply.enhanced;
    return std::string(1, expected) + ".0.0";
}

Verdict replyFailure(std::string_view peer, const SmtpReply& reply, std::string_view command) {
    return fromReply(reply, joined({"host ", peer, " said: ", reply.printable(), " (in reply to ",
                                    command, " command)"}));
}

Verdict refusedToTalk(std::string_view peer, const SmtpReply& reply) {
    return fromReply(reply, joined({"host ", peer, " refused to talk to me: ", reply.printable()}));
}

Verdict connectFailed(std::string_view relay, std::string_view reason) {
    return deferral("4.4.1", joined({"connect to ", relay, ": ", reason}));
}

Verdict lostConnection(std::string_view peer, std::string_view phase) {
    return deferral("4.4.2", joined({"lost connection with ", peer, " while ", phase}));
}

Verdict timedOut(std::string_view peer, std::string_view phase) {
    return deferral("4.4.2", joined({"conversation with ", peer, " timed out while ", phase}));
}

Verdict malformedReply(std::string_view peer, std::string_view phase, std::string_view detail) {
    return deferral("4.5.0",
                    joined({"host ", peer, " sent a malformed reply while ", phase, ": ", detail}));
}

}  // namespace postern::smtp
