// worker_transport.cpp: delivery requests over private/smtp (see worker_transport.h).
#include "worker_transport.h"

#include "ipc_channel.h"
#include "log.h"
#include "sockets.h"

namespace postern::qmgr {

namespace {

namespace dp = delivery_protocol;

class WorkerConnection : public DeliveryConnection {
  public:
    WorkerConnection(int64_t requestId, DeliveryEvents events, WorkGuard guard)
        : requestId_(requestId), events_(std::move(events)), guard_(std::move(guard)) {}

    Status open(event_base* base, UniqueFd fd, std::chrono::milliseconds silence) {
        ipc::ChannelOptions options;
        options.peer = "smtp worker";
        options.rules = dp::qmgrEndRules();
        options.readTimeout = silence;
        auto channel = ipc::Channel::open(
            base, std::move(fd), std::move(options),
            [this](ipc::Message&& message) { onMessage(message); },
            [this](ipc::CloseReason reason, const std::string& detail) {
                onClose(reason, detail);
            });
        if (!channel) return channel.failure();
        channel_ = std::move(channel.value());
        return {};
    }

    Status send(const dp::DeliveryRequest& request) {
        return channel_->send(dp::encodeRequest(request));
    }

  private:
    void onMessage(const ipc::Message& message) {
        auto reply = dp::decodeReply(message);
        if (!reply) {
            log::warning("smtp worker: malformed reply: %s; disconnecting", reply.error().c_str());
            return end("malformed reply from the smtp worker");
        }
        if (auto* done = std::get_if<dp::DeliveryDone>(&reply.value())) {
            if (done->requestId != requestId_) return wrongRequest(done->requestId);
            return end("");
        }
        const auto& result = std::get<dp::RecipientResult>(reply.value());
        if (result.requestId != requestId_) return wrongRequest(result.requestId);
        auto onResult = events_.onResult;  // a copy: the call may destroy this connection
        onResult(result);
    }

    void wrongRequest(int64_t other) {
        log::warning(
            "smtp worker: reply for request %lld on the connection of request %lld; disconnecting",
            static_cast<long long>(other), static_cast<long long>(requestId_));
        end("malformed reply from the smtp worker");
    }

    void onClose(ipc::CloseReason reason, const std::string& detail) {
        if (reason == ipc::CloseReason::Malformed) return end("malformed reply from the smtp worker");
        if (reason == ipc::CloseReason::Timeout)
            return end("the smtp worker made no progress (" + detail + ")");
        end("lost connection with the smtp worker (" + detail + ")");
    }

    // Ends the delivery: close the connection (a worker still busy aborts), report last.
    void end(const std::string& failure) {
        if (channel_) channel_->close();
        guard_.release();
        auto onEnd = std::move(events_.onEnd);
        events_ = {};
        if (onEnd) onEnd(failure);  // may destroy this connection
    }

    int64_t requestId_;
    DeliveryEvents events_;
    WorkGuard guard_;
    std::unique_ptr<ipc::Channel> channel_;
};

// "Connection refused" from "connect /var/spool/postern/private/smtp: Connection refused".
std::string reasonOf(const std::string& error) {
    size_t colon = error.rfind(": ");
    return colon == std::string::npos ? error : error.substr(colon + 2);
}

}  // namespace

WorkerTransport::WorkerTransport(event_base* base, std::string socketPath,
                                 std::chrono::milliseconds silence,
                                 std::function<WorkGuard()> beginWork)
    : base_(base),
      socketPath_(std::move(socketPath)),
      silence_(silence),
      beginWork_(std::move(beginWork)) {}

Result<std::unique_ptr<DeliveryConnection>> WorkerTransport::start(
    const dp::DeliveryRequest& request, DeliveryEvents events) {
    auto fd = sockets::connectUnix(socketPath_);
    if (!fd) return fail("connect to private/smtp: " + reasonOf(fd.error()));
    auto connection = std::make_unique<WorkerConnection>(request.requestId, std::move(events),
                                                         beginWork_ ? beginWork_() : WorkGuard());
    if (auto opened = connection->open(base_, std::move(fd.value()), silence_); !opened)
        return fail("connect to private/smtp: " + opened.error());
    if (auto sent = connection->send(request); !sent)
        return fail("send to private/smtp: " + sent.error());
    return std::unique_ptr<DeliveryConnection>(std::move(connection));
}

}  // namespace postern::qmgr
