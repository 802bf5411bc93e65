// worker.h: the smtp delivery worker process: accepts qmgr's connections on private/smtp
// (one delivery request per connection) and runs up to smtp.process_delivery_limit
// deliveries at once on one event loop, with one DNS resolver and one set of trust stores
// for all of them. At the limit it stops accepting until a delivery ends. Finished
// deliveries are destroyed from a deferred event, never inside their own callbacks. The
// process's connection cache (connection_cache.h) lets one delivery's SMTP connection carry
// the next; when the worker stops or retires, its idle connections get QUIT.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "connection_cache.h"
#include "daemon.h"
#include "delivery.h"
#include "dns.h"
#include "event.h"
#include "tls_setup.h"

namespace postern::smtp {

class Worker {
  public:
    Worker() = default;
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Before the privilege drop: loads the trust store (smtp.tls.ca_file / ca_path).
    Status loadTrust(DaemonContext& context);
    // With the event loop: the resolver (dns_servers) and the settings.
    Status init(DaemonContext& context);
    // A connection from qmgr: a new delivery.
    void accept(DaemonContext& context, AcceptedConnection&& connection);
    // Accepting has stopped for good: idle cached connections get QUIT, later ones too.
    void stop();
    // Drops every delivery still running (after the loop).
    void shutdown();
    // Deliveries in progress.
    size_t active() const { return active_.size(); }
    // The connection cache; null before init().
    const ConnectionCache* cache() const { return cache_.get(); }

  private:
    void retire(Delivery* delivery);
    static void onReap(evutil_socket_t, short, void* self);

    DaemonContext* context_ = nullptr;
    std::unique_ptr<TrustStores> trust_;
    std::unique_ptr<dns::Resolver> resolver_;
    std::unique_ptr<ConnectionCache> cache_;
    WorkerEnv env_;
    size_t limit_ = 1;
    bool paused_ = false;
    std::unordered_map<Delivery*, std::unique_ptr<Delivery>> active_;
    std::vector<std::unique_ptr<Delivery>> finished_;
    EventPtr reapEvent_;
};

}  // namespace postern::smtp
