// connection_cache.h: the worker process's SMTP connection cache (Postfix's
// smtp_connection_cache_*, in the process rather than in a shared scache daemon). A session
// whose transaction ended cleanly is parked here instead of getting QUIT, and the next
// delivery to the same destination with the same TLS policy starts on it at MAIL FROM,
// skipping DNS, connect, greeting, EHLO and the TLS handshake.
//
// Each parked session is filed under two keys, as Postfix's cache does:
//   destination: the request's next hop (and the recipient domain for `mx`) and the complete
//                TLS policy; looked up before DNS, so a hit skips the lookup too;
//   endpoint:    the server (host name, IP address, port), the names its certificate was
//                verified against, and the complete TLS policy; looked up for each server
//                address after DNS, so next hops that share servers share connections.
// Both include every field of the policy (level, match names, CA file and directory, client
// certificate and key): a connection only ever carries mail under the policy it was made
// with — it IS the same connection, with the fresh context it was made with, never one of
// another route. The endpoint key also names the verified certificate names, so a `verify`
// connection checked for one domain never carries another domain's mail.
//
// Limits: a session idle for connection_cache_time_limit, or one that would be reused past
// connection_reuse_time_limit since it connected or more than connection_reuse_count_limit
// times, gets QUIT; so do the oldest idle sessions beyond the per-destination cap (a
// destination never has more deliveries in flight than qmgr's
// destination_concurrency_limit, so more idle sessions would never be used) and the
// per-process cap (smtp.process_delivery_limit: idle descriptors no more than busy ones).
// A session the server closes, or that hears anything while idle, is dropped. Sessions
// saying QUIT hold the daemon's work count, so a stopping worker waits for their 221.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "config.h"
#include "daemon.h"
#include "event.h"
#include "session.h"

namespace postern::smtp {

// Both keys of one session; see above.
struct CacheKeys {
    std::string destination;
    std::string endpoint;
};

// The destination key of JOB (its next hop, its domain for `mx`, its TLS policy).
std::string destinationKey(const DeliveryJob& job);
// The endpoint key of SERVER for JOB (the server, its verified names, JOB's TLS policy).
std::string endpointKey(const DeliveryJob& job, const Candidate& server);

struct CacheSettings {
    bool enabled = true;                        // smtp.connection_cache
    std::chrono::seconds idleLimit{2};          // smtp.connection_cache_time_limit
    std::chrono::seconds reuseTimeLimit{300};   // smtp.connection_reuse_time_limit
    int reuseCountLimit = 0;                    // smtp.connection_reuse_count_limit; 0: none
    size_t destinationLimit = 20;               // idle sessions per destination key
    size_t processLimit = 500;                  // idle sessions in all

    // The settings of a configuration (the caps from qmgr.destination_concurrency_limit and
    // smtp.process_delivery_limit).
    static CacheSettings fromConfig(const Config& config);
};

class ConnectionCache {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    using BeginWork = std::function<WorkGuard()>;

    // A cache on BASE; BEGINWORK marks a QUIT in flight (may return an empty guard); CLOCK
    // tells the time for the reuse time limit (tests move it).
    ConnectionCache(event_base* base, CacheSettings settings, BeginWork beginWork,
                    Clock clock = &std::chrono::steady_clock::now);
    ~ConnectionCache();
    ConnectionCache(const ConnectionCache&) = delete;
    ConnectionCache& operator=(const ConnectionCache&) = delete;

    // True when sessions should end open and be offered here (enabled and not closed).
    bool accepting() const { return settings_.enabled && !closed_; }
    // Takes a session that ended reusable: parks it under KEYS, or QUITs it when a limit
    // says so or the cache is closed. May be called from inside the session's callback.
    void offer(std::unique_ptr<Session> session, CacheKeys keys);
    // The most recently parked idle session under that key, taken out; null when none.
    std::unique_ptr<Session> takeByDestination(const std::string& key);
    std::unique_ptr<Session> takeByEndpoint(const std::string& key);
    // QUITs every idle session and every later offer (the worker stops or retires).
    void closeAll();

    // Sessions parked now.
    size_t idle() const { return idle_.size(); }
    // Sessions saying QUIT now.
    size_t closing() const { return closing_.size(); }

  private:
    struct Parked {
        std::unique_ptr<Session> session;
        CacheKeys keys;
    };
    struct Closing {
        std::unique_ptr<Session> session;
        WorkGuard work;
    };

    bool withinReuseLimits(const Session& session) const;
    std::unique_ptr<Session> take(const std::string& key, std::string CacheKeys::*which);
    void evictBeyondCaps(const std::string& destination);
    void quit(std::unique_ptr<Session> session);
    void onIdleEnded(Session* session, bool expired);
    void onQuitDone(Session* session);
    void dispose(std::unique_ptr<Session> session);
    static void onReap(evutil_socket_t, short, void* self);

    CacheSettings settings_;
    BeginWork beginWork_;
    Clock clock_;
    bool closed_ = false;
    std::list<Parked> idle_;  // oldest parked first
    std::unordered_map<Session*, Closing> closing_;
    // Sessions done with, destroyed from an event: never inside their own callbacks.
    std::vector<std::unique_ptr<Session>> finished_;
    EventPtr reapEvent_;
};

}  // namespace postern::smtp
