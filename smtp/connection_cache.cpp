// connection_cache.cpp: parked SMTP sessions, their keys and limits (see connection_cache.h).
#include "connection_cache.h"

#include <algorithm>

#include "log.h"

namespace postern::smtp {

namespace {

// Fields with their length in front, so no value can pass for two others.
void addField(std::string& key, std::string_view field) {
    key += std::to_string(field.size());
    key += ':';
    key += field;
}

void addList(std::string& key, const std::vector<std::string>& items) {
    addField(key, std::to_string(items.size()));
    for (const auto& item : items) addField(key, item);
}

// Every field of the route's TLS policy.
void addPolicy(std::string& key, const DeliveryJob& job) {
    addField(key, tls::levelName(job.tls.level));
    addList(key, job.tls.match);
    addField(key, job.caFile);
    addField(key, job.caPath);
    addField(key, job.tls.certFile);
    addField(key, job.tls.keyFile);
}

}  // namespace

std::string destinationKey(const DeliveryJob& job) {
    std::string key = "destination ";
    addField(key, job.nexthop.toString());
    const bool recipientMx = job.nexthop.kind == NextHop::Kind::RecipientMx;
    addField(key, recipientMx ? normalizeDomain(job.request.domain) : "");
    addPolicy(key, job);
    return key;
}

std::string endpointKey(const DeliveryJob& job, const Candidate& server) {
    std::string key = "endpoint ";
    addField(key, server.relay());
    addList(key, tls::namesToMatch(job.tls, {server.host, tlsNexthop(job.nexthop, job.request.domain)}));
    addPolicy(key, job);
    return key;
}

CacheSettings CacheSettings::fromConfig(const Config& config) {
    CacheSettings settings;
    settings.enabled = config.smtp.connection_cache;
    settings.idleLimit = std::chrono::seconds(config.smtp.connection_cache_time_limit);
    settings.reuseTimeLimit = std::chrono::seconds(config.smtp.connection_reuse_time_limit);
    settings.reuseCountLimit = config.smtp.connection_reuse_count_limit;
    settings.destinationLimit = static_cast<size_t>(std::max(1, config.qmgr.destination_concurrency_limit));
    settings.processLimit = static_cast<size_t>(std::max(1, config.smtp.process_delivery_limit));
    return settings;
}

ConnectionCache::ConnectionCache(event_base* base, CacheSettings settings, BeginWork beginWork, Clock clock)
    : settings_(settings),
      beginWork_(std::move(beginWork)),
      clock_(std::move(clock)),
      reapEvent_(event_new(base, -1, 0, &ConnectionCache::onReap, this)) {
    if (!reapEvent_) log::panic("cannot create the connection cache's reap event");
}

ConnectionCache::~ConnectionCache() = default;

// Postfix's limits: no reuse past the time limit since connect; with a count limit of N a
// connection carries at most N + 1 transactions.
bool ConnectionCache::withinReuseLimits(const Session& session) const {
    if (clock_() - session.connectedAt() >= settings_.reuseTimeLimit) return false;
    return settings_.reuseCountLimit <= 0 || session.uses() <= settings_.reuseCountLimit;
}

void ConnectionCache::offer(std::unique_ptr<Session> session, CacheKeys keys) {
    if (!session || session->state() != Session::State::Parked) {
        log::panic("offering the connection cache a session that is not reusable");
    }
    if (!accepting() || !withinReuseLimits(*session)) return quit(std::move(session));
    Session* parked = session.get();
    parked->park(settings_.idleLimit, [this](Session* s, bool expired) { onIdleEnded(s, expired); });
    const std::string destination = keys.destination;
    idle_.push_back({std::move(session), std::move(keys)});
    evictBeyondCaps(destination);
}

// QUITs the oldest sessions beyond the caps; the newest, just parked, stays.
void ConnectionCache::evictBeyondCaps(const std::string& destination) {
    size_t sameDestination = 0;
    for (auto it = idle_.end(); it != idle_.begin();) {
        --it;
        if (it->keys.destination != destination || ++sameDestination <= settings_.destinationLimit) continue;
        std::unique_ptr<Session> evicted = std::move(it->session);
        it = idle_.erase(it);
        quit(std::move(evicted));
    }
    while (idle_.size() > settings_.processLimit) {
        std::unique_ptr<Session> evicted = std::move(idle_.front().session);
        idle_.pop_front();
        quit(std::move(evicted));
    }
}

std::unique_ptr<Session> ConnectionCache::takeByDestination(const std::string& key) {
    return take(key, &CacheKeys::destination);
}

std::unique_ptr<Session> ConnectionCache::takeByEndpoint(const std::string& key) {
    return take(key, &CacheKeys::endpoint);
}

// The most recently parked first: the older ones are the ones left to expire.
std::unique_ptr<Session> ConnectionCache::take(const std::string& key, std::string CacheKeys::*which) {
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if (it->keys.*which != key) continue;
        std::unique_ptr<Session> session = std::move(it->session);
        idle_.erase(std::next(it).base());
        return session;
    }
    return nullptr;
}

void ConnectionCache::closeAll() {
    closed_ = true;
    while (!idle_.empty()) {
        std::unique_ptr<Session> session = std::move(idle_.front().session);
        idle_.pop_front();
        quit(std::move(session));
    }
}

void ConnectionCache::quit(std::unique_ptr<Session> session) {
    Session* quitting = session.get();
    closing_.emplace(quitting, Closing{std::move(session), beginWork_ ? beginWork_() : WorkGuard()});
    quitting->quit([this, quitting](const SessionEnd&) { onQuitDone(quitting); });
}

void ConnectionCache::onIdleEnded(Session* session, bool expired) {
    auto found = std::find_if(idle_.begin(), idle_.end(), [&](const Parked& p) { return p.session.get() == session; });
    if (found == idle_.end()) log::panic("an idle session the connection cache does not hold");
    std::unique_ptr<Session> owned = std::move(found->session);
    idle_.erase(found);
    if (expired) return quit(std::move(owned));
    dispose(std::move(owned));  // the server closed or spoke: the connection is gone
}

void ConnectionCache::onQuitDone(Session* session) {
    auto found = closing_.find(session);
    if (found == closing_.end()) log::panic("a QUIT the connection cache did not send");
    std::unique_ptr<Session> owned = std::move(found->second.session);
    closing_.erase(found);  // releases the work: a stopping worker may exit now
    dispose(std::move(owned));
}

void ConnectionCache::dispose(std::unique_ptr<Session> session) {
    finished_.push_back(std::move(session));
    event_active(reapEvent_.get(), EV_TIMEOUT, 0);
}

void ConnectionCache::onReap(evutil_socket_t, short, void* self) {
    static_cast<ConnectionCache*>(self)->finished_.clear();
}

}  // namespace postern::smtp
