// qmgr_control.h: the command's end of the qmgr-control protocol (docs/PROTOCOLS.md): one
// request on a fresh connection to QUEUE/private/qmgr, one reply.
#pragma once

#include <chrono>
#include <string>

#include "qmgr_protocol.h"
#include "result.h"

namespace postern::cli {

// QUEUE/private/qmgr.
std::string qmgrSocketPath(const std::string& queueDirectory);

// Sends `request` to the qmgr listening at `socketPath` and waits up to `timeout` for its
// reply. Fails when qmgr cannot be reached or answers with something malformed.
Result<qmgr_protocol::ControlReply> sendControlRequest(const std::string& socketPath,
                                                       const qmgr_protocol::ControlRequest& request,
                                                       std::chrono::milliseconds timeout);

}  // namespace postern::cli
