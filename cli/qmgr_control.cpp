// qmgr_control.cpp: control requests to a running qmgr (see qmgr_control.h).
#include "qmgr_control.h"

#include "ipc.h"
#include "timed_socket.h"

namespace postern::cli {

namespace qp = qmgr_protocol;

std::string qmgrSocketPath(const std::string& queueDirectory) {
    return queueDirectory + "/private/qmgr";
}

Result<qp::ControlReply> sendControlRequest(const std::string& socketPath,
                                            const qp::ControlRequest& request,
                                            std::chrono::milliseconds timeout) {
    auto socket = TimedSocket::connectUnix(socketPath, timeout);
    if (!socket) return socket.failure();
    if (auto sent = socket->writeAll(ipc::encodeFrame(qp::encodeControlRequest(request))); !sent)
        return fail("send to " + socketPath + ": " + sent.error());
    std::string buffered;
    for (;;) {
        ipc::DecodeResult decoded = ipc::decodeFrame(buffered, qp::controlClientRules());
        if (decoded.status == ipc::DecodeStatus::Error)
            return fail("bad reply from " + socketPath + ": " + decoded.error);
        if (decoded.status == ipc::DecodeStatus::Message) {
            auto reply = qp::decodeControlReply(decoded.message);
            if (!reply) return fail("bad reply from " + socketPath + ": " + reply.error());
            return reply;
        }
        if (auto read = socket->readSome(buffered); !read)
            return fail("no reply from " + socketPath + ": " + read.error());
    }
}

}  // namespace postern::cli
