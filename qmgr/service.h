// service.h: the qmgr daemon around the QueueManager: the queue lock and (started alone)
// the queue layout before the privilege drop; then the filesystem queue, the routes, the
// worker transport on private/smtp and the wake-up timer on the event loop; and the
// connections on private/qmgr (smtpd's new-message notices, `postern queue` requests).
#pragma once

#include <memory>
#include <unordered_map>

#include "daemon.h"
#include "event.h"
#include "ipc_channel.h"
#include "queue_fs_store.h"
#include "queue_manager.h"
#include "unique_fd.h"
#include "worker_transport.h"

namespace postern::qmgr {

class QmgrService {
  public:
    QmgrService();
    ~QmgrService();
    QmgrService(const QmgrService&) = delete;
    QmgrService& operator=(const QmgrService&) = delete;

    // Before the privilege drop: the queue layout (when started alone), then the lock.
    Status prepare(DaemonContext& context);
    // On the event loop: builds the queue manager and starts it.
    Status init(DaemonContext& context);
    // A connection on private/qmgr.
    void accept(DaemonContext& context, AcceptedConnection&& connection);
    // Stopping: no new messages or deliveries; those in flight finish.
    void stop();
    // After the loop: closes every connection.
    void shutdown();

  private:
    class TimerWakeup;

    void onClientMessage(ipc::Channel* channel, ipc::Message&& message);
    void dropClient(ipc::Channel* channel);

    UniqueFd lock_;
    Settings settings_;
    std::unique_ptr<queue::FsQueueStore> store_;
    std::unique_ptr<Router> router_;
    std::unique_ptr<WorkerTransport> transport_;
    std::unique_ptr<TimerWakeup> wakeup_;
    std::unique_ptr<QueueManager> manager_;
    std::unordered_map<ipc::Channel*, std::unique_ptr<ipc::Channel>> clients_;
};

}  // namespace postern::qmgr
