// session_state.h: the states of one smtpd session's connection and the transitions
// between them (memcached's conn_states: an enum ending in a sentinel, one table of legal
// moves, one setter that checks it). The SMTP transaction (MAIL, RCPT) is data of the
// session, not a state here: these states say what the connection is doing with its bytes.
#pragma once

#include <cstdint>

namespace postern::smtpd {

enum class SessionState : uint8_t {
    Commands,    // reading and answering command lines
    Delaying,    // an error reply waits out smtpd.error_sleep_time; input waits
    Opening,     // DATA or the first BDAT: the queue file is being created; input waits
    Data,        // reading DATA content up to CR LF . CR LF
    Chunk,       // reading the bytes of a BDAT chunk
    Committing,  // the message is with the commit pool; input waits
    Handshake,   // after STARTTLS: the TLS handshake runs
    Closing,     // the last reply is being written; then the connection closes
    Closed,      // the connection is gone; the object waits for a commit or to be freed
    Count        // sentinel: the number of states
};

// "commands", "delaying", ... for debug logs and panics.
const char* stateName(SessionState state);

// True when a session may go from `from` to `to`.
bool isLegalTransition(SessionState from, SessionState to);

}  // namespace postern::smtpd
