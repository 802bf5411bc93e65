// server.h: the smtpd process around its sessions: what it loads before the privilege drop
// (TLS keys; the queue's folders when started alone), the shared services (queue store,
// commit pool, qmgr notifier, relay policy, free space check), accepting connections with
// the per-client limit and the process-wide limit (back-pressure: accepting pauses at the
// limit and resumes below it), draining on stop, and freeing sessions that are over.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "client_counter.h"
#include "commit_pool.h"
#include "daemon.h"
#include "event.h"
#include "policy.h"
#include "qmgr_notifier.h"
#include "queue_fs_store.h"
#include "session.h"

namespace postern::smtpd {

class SmtpServer {
  public:
    SmtpServer();
    ~SmtpServer();
    SmtpServer(const SmtpServer&) = delete;
    SmtpServer& operator=(const SmtpServer&) = delete;

    // Before the privilege drop: loads the TLS certificate and key; when started alone,
    // creates the queue's folders (master does that otherwise).
    Status prepare(DaemonContext& context);
    // After the event base exists: the commit pool, the notifier, the connection limit.
    Status start(DaemonContext& context);
    // A new connection from a listener.
    void accept(DaemonContext& context, AcceptedConnection&& connection);
    // Stopping: idle sessions close with 421, busy ones after their message.
    void drain();
    // After the loop: frees every session and libevent object while the base still exists.
    void closeAll();

    // Sessions alive now.
    size_t sessions() const { return sessions_.size(); }
    // The effective process-wide session limit.
    size_t connectionLimit() const { return connectionLimit_; }

  private:
    ClientOrigin originOf(const AcceptedConnection& connection) const;
    void sessionFinished(Session& session);
    void reap();
    void applyBackPressure();
    static void onReap(evutil_socket_t, short, void* self);

    DaemonContext* context_ = nullptr;
    SslCtxPtr tls_;
    std::unique_ptr<queue::FsQueueStore> store_;
    std::unique_ptr<RelayPolicy> relay_;
    std::unique_ptr<FreeSpaceCheck> freeSpace_;
    std::unique_ptr<QmgrNotifier> notifier_;
    ClientCounter clients_;
    SessionServices services_;
    std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
    std::vector<Session*> finished_;
    EventPtr reapEvent_;
    // Last: destroyed first, so no commit outlives the sessions and store it reports to.
    std::unique_ptr<CommitPool> commits_;
    size_t connectionLimit_ = 0;
    bool pausedAtLimit_ = false;
};

}  // namespace postern::smtpd
