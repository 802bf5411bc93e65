// master_protocol.cpp: encoding and strict decoding of status and control messages.
#include "master_protocol.h"

#include <limits>

namespace postern::master_protocol {
namespace {

constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();
constexpr ChildState kAllStates[] = {ChildState::Ready, ChildState::Busy, ChildState::Idle,
                                     ChildState::Retiring, ChildState::Stopping};

// Every message here is small; a big frame on the status channel is an error.
constexpr size_t kMaxStatusFrameBytes = 4096;

}  // namespace

const char* stateName(ChildState state) {
    switch (state) {
        case ChildState::Ready:
            return "ready";
        case ChildState::Busy:
            return "busy";
        case ChildState::Idle:
            return "idle";
        case ChildState::Retiring:
            return "retiring";
        case ChildState::Stopping:
            return "stopping";
    }
    return "unknown";
}

const char* commandName(ControlCommand command) {
    switch (command) {
        case ControlCommand::Stop:
            return "stop";
        case ControlCommand::Retire:
            return "retire";
    }
    return "unknown";
}

ipc::FrameRules masterEndRules() {
    return {kMaxStatusFrameBytes, {{kStatusProtocol, kStatusVersion}}};
}

ipc::FrameRules childEndRules() {
    return {kMaxStatusFrameBytes, {{kControlProtocol, kControlVersion}}};
}

ipc::Message encodeStatus(const ChildStatus& status) {
    ipc::Message message(kStatusProtocol, kStatusVersion);
    message.addString("state", stateName(status.state))
        .addInt("in_flight", status.inFlight)
        .addInt("uses", status.uses)
        .addInt("generation", status.generation)
        .addInt("pid", status.pid);
    return message;
}

Result<ChildStatus> decodeStatus(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    std::string state = reader.string("state");
    ChildStatus status;
    status.inFlight = reader.int64("in_flight", 0, kMaxCount);
    status.uses = reader.int64("uses", 0, std::numeric_limits<int64_t>::max());
    status.generation = reader.int64("generation", 0, std::numeric_limits<int64_t>::max());
    status.pid = reader.int64("pid", 1, kMaxCount);
    if (auto finished = reader.finish(); !finished) return finished.failure();
    for (ChildState candidate : kAllStates) {
        if (state == stateName(candidate)) {
            status.state = candidate;
            return status;
        }
    }
    return fail("unknown child state \"" + state + "\"");
}

ipc::Message encodeControl(ControlCommand command) {
    ipc::Message message(kControlProtocol, kControlVersion);
    message.addString("command", commandName(command));
    return message;
}

Result<ControlCommand> decodeControl(const ipc::Message& message) {
    ipc::AttributeReader reader(message);
    std::string command = reader.string("command");
    if (auto finished = reader.finish(); !finished) return finished.failure();
    for (ControlCommand candidate : {ControlCommand::Stop, ControlCommand::Retire}) {
        if (command == commandName(candidate)) return candidate;
    }
    return fail("unknown control command \"" + command + "\"");
}

}  // namespace postern::master_protocol
