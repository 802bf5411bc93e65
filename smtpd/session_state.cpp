// session_state.cpp: names and the transition table of SessionState.
#include "session_state.h"

#include <array>

namespace postern::smtpd {

namespace {

constexpr int kStates = int(SessionState::Count);

constexpr uint16_t bit(SessionState state) {
    return uint16_t(1u << int(state));
}

// For each state, the states it may move to. Every live state may end in Closing (a last
// reply) or Closed (the client went away, an I/O error, a shutdown).
constexpr uint16_t kEnding = bit(SessionState::Closing) | bit(SessionState::Closed);
constexpr std::array<uint16_t, kStates> kLegal = {
    // Commands
    bit(SessionState::Delaying) | bit(SessionState::Opening) | bit(SessionState::Chunk) |
        bit(SessionState::Committing) | bit(SessionState::Handshake) | kEnding,
    // Delaying
    bit(SessionState::Commands) | kEnding,
    // Opening: to Commands when no queue file could be made
    bit(SessionState::Data) | bit(SessionState::Chunk) | bit(SessionState::Commands) | kEnding,
    // Data: to Commands when the message is refused at its end
    bit(SessionState::Committing) | bit(SessionState::Commands) | kEnding,
    // Chunk
    bit(SessionState::Commands) | kEnding,
    // Committing
    bit(SessionState::Commands) | kEnding,
    // Handshake
    bit(SessionState::Commands) | bit(SessionState::Closed),
    // Closing
    bit(SessionState::Closed),
    // Closed: final
    0,
};

constexpr std::array<const char*, kStates> kNames = {
    "commands",   "delaying",  "opening", "data",   "chunk",
    "committing", "handshake", "closing", "closed",
};

}  // namespace

const char* stateName(SessionState state) {
    int index = int(state);
    return index >= 0 && index < kStates ? kNames[index] : "invalid";
}

bool isLegalTransition(SessionState from, SessionState to) {
    int source = int(from);
    int target = int(to);
    if (source < 0 || source >= kStates || target < 0 || target >= kStates) return false;
    return (kLegal[source] & (1u << target)) != 0;
}

}  // namespace postern::smtpd
