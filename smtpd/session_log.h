// session_log.h: smtpd's log lines in Postfix's formats, so pflogsumm and friends read them:
//   connect from unknown[192.0.2.1]
//   NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <x@y>: Relay access denied;
//       from=<a@b> to=<x@y> proto=ESMTP helo=<h>
//   lost connection after DATA from unknown[192.0.2.1]
//   disconnect from unknown[192.0.2.1] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
// CommandCounters keeps the per-command tallies of the disconnect line.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp_command.h"
#include "smtp_reply.h"

namespace postern::smtpd {

class CommandCounters {
  public:
    // Counts one command of `verb` and whether it succeeded.
    void record(Verb verb, bool ok);
    // " ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4": Postfix's order, only verbs seen,
    // "ok/total" where some failed. Starts with a space; "" when no command came.
    std::string summary() const;
    // Commands counted.
    uint32_t total() const;

  private:
    static constexpr size_t kVerbs = size_t(Verb::unknown) + 1;
    std::array<uint32_t, kVerbs> ok_{};
    std::array<uint32_t, kVerbs> total_{};
};

// "host[address]", the client as every line names it.
std::string clientName(std::string_view host, std::string_view address);

// What a reject line says about the session and the transaction.
struct RejectContext {
    std::string_view queueId;             // empty: NOQUEUE
    std::string_view stage;               // "RCPT", "MAIL", "DATA", "END-OF-MESSAGE", ...
    std::string_view client;              // clientName()
    const std::string* sender = nullptr;  // from=<>; null: not part of the line
    std::string_view recipient;           // to=<>; empty: not part of the line
    std::string_view protocol;            // "ESMTP"
    std::string_view helo;                // empty: not part of the line
};

// "NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 ...; from=<a> to=<b> proto=ESMTP helo=<h>"
std::string rejectLine(const RejectContext& context, const SmtpReply& reply);

}  // namespace postern::smtpd
