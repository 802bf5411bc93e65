// master_protocol.h: the messages between master and each child on the status channel
// (docs/IPC.md, "Master and children"). Children send "status" frames, master sends
// "control" frames; both ends encode and check them here, so the two sides cannot drift.
#pragma once

#include <cstdint>

#include "ipc.h"
#include "result.h"

namespace postern::master_protocol {

constexpr const char* kStatusProtocol = "status";
constexpr uint16_t kStatusVersion = 1;
constexpr const char* kControlProtocol = "control";
constexpr uint16_t kControlVersion = 1;

// What a child says about itself.
enum class ChildState {
    Ready,     // started, accepting
    Busy,      // sessions or deliveries in flight (in_flight says how many)
    Idle,      // nothing in flight
    Retiring,  // max_use, max_idle or "retire": stopped accepting, ends with its work
    Stopping,  // told to stop (SIGTERM, "stop") or lost master: stopped accepting
};

struct ChildStatus {
    ChildState state = ChildState::Ready;
    int64_t inFlight = 0;    // sessions or deliveries in flight
    int64_t uses = 0;        // uses counted toward max_use so far
    int64_t generation = 0;  // POSTERN_GENERATION the child was started with
    int64_t pid = 0;
};

// What master tells a child.
enum class ControlCommand {
    Stop,    // stop accepting, hurry in-flight work along, exit (the same as SIGTERM)
    Retire,  // stop accepting, let in-flight work end at its own pace, exit (a reload)
};

// "ready", "busy", "idle", "retiring", "stopping".
const char* stateName(ChildState state);

// The frame rules of master's end (accepts status) and of a child's end (accepts control).
ipc::FrameRules masterEndRules();
ipc::FrameRules childEndRules();

// Builds and reads a status message.
ipc::Message encodeStatus(const ChildStatus& status);
Result<ChildStatus> decodeStatus(const ipc::Message& message);

// "stop", "retire".
const char* commandName(ControlCommand command);

// Builds and reads a control message.
ipc::Message encodeControl(ControlCommand command);
Result<ControlCommand> decodeControl(const ipc::Message& message);

}  // namespace postern::master_protocol
