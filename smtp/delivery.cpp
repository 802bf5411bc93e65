// delivery.cpp: one delivery request, end to end (see delivery.h).
#include "delivery.h"

#include "log.h"
#include "queue_id.h"
#include "text_escape.h"

namespace postern::smtp {

namespace dp = delivery_protocol;

Delivery::Delivery(const WorkerEnv& env, WorkGuard work, Finished finished)
    : env_(env), work_(std::move(work)), finished_(std::move(finished)) {}

Delivery::~Delivery() = default;

Status Delivery::open(UniqueFd fd) {
    ipc::ChannelOptions options;
    options.peer = "qmgr";
    options.rules = dp::workerEndRules();
    auto channel = ipc::Channel::open(
        env_.base, std::move(fd), options, [this](ipc::Message&& m) { onMessage(std::move(m)); },
        [this](ipc::CloseReason reason, const std::string& detail) { onChannelClosed(reason, detail); });
    if (!channel) return channel.failure();
    channel_ = std::move(channel.value());
    requestTimer_.reset(evtimer_new(env_.base, &Delivery::onRequestTimeout, this));
    if (!requestTimer_) return fail("cannot create a timer");
    const timeval timeout = {kRequestTimeoutSeconds, 0};
    evtimer_add(requestTimer_.get(), &timeout);
    return {};
}

void Delivery::onRequestTimeout(evutil_socket_t, short, void* self) {
    auto* delivery = static_cast<Delivery*>(self);
    log::warning("qmgr sent no delivery request within %d seconds", kRequestTimeoutSeconds);
    delivery->cancel("");
}

void Delivery::onMessage(ipc::Message&& message) {
    if (stage_ != Stage::WaitingForRequest) {
        log::warning("%s: qmgr sent a second frame on a delivery connection; cancelling",
                     job_.request.queueId.c_str());
        return cancel("");
    }
    requestTimer_.reset();
    auto request = dp::decodeRequest(message);
    if (!request) {
        log::warning("malformed delivery request from qmgr: %s", request.error().c_str());
        return cancel("");
    }
    begin(prepareJob(std::move(request.value()), env_.config->queue_directory, queue::realtimeMicros()));
}

void Delivery::begin(PreparedJob prepared) {
    job_ = std::move(prepared.job);
    if (prepared.requestMalformed) {
        log::warning("refused delivery request from qmgr: %s", prepared.error.c_str());
        return cancel("");
    }
    const auto& request = job_.request;
    times_ = {request.arrivalMicros, request.activeMicros, job_.receivedMicros, 0};
    settled_.assign(request.recipients.size(), false);
    if (!prepared.error.empty()) {
        log::warning("%s: %s", request.queueId.c_str(), prepared.error.c_str());
        settleRemaining(deferral("4.3.0", prepared.error), RelayInfo{});
        return finish();
    }
    if (ConnectionCache* cache = cacheToTake()) {
        if (auto session = cache->takeByDestination(destinationKey(job_))) {
            stage_ = Stage::Delivering;
            return resumeSession(std::move(session));
        }
    }
    lookUpServers();
}

void Delivery::lookUpServers() {
    const auto& request = job_.request;
    stage_ = Stage::Resolving;
    lookup_ = std::make_unique<DestinationLookup>(
        *env_.resolver, DestinationSettings{env_.config->myhostname, env_.config->smtp.mx_address_limit},
        env_.random);
    lookup_->start(job_.nexthop, request.domain, [this](Destinations d) { onDestinations(std::move(d)); });
}

void Delivery::onDestinations(Destinations destinations) {
    if (destinations.candidates.empty()) {
        settleRemaining(destinations.failure.value_or(deferral("4.4.3", "no server address")), RelayInfo{});
        return finish();
    }
    candidates_ = std::move(destinations.candidates);
    stage_ = Stage::Delivering;
    startSession(true);
}

// A session with the current server: a cached one when there is one (not for the plaintext
// retry of `may`: that one must not find the TLS session that just failed), else a new one.
void Delivery::startSession(bool tlsAllowed) {
    const Candidate& server = candidates_[current_];
    if (ConnectionCache* cache = tlsAllowed ? cacheToTake() : nullptr) {
        if (auto session = cache->takeByEndpoint(endpointKey(job_, server))) return resumeSession(std::move(session));
    }
    auto& session = sessions_.emplace_back(std::make_unique<Session>(
        sessionEnv(), job_, server, openPositions(), tlsAllowed, recipientDoneHandler(), endedHandler()));
    session->start();
}

void Delivery::resumeSession(std::unique_ptr<Session> session) {
    auto& resumed = sessions_.emplace_back(std::move(session));
    resumed->resume(job_, openPositions(), recipientDoneHandler(), endedHandler());
}

Session::Env Delivery::sessionEnv() const {
    return {env_.base, &env_.settings, env_.trust, env_.cache && env_.cache->accepting()};
}

Session::RecipientDone Delivery::recipientDoneHandler() {
    return [this](size_t position, const Verdict& verdict, const RelayInfo& via) {
        onRecipientDone(position, verdict, via);
    };
}

Session::Ended Delivery::endedHandler() {
    return [this](const SessionEnd& end) { onSessionEnd(end); };
}

ConnectionCache* Delivery::cacheToTake() const {
    return mayTakeCached_ && env_.cache && env_.cache->accepting() ? env_.cache : nullptr;
}

// The session that just ended reusable goes to the cache (which parks or QUITs it).
void Delivery::keepConnection() {
    std::unique_ptr<Session> session = std::move(sessions_.back());
    if (!session || !env_.cache) log::panic("%s: a reusable session without a cache", job_.request.queueId.c_str());
    CacheKeys keys{destinationKey(job_), endpointKey(job_, session->server())};
    env_.cache->offer(std::move(session), std::move(keys));
}

// Nothing was settled over the stale connection: carry on as if it had not been there.
void Delivery::retryAfterStaleConnection(const SessionEnd& end) {
    log::info("%s: cached connection to %s no longer usable (%s); connecting afresh",
              job_.request.queueId.c_str(), end.via.relay.c_str(), end.verdict.text.c_str());
    mayTakeCached_ = false;
    if (candidates_.empty()) return lookUpServers();  // it came by destination: no DNS yet
    startSession(true);
}

std::vector<size_t> Delivery::openPositions() const {
    std::vector<size_t> open;
    for (size_t i = 0; i < settled_.size(); ++i) {
        if (!settled_[i]) open.push_back(i);
    }
    return open;
}

// Postfix's note on a server given up for the next one: "connect to ..." alone, other
// failures with the queue ID.
void Delivery::logSkippedServer(const SessionEnd& end) const {
    if (end.verdict.text.starts_with("connect to ")) {
        log::info("%s", end.verdict.text.c_str());
    } else {
        log::info("%s: %s", job_.request.queueId.c_str(), end.verdict.text.c_str());
    }
}

bool Delivery::mayTryAnother() const {
    const int limit = env_.config->smtp.mx_session_limit;
    return current_ + 1 < candidates_.size() && (limit <= 0 || greetedSessions_ < limit);
}

void Delivery::onSessionEnd(const SessionEnd& end) {
    if (end.greeted && end.next != SessionEnd::Next::RetryWithoutTls) ++greetedSessions_;
    if (end.reusable) keepConnection();
    switch (end.next) {
        case SessionEnd::Next::StaleConnection:
            return retryAfterStaleConnection(end);
        case SessionEnd::Next::Finished:
            if (!openPositions().empty()) {
                log::warning("%s: session with %s ended with recipients unsettled",
                             job_.request.queueId.c_str(), end.via.relay.c_str());
                settleRemaining(deferral("4.3.0", "delivery ended without a result"), end.via);
            }
            return finish();
        case SessionEnd::Next::RetryWithoutTls:
            if (!plaintextRetried_) {
                plaintextRetried_ = true;
                return startSession(false);
            }
            [[fallthrough]];
        case SessionEnd::Next::TryNextServer:
            if (mayTryAnother()) {
                logSkippedServer(end);
                ++current_;
                plaintextRetried_ = false;
                return startSession(true);
            }
            [[fallthrough]];
        case SessionEnd::Next::GiveUp:
            settleRemaining(end.verdict, end.via);
            return finish();
    }
}

void Delivery::onRecipientDone(size_t position, const Verdict& given, const RelayInfo& via) {
    if (position >= settled_.size() || settled_[position]) {
        log::panic("recipient %zu settled twice or out of range", position);
    }
    settled_[position] = true;
    const Verdict verdict = env_.config->soft_bounce ? softened(given) : given;
    const auto& request = job_.request;
    const auto& recipient = request.recipients[position];
    times_.transactionStart = via.transactionStart;
    log::info("%s: %s", request.queueId.c_str(),
              recipientLogText(recipient.address, via, times_, queue::realtimeMicros(), verdict).c_str());
    dp::RecipientResult result;
    result.requestId = request.requestId;
    result.index = recipient.index;
    result.outcome = verdict.outcome;
    result.dsn = verdict.dsn;
    result.reply = printable(verdict.text);
    result.relay = via.relay;
    if (channel_) {
        if (Status sent = channel_->send(dp::encodeResult(result)); !sent) {
            log::warning("%s: cannot report to qmgr: %s", request.queueId.c_str(), sent.error().c_str());
        }
    }
}

void Delivery::settleRemaining(const Verdict& verdict, const RelayInfo& via) {
    for (size_t position : openPositions()) onRecipientDone(position, verdict, via);
}

void Delivery::finish() {
    if (stage_ == Stage::Over) return;
    stage_ = Stage::Over;
    if (channel_) {
        if (channel_->isOpen()) {
            (void)channel_->send(dp::encodeDone({job_.request.requestId}));
            // A few hundred bytes into a local socket: written at once unless qmgr is stuck.
            if (Status flushed = channel_->flushAndClose(std::chrono::seconds(2)); !flushed) {
                log::warning("%s: qmgr: %s", job_.request.queueId.c_str(), flushed.error().c_str());
            }
        }
    }
    work_.release();
    Finished finished = finished_;
    finished(this);
}

// Ends without results: a bad request, or qmgr went away (WHY, for the log, may be empty).
void Delivery::cancel(const std::string& why) {
    if (stage_ == Stage::Over) return;
    if (!why.empty()) log::info("%s: %s", job_.request.queueId.c_str(), why.c_str());
    if (!sessions_.empty() && sessions_.back()) sessions_.back()->abort();
    lookup_.reset();
    if (channel_) channel_->close();
    stage_ = Stage::Over;
    work_.release();
    Finished finished = finished_;
    finished(this);
}

void Delivery::onChannelClosed(ipc::CloseReason reason, const std::string& detail) {
    if (stage_ == Stage::WaitingForRequest) {
        if (reason != ipc::CloseReason::Eof) log::warning("qmgr: %s", detail.c_str());
        return cancel("");
    }
    cancel(std::string("delivery cancelled: qmgr closed the connection (") + ipc::describe(reason) + ")");
}

}  // namespace postern::smtp
