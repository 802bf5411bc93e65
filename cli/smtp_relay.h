// smtp_relay.h: sendmail -bs: an SMTP session read from standard input and written to
// standard output, relayed to smtpd on public/submit in lock step: each command goes on
// only after the reply to the one before (and to the greeting) came back, and after a 354
// the message goes on up to its lone "." line. Scripts that write a whole session at once
// (`sendmail -bs < session.txt`) then never trip smtpd's check against clients that talk
// before it is their turn. BDAT is not relayed.
#pragma once

#include "timed_socket.h"

namespace postern::cli {

// Relays until the server closes the session or the input ends (then the rest of the
// server's replies is copied). Returns 0, or kExTempFail when the server went away
// without closing the session properly (no reply).
int relaySmtpSession(TimedSocket& server, int input, int output);

}  // namespace postern::cli
