// transport.h: how qmgr hands a delivery request to an smtp worker, as an interface: the
// real one speaks the delivery protocol on private/smtp (worker_transport.h); unit tests
// play the worker with a fake. A started delivery reports each recipient's result, then
// its end; destroying the connection cancels it (the worker sees the connection close and
// aborts) and no event comes after that.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "delivery_protocol.h"
#include "result.h"

namespace postern::qmgr {

struct DeliveryEvents {
    // One recipient's result, as the worker sent it (the request ID already checked).
    std::function<void(const delivery_protocol::RecipientResult&)> onResult;
    // The delivery is over: `failure` is empty after the worker's "done", else why it ended
    // early ("lost connection with the smtp worker: ..."). Called once, last.
    std::function<void(const std::string& failure)> onEnd;
};

// A delivery in progress; destroying it cancels the delivery.
class DeliveryConnection {
  public:
    virtual ~DeliveryConnection() = default;
};

class DeliveryTransport {
  public:
    virtual ~DeliveryTransport() = default;
    // Sends a request to a worker. Events never come from inside start(). Fails (and
    // sends no event) when no worker can be reached.
    virtual Result<std::unique_ptr<DeliveryConnection>> start(
        const delivery_protocol::DeliveryRequest& request, DeliveryEvents events) = 0;
};

}  // namespace postern::qmgr
