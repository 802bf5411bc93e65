// session.cpp: the session's states, its timers, the handshake up to EHLO over TLS, and how
// it ends (see session.h). The mail transaction is in session_transaction.cpp.
#include "session.h"

#include "log.h"
#include "queue_id.h"

namespace postern::smtp {

namespace {

constexpr const char* kStateNames[] = {"Idle",     "Connecting",   "Greeting",    "Ehlo",
                                       "Helo",     "StartTls",     "TlsHandshake", "TlsEhlo",
                                       "Transaction", "Content",   "DataDone",    "Rset",
                                       "Parked",   "Quit",         "Closed"};
static_assert(std::size(kStateNames) == size_t(Session::State::Count));

bool requiresTls(tls::TlsLevel level) {
    return level == tls::TlsLevel::Encrypt || level == tls::TlsLevel::Verify ||
           level == tls::TlsLevel::Secure;
}

}  // namespace

const char* stateName(Session::State state) {
    const auto index = static_cast<size_t>(state);
    return index < std::size(kStateNames) ? kStateNames[index] : "invalid";
}

SessionSettings SessionSettings::fromConfig(const SmtpConfig& config) {
    SessionSettings settings;
    settings.heloName = config.helo_name;
    settings.connectTimeout = config.connect_timeout;
    settings.heloTimeout = config.helo_timeout;
    settings.starttlsTimeout = config.starttls_timeout;
    settings.mailTimeout = config.mail_timeout;
    settings.rcptTimeout = config.rcpt_timeout;
    settings.dataInitTimeout = config.data_init_timeout;
    settings.dataXferTimeout = config.data_xfer_timeout;
    settings.dataDoneTimeout = config.data_done_timeout;
    settings.quitTimeout = config.quit_timeout;
    settings.rsetTimeout = config.rset_timeout;
    settings.lineLengthLimit = static_cast<size_t>(config.line_length_limit);
    return settings;
}

Session::Session(Env env, const DeliveryJob& job, Candidate server, std::vector<size_t> positions,
                 bool tlsAllowed, RecipientDone recipientDone, Ended ended)
    : env_(env),
      job_(&job),
      server_(std::move(server)),
      peer_(server_.peer()),
      relay_(server_.relay()),
      positions_(std::move(positions)),
      settled_(positions_.size(), false),
      tlsAllowed_(tlsAllowed),
      recipientDone_(std::move(recipientDone)),
      ended_(std::move(ended)),
      connection_(env.base, [this](ServerConnection::Event event, const std::string& detail) {
          onConnectionEvent(event, detail);
      }),
      timer_(evtimer_new(env.base, &Session::onTimer, this)) {
    if (!timer_) log::panic("cannot create a session timer");
}

Session::~Session() = default;

void Session::start() {
    setState(State::Connecting);
    if (Status started = connection_.connect(server_.address); !started) {
        endNow(tryNext(connectFailed(relay_, started.error())));
    }
}

void Session::abort() {
    connection_.close();
    evtimer_del(timer_.get());
    state_ = State::Closed;
}

void Session::setState(State state) {
    if (state >= State::Count) log::panic("session state %d out of range", static_cast<int>(state));
    log::debug("%s: %s -> %s", relay_.c_str(), stateName(state_), stateName(state));
    state_ = state;
    armTimer();
}

// Arms the timer with the current state's timeout (Postfix's smtp_*_timeout).
void Session::armTimer() {
    const SessionSettings& s = *env_.settings;
    int seconds = 0;
    switch (state_) {
        case State::Connecting:
            seconds = s.connectTimeout;
            break;
        case State::Greeting:
        case State::Ehlo:
        case State::Helo:
        case State::TlsEhlo:
            seconds = s.heloTimeout;
            break;
        case State::StartTls:
        case State::TlsHandshake:
            seconds = s.starttlsTimeout;
            break;
        case State::Transaction: {
            const CommandKind awaited = commands_.at(repliesTaken_).kind;
            seconds = awaited == CommandKind::Mail   ? s.mailTimeout
                      : awaited == CommandKind::Rcpt ? s.rcptTimeout
                                                     : s.dataInitTimeout;
            break;
        }
        case State::Content:
            seconds = s.dataXferTimeout;
            break;
        case State::DataDone:
            seconds = s.dataDoneTimeout;
            break;
        case State::Rset:
            seconds = s.rsetTimeout;
            break;
        case State::Quit:
            seconds = s.quitTimeout;
            break;
        case State::Parked:  // park() arms it with the cache's idle limit
        case State::Idle:
        case State::Closed:
        case State::Count:
            evtimer_del(timer_.get());
            return;
    }
    const timeval timeout = {seconds, 0};
    evtimer_add(timer_.get(), &timeout);
}

void Session::onTimer(evutil_socket_t, short, void* self) {
    auto* session = static_cast<Session*>(self);
    if (session->state_ == State::Parked) return session->onParkedEvent(true);
    session->onTimeout();
}

void Session::onConnectionEvent(ServerConnection::Event event, const std::string& detail) {
    using Event = ServerConnection::Event;
    if (state_ == State::Closed) return;
    if (state_ == State::Parked) {
        // Anything from an idle server (EOF, an error, "421 timeout") ends its reuse.
        if (event != Event::OutputDrained) onParkedEvent(false);
        return;
    }
    switch (event) {
        case Event::Connected:
            connected_ = true;
            connectedAt_ = std::chrono::steady_clock::now();
            setState(State::Greeting);
            expectedReplies_ = 1;
            return;
        case Event::Input:
            connection_.drainInput([this](std::string_view bytes) { reader_.feed(bytes); });
            readReplies();
            return;
        case Event::OutputDrained:
            if (state_ == State::Content) pumpContent();
            return;
        case Event::TlsReady:
            onTlsReady();
            return;
        case Event::TlsFailed:
            onTlsFailed(detail);
            return;
        case Event::Closed:
        case Event::Failed:
            onConnectionLost(detail.empty() ? "connection closed" : detail, false);
            return;
    }
}

// Takes the replies the session waits for; bytes beyond them were sent out of turn and are
// dropped, so nothing a server pipelines ahead of its turn is believed.
void Session::readReplies() {
    while (expectedReplies_ > 0 && state_ != State::Closed) {
        auto next = reader_.next();
        if (!next) {
            onConnectionLost(next.error(), true);
            return;
        }
        if (!next->has_value()) return;
        --expectedReplies_;
        if (expectedReplies_ == 0 && reader_.buffered() > 0) {
            log::warning("%s sent %zu bytes before its turn; ignored", peer_.c_str(), reader_.buffered());
            reader_.discardBuffered();
            outOfTurn_ = true;
        }
        onReply(**next);
    }
}

// The dispatcher: one reply, handled by the state that waited for it.
void Session::onReply(const SmtpReply& reply) {
    switch (state_) {
        case State::Greeting:
            return onGreeting(reply);
        case State::Ehlo:
        case State::TlsEhlo:
            return onEhlo(reply);
        case State::Helo:
            return onHelo(reply);
        case State::StartTls:
            return onStartTlsReply(reply);
        case State::Transaction:
            return onTransactionReply(reply);
        case State::DataDone:
            return onDataDoneReply(reply);
        case State::Rset:
            return onRsetReply(reply);
        case State::Quit:
            return endNow(pendingEnd_);
        case State::Parked:
        case State::Idle:
        case State::Connecting:
        case State::TlsHandshake:
        case State::Content:
        case State::Closed:
        case State::Count:
            break;
    }
    log::panic("%s: a reply in state %s", relay_.c_str(), stateName(state_));
}

void Session::sendCommand(const std::string& text) {
    connection_.send(text);
    ++expectedReplies_;
}

void Session::onGreeting(const SmtpReply& reply) {
    greeted_ = true;
    if (reply.replyClass() != 2) return quitThen(tryNext(refusedToTalk(peer_, reply)));
    setState(State::Ehlo);
    sendCommand("EHLO " + env_.settings->heloName + "\r\n");
}

void Session::onEhlo(const SmtpReply& reply) {
    if (reply.replyClass() == 2) {
        caps_ = parseEhloCapabilities(reply);
        esmtp_ = true;
        return afterHandshake();
    }
    if (reply.replyClass() == 5) {
        setState(State::Helo);
        sendCommand("HELO " + env_.settings->heloName + "\r\n");
        return;
    }
    quitThen(tryNext(replyFailure(peer_, reply, "EHLO")));
}

void Session::onHelo(const SmtpReply& reply) {
    if (reply.replyClass() != 2) return quitThen(tryNext(replyFailure(peer_, reply, "HELO")));
    caps_ = ServerCapabilities{};
    esmtp_ = false;
    afterHandshake();
}

// After EHLO/HELO: STARTTLS when the policy wants it and it is not done yet, else MAIL.
void Session::afterHandshake() {
    const tls::TlsLevel level = job_->tls.level;
    if (!tlsActive_ && tlsAllowed_ && level != tls::TlsLevel::None) {
        if (caps_.starttls) {
            setState(State::StartTls);
            sendCommand("STARTTLS\r\n");
            return;
        }
        if (requiresTls(level)) {
            return quitThen(
                tryNext(deferral("4.7.4", "TLS is required, but was not offered by host " + peer_)));
        }
    }
    beginTransaction();
}

void Session::onStartTlsReply(const SmtpReply& reply) {
    if (reply.replyClass() == 2) return beginTls();
    if (!requiresTls(job_->tls.level)) return beginTransaction();  // may: on in plaintext
    quitThen(tryNext(deferral(
        "4.7.4", "TLS is required, but host " + peer_ + " refused to start TLS: " + reply.printable())));
}

// A fresh context from the route's policy alone, for this one connection.
void Session::beginTls() {
    reader_.discardBuffered();  // plaintext the server sent after its 220 is not TLS's
    auto trust = env_.trust->forRoute(job_->caFile, job_->caPath);
    Result<SslPtr> ssl = trust ? connectionSsl(job_->tls, **trust, {server_.host, tlsNexthop(job_->nexthop, job_->request.domain)})
                               : Result<SslPtr>(trust.failure());
    if (!ssl) {
        log::warning("TLS setup for %s failed: %s", relay_.c_str(), ssl.error().c_str());
        SessionEnd end = tryNext(deferral("4.7.5", "Cannot start TLS: " + ssl.error()));
        end.next = requiresTls(job_->tls.level) ? SessionEnd::Next::GiveUp : SessionEnd::Next::RetryWithoutTls;
        return endNow(end);
    }
    setState(State::TlsHandshake);
    if (Status started = connection_.startTls(std::move(ssl.value())); !started) {
        onTlsFailed(started.error());
    }
}

void Session::onTlsReady() {
    tlsActive_ = true;
    SSL* ssl = connection_.ssl();
    log::info("%s", tls::clientConnectionLine(ssl, server_.host, server_.address.ip(), server_.address.port()).c_str());
    setState(State::TlsEhlo);
    sendCommand("EHLO " + env_.settings->heloName + "\r\n");
}

void Session::onTlsFailed(const std::string& detail) {
    if (state_ == State::Closed) return;
    const std::string text = handshakeFailureText(connection_.ssl(), job_->tls.level);
    SessionEnd end = tryNext(deferral("4.7.5", text));
    if (requiresTls(job_->tls.level)) {
        log::warning("TLS handshake failed with %s: %s", relay_.c_str(), detail.c_str());
    } else {
        log::warning("TLS handshake failed with %s: %s; retrying without TLS", relay_.c_str(),
                     detail.c_str());
        end.next = SessionEnd::Next::RetryWithoutTls;
    }
    endNow(end);
}

void Session::onTimeout() {
    if (state_ == State::Quit || state_ == State::Rset) return endNow(pendingEnd_);
    if (state_ == State::Connecting) return endNow(tryNext(connectFailed(relay_, "Connection timed out")));
    const Verdict verdict = timedOut(peer_, phase());
    if (staleCachedConnection()) return endNow(stale(verdict));
    if (state_ < State::Transaction) return endNow(tryNext(verdict));
    settleOpen(verdict);
    endNow(finished(verdict));
}

void Session::onConnectionLost(const std::string& detail, bool malformed) {
    if (state_ == State::Closed) return;
    if (state_ == State::Quit || state_ == State::Rset) return endNow(pendingEnd_);
    if (state_ == State::Connecting) return endNow(tryNext(connectFailed(relay_, detail)));
    if (state_ == State::TlsHandshake) return onTlsFailed(detail);
    const Verdict verdict = malformed ? malformedReply(peer_, phase(), detail) : lostConnection(peer_, phase());
    if (staleCachedConnection()) return endNow(stale(verdict));
    if (state_ < State::Transaction) return endNow(tryNext(verdict));
    settleOpen(verdict);
    endNow(finished(verdict));
}

// What Postfix says the session was doing, for "lost connection ... while PHASE".
std::string Session::phase() const {
    switch (state_) {
        case State::Greeting:
            return "receiving the initial server greeting";
        case State::Ehlo:
        case State::TlsEhlo:
            return "performing the EHLO handshake";
        case State::Helo:
            return "performing the HELO handshake";
        case State::StartTls:
        case State::TlsHandshake:
            return "performing the STARTTLS handshake";
        case State::Transaction: {
            const CommandKind awaited = commands_.at(repliesTaken_).kind;
            return awaited == CommandKind::Mail   ? "sending MAIL FROM"
                   : awaited == CommandKind::Rcpt ? "sending RCPT TO"
                                                  : "sending DATA command";
        }
        case State::Content:
            return "sending message body";
        case State::DataDone:
            return emptyData_ ? "sending end of data"
                              : "sending end of data -- message may be sent more than once";
        case State::Rset:
            return "sending RSET";
        case State::Quit:
            return "sending QUIT";
        default:
            return "connecting";
    }
}

SessionEnd Session::tryNext(Verdict verdict) const {
    return {SessionEnd::Next::TryNextServer, std::move(verdict), greeted_, false, via()};
}

SessionEnd Session::finished(Verdict verdict) const {
    return {SessionEnd::Next::Finished, std::move(verdict), greeted_, false, via()};
}

RelayInfo Session::via() const {
    return {connected_ ? relay_ : "none", uses_, transactionStart_};
}

// Sends QUIT and reports END once the server answered it, closed, or quit_timeout passed.
void Session::quitThen(SessionEnd end) {
    pendingEnd_ = std::move(end);
    setState(State::Quit);
    sendCommand("QUIT\r\n");
}

void Session::endNow(SessionEnd end) {
    connection_.close();
    setState(State::Closed);
    Ended ended = ended_;
    ended(end);
}

void Session::settle(size_t position, const Verdict& verdict) {
    for (size_t i = 0; i < positions_.size(); ++i) {
        if (positions_[i] != position || settled_[i]) continue;
        settled_[i] = true;
        recipientDone_(position, verdict, via());
        return;
    }
}

void Session::settleOpen(const Verdict& verdict) {
    for (size_t i = 0; i < positions_.size(); ++i) {
        if (!settled_[i]) settle(positions_[i], verdict);
    }
}

}  // namespace postern::smtp
