// delivery.h: one delivery request from qmgr, from its connection on private/smtp to the
// `done` frame: read and check the request (job.h), find the servers (destination.h), run
// sessions over them in order (session.h) until every recipient has a result or none is
// left to try, report each recipient (log line and `rcpt` frame, report.h) as soon as its
// result is final, then `done` and hang up. qmgr hanging up first cancels the delivery.
//
// Trying the servers, as Postfix does: the next address after a failure before MAIL FROM
// (connection refused or lost, a greeting or EHLO refused, TLS required but unavailable);
// a `may` handshake failure retries the same address once in plaintext; at most
// smtp.mx_session_limit sessions that got a greeting; the last failure is what the
// remaining recipients get.
//
// With the connection cache (connection_cache.h): before DNS the delivery takes an idle
// session of its destination and TLS policy, and before connecting to each server address
// one of that server; a session that ends reusable goes back to the cache. A cached session
// found stale before MAIL FROM was answered costs nothing: the delivery goes on as if there
// had been none (DNS, a fresh connection), and takes no other cached one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "connection_cache.h"
#include "daemon.h"
#include "destination.h"
#include "dns.h"
#include "ipc_channel.h"
#include "job.h"
#include "report.h"
#include "session.h"
#include "tls_setup.h"

namespace postern::smtp {

// What every delivery of the process shares.
struct WorkerEnv {
    event_base* base = nullptr;
    const Config* config = nullptr;
    dns::Resolver* resolver = nullptr;
    TrustStores* trust = nullptr;
    SessionSettings settings;
    dns::RandomBelow random;
    ConnectionCache* cache = nullptr;  // null: every session ends with QUIT
};

class Delivery {
  public:
    // Called once when the delivery is over; the owner destroys it later, not inside.
    using Finished = std::function<void(Delivery* delivery)>;

    // How long qmgr has to send its request after connecting.
    static constexpr int kRequestTimeoutSeconds = 60;

    // A delivery that holds WORK (the daemon's in-flight count) until it ends.
    Delivery(const WorkerEnv& env, WorkGuard work, Finished finished);
    ~Delivery();
    Delivery(const Delivery&) = delete;
    Delivery& operator=(const Delivery&) = delete;

    // Takes qmgr's connection and waits for the request.
    Status open(UniqueFd fd);

  private:
    enum class Stage { WaitingForRequest, Resolving, Delivering, Over };

    void onMessage(ipc::Message&& message);
    void onChannelClosed(ipc::CloseReason reason, const std::string& detail);
    static void onRequestTimeout(evutil_socket_t, short, void* self);
    void begin(PreparedJob prepared);
    void lookUpServers();
    void onDestinations(Destinations destinations);
    void startSession(bool tlsAllowed);
    void resumeSession(std::unique_ptr<Session> session);
    Session::Env sessionEnv() const;
    Session::RecipientDone recipientDoneHandler();
    Session::Ended endedHandler();
    ConnectionCache* cacheToTake() const;
    void keepConnection();
    void retryAfterStaleConnection(const SessionEnd& end);
    void onRecipientDone(size_t position, const Verdict& verdict, const RelayInfo& via);
    void onSessionEnd(const SessionEnd& end);
    bool mayTryAnother() const;
    void logSkippedServer(const SessionEnd& end) const;
    void settleRemaining(const Verdict& verdict, const RelayInfo& via);
    void finish();
    void cancel(const std::string& why);
    std::vector<size_t> openPositions() const;

    const WorkerEnv& env_;
    WorkGuard work_;
    Finished finished_;
    Stage stage_ = Stage::WaitingForRequest;
    std::unique_ptr<ipc::Channel> channel_;
    EventPtr requestTimer_;
    DeliveryJob job_;
    DeliveryTimes times_;
    std::vector<bool> settled_;  // by position in job_.request.recipients
    std::unique_ptr<DestinationLookup> lookup_;
    std::vector<Candidate> candidates_;
    size_t current_ = 0;          // index into candidates_ of the session's server
    bool plaintextRetried_ = false;  // for candidates_[current_]
    int greetedSessions_ = 0;
    bool mayTakeCached_ = true;  // false after a cached session went stale
    // Every session of this delivery, the current one last. None is destroyed before the
    // delivery: a session that ended may still be on the call stack (a connect that fails
    // at once ends one session and starts the next inside the first one's callback). A
    // session handed back to the cache leaves a null here.
    std::vector<std::unique_ptr<Session>> sessions_;
};

}  // namespace postern::smtp
