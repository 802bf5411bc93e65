// worker_transport.h: the real DeliveryTransport: one connection to private/smtp per
// delivery request (the shared listening socket hands it to any worker process), the
// request as one "delivery" frame, the worker's replies through lib/ipc_channel. A reply
// that does not decode, names another request, or a worker that closes early or stays
// silent longer than the bound ends the delivery with a failure text; the queue manager
// then defers what the worker did not answer.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "daemon.h"
#include "event.h"
#include "transport.h"

namespace postern::qmgr {

class WorkerTransport : public DeliveryTransport {
  public:
    // Connects to `socketPath`; a worker silent for `silence` is given up. `beginWork`,
    // when set, marks each delivery in flight for the daemon skeleton (graceful stop).
    WorkerTransport(event_base* base, std::string socketPath, std::chrono::milliseconds silence,
                    std::function<WorkGuard()> beginWork);

    Result<std::unique_ptr<DeliveryConnection>> start(
        const delivery_protocol::DeliveryRequest& request, DeliveryEvents events) override;

  private:
    event_base* base_;
    std::string socketPath_;
    std::chrono::milliseconds silence_;
    std::function<WorkGuard()> beginWork_;
};

}  // namespace postern::qmgr
