// session.cpp: the session's state machine, its I/O, replies, error limits and closing.
#include "session.h"

#include "log.h"
#include "text_escape.h"

namespace postern::smtpd {

namespace {

// Commands answered per wake-up before the loop serves other sessions (fairness).
constexpr int kCommandsPerWakeup = 32;
// State changes handled per wake-up (command, content, command, ...).
constexpr int kRoundsPerWakeup = 8;
// Input buffered while the session waits for something else.
constexpr size_t kMaxBufferedInput = 256 * 1024;
// Replies a client has not read yet: beyond this, stop reading its commands.
constexpr size_t kMaxPendingOutput = 64 * 1024;
// The shortest command line limit, whatever line_length_limit says (RFC 5321 4.5.3.1.4).
constexpr size_t kMinCommandLine = 512;

timeval seconds(int count) {
    return {static_cast<time_t>(count), 0};
}

}  // namespace

Session::Session(SessionServices& services, UniqueFd fd, ClientOrigin origin, WorkGuard work,
                 ClientCounter::Ticket ticket)
    : services_(services),
      origin_(std::move(origin)),
      work_(std::move(work)),
      ticket_(std::move(ticket)) {
    // The socket stays ours, not the bufferevent's: STARTTLS swaps the bufferevent on it,
    // and a peer must see EOF as soon as the session closes (libevent would close a
    // CLOSE_ON_FREE socket only on the loop's next turn).
    fd_ = std::move(fd);
    bev_.reset(bufferevent_socket_new(services_.base, fd_.get(), 0));
}

Session::~Session() = default;

void Session::start() {
    if (!connect()) return;
    const Config& config = *services_.config;
    sendNow("220 " + config.myhostname + " " + config.smtpd.banner + "\r\n");
}

void Session::refuse(const SmtpReply& refusal) {
    if (connect()) closeWith(refusal);
}

bool Session::connect() {
    log::info("connect from %s", client().c_str());
    if (!bev_) {
        closeNow("cannot make a bufferevent");
        return false;
    }
    bufferevent_setcb(bev_.get(), &Session::readCallback, &Session::writeCallback,
                      &Session::eventCallback, this);
    armTimeouts();
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    return true;
}

void Session::drain() {
    draining_ = true;
    if (state_ == SessionState::Commands && !transaction_) becameIdle();
}

// Back to reading commands after a pause (a delay, a commit, a handshake): a draining
// server says goodbye to a session with no transaction; the others read on.
void Session::becameIdle() {
    if (draining_ && !transaction_) {
        closeWith(makeReply(421, "4.3.2",
                            services_.config->myhostname + " Error: service shutting down"));
        return;
    }
    setReading(true);
    drive();
}

void Session::setState(SessionState next) {
    if (!isLegalTransition(state_, next)) {
        log::panic("session %s: illegal transition %s -> %s", client().c_str(), stateName(state_),
                   stateName(next));
    }
    state_ = next;
}

// The one dispatcher: whatever woke the session up, this reads what the current state
// wants, and again in the next state when one read moved it on (a command line followed by
// its DATA content), a bounded number of times.
void Session::drive() {
    for (int round = 0; round < kRoundsPerWakeup; ++round) {
        SessionState before = state_;
        bool starved = false;  // the state needs input that is not there
        switch (state_) {
            case SessionState::Commands:
                starved = readCommands();
                break;
            case SessionState::Data:
                starved = readData();
                break;
            case SessionState::Chunk:
                starved = readChunk();
                break;
            case SessionState::Delaying:
            case SessionState::Opening:
            case SessionState::Committing:
            case SessionState::Handshake:
            case SessionState::Closing:
            case SessionState::Closed:
            case SessionState::Count:
                return;  // waiting for a timer, the pool, the handshake or the last write
        }
        if (state_ != before) continue;
        // A client that finished sending has had everything it sent answered.
        if (starved && inputEnded_) closeNow("lost connection");
        return;
    }
    continueLater();
}

void Session::continueLater() {
    if (bev_ && evbuffer_get_length(input()) > 0)
        bufferevent_trigger(bev_.get(), EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

evbuffer* Session::input() const {
    return bufferevent_get_input(bev_.get());
}

std::string Session::client() const {
    return clientName(origin_.hostname, origin_.address);
}

bool Session::readCommands() {
    for (int budget = kCommandsPerWakeup; state_ == SessionState::Commands; --budget) {
        if (outputBacklogged()) {
            setReading(false);  // onWritten() resumes once the client read its replies
            return false;
        }
        if (budget == 0) {
            continueLater();  // fairness: let other sessions run, then come back
            return false;
        }
        std::optional<CommandLine> line = takeLine();
        if (!line) return true;
        handleLine(*line);
    }
    return false;
}

std::optional<Session::CommandLine> Session::takeLine() {
    evbuffer* in = input();
    const size_t limit =
        std::max(kMinCommandLine, size_t(std::max(0, services_.config->line_length_limit)));
    size_t eolLength = 0;
    evbuffer_ptr end = evbuffer_search_eol(in, nullptr, &eolLength, EVBUFFER_EOL_LF);
    if (end.pos < 0) {
        // No line end yet. An endless line is dropped as it comes, never buffered.
        if (evbuffer_get_length(in) > limit) {
            evbuffer_drain(in, evbuffer_get_length(in));
            skippingLongLine_ = true;
        }
        return std::nullopt;
    }
    size_t length = size_t(end.pos);
    if (skippingLongLine_ || length > limit) {
        evbuffer_drain(in, length + eolLength);
        skippingLongLine_ = false;
        return CommandLine{{}, true, true};
    }
    CommandLine line;
    line.text.resize(length);
    evbuffer_remove(in, line.text.data(), length);
    evbuffer_drain(in, eolLength);
    if (!line.text.empty() && line.text.back() == '\r') {
        line.text.pop_back();
        line.crlf = true;
    }
    return line;
}

void Session::handleLine(const CommandLine& line) {
    sawCommand_ = true;
    if (line.tooLong) {
        currentVerb_ = Verb::unknown;
        answer(makeReply(500, "5.5.0", "Error: line too long"));
        return;
    }
    CommandResult parsed = parseCommand(line.text, commandContext());
    if (!parsed.ok()) {
        currentVerb_ = parsed.error().verb;
        if (currentVerb_ == Verb::unknown && isNonSmtpCommand(line.text)) {
            // Another protocol (HTTP, TLS) on the SMTP port: more of it is no use. As Postfix.
            log::warning("non-SMTP command from %s: %s", client().c_str(),
                         printableTruncated(line.text, 100).c_str());
            closeWith(makeReply(221, "2.7.0", "Error: I can break rules, too. Goodbye."));
            return;
        }
        log::debug("%s: %s", client().c_str(), parsed.error().detail.c_str());
        if (currentVerb_ == Verb::bdat) {
            // Without a valid size nobody knows where the chunk ends: stop here.
            closeWith(parsed.error().reply);
            return;
        }
        answer(parsed.error().reply);
        return;
    }
    currentVerb_ = parsed.command().verb;
    dispatch(parsed.command(), line);
}

// Sends a reply to the current command, counts it, and applies the error limits: past
// soft_error_limit an error reply waits error_sleep_time; at hard_error_limit the session
// ends with 421.
void Session::answer(const SmtpReply& reply) {
    if (reply.code < 300 || reply.code >= 400) counters_.record(currentVerb_, reply.code < 400);
    const SmtpdConfig& limits = services_.config->smtpd;
    if (reply.code < 400) {
        sendNow(reply.format());
        return;
    }
    ++errors_;
    if (limits.hard_error_limit > 0 && errors_ >= limits.hard_error_limit) {
        sendNow(reply.format());
        log::info("too many errors after %s from %s", lastCommandName(), client().c_str());
        closeWith(
            makeReply(421, "4.7.0", services_.config->myhostname + " Error: too many errors"));
        return;
    }
    if (errors_ >= limits.soft_error_limit && limits.error_sleep_time > 0 &&
        state_ == SessionState::Commands) {
        if (!delayTimer_) delayTimer_.reset(evtimer_new(services_.base, &delayCallback, this));
        if (delayTimer_) {
            delayedReply_ = reply.format();
            setState(SessionState::Delaying);  // input waits in the buffer meanwhile
            timeval delay = seconds(limits.error_sleep_time);
            evtimer_add(delayTimer_.get(), &delay);
            return;
        }
    }
    sendNow(reply.format());
}

void Session::onDelayOver() {
    if (state_ != SessionState::Delaying) return;
    sendNow(delayedReply_);
    std::string().swap(delayedReply_);
    setState(SessionState::Commands);
    becameIdle();
}

void Session::sendNow(const std::string& wire) {
    if (bev_) bufferevent_write(bev_.get(), wire.data(), wire.size());
}

void Session::closeWith(const SmtpReply& reply) {
    if (state_ == SessionState::Closing || state_ == SessionState::Closed) return;
    if (state_ == SessionState::Delaying) {
        sendNow(delayedReply_);
        evtimer_del(delayTimer_.get());
    }
    sendNow(reply.format());
    setState(SessionState::Closing);
    setReading(false);
    // onWritten() closes once the client has the reply; the write timeout bounds the wait.
}

void Session::closeNow(const char* why) {
    if (state_ == SessionState::Closed) return;
    if (why) log::info("%s after %s from %s", why, lastCommandName(), client().c_str());
    if (state_ == SessionState::Opening || state_ == SessionState::Data ||
        state_ == SessionState::Chunk)
        counters_.record(currentVerb_, false);  // the content never ended
    setState(SessionState::Closed);
    if (delayTimer_) evtimer_del(delayTimer_.get());
    // An unfinished message goes (its temporary file with it) before the client can see
    // the connection close. One whose end came and whose commit runs is kept: the commit
    // finishes, and the message is queued even though nobody hears the 250.
    if (!poolPending_) content_.reset();
    bev_.reset();
    ssl_.reset();
    fd_.reset();  // the client sees EOF now
    ticket_.release();
    logDisconnect();
    finishIfDone();
}

void Session::finishIfDone() {
    if (state_ != SessionState::Closed || poolPending_ || finishedCalled_) return;
    finishedCalled_ = true;
    work_.release();
    if (services_.finished) services_.finished(*this);
}

void Session::logDisconnect() {
    log::info("disconnect from %s%s", client().c_str(), counters_.summary().c_str());
}

const char* Session::lastCommandName() const {
    switch (state_) {
        case SessionState::Data:
            return "DATA";
        case SessionState::Chunk:
            return "BDAT";
        case SessionState::Committing:
            return "END-OF-MESSAGE";
        default:
            break;
    }
    if (!sawCommand_) return "CONNECT";
    return verbName(currentVerb_).data();
}

bool Session::outputBacklogged() const {
    return bev_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) > kMaxPendingOutput;
}

void Session::setReading(bool on) {
    if (!bev_ || (on && inputEnded_)) return;
    if (bool(bufferevent_get_enabled(bev_.get()) & EV_READ) == on) return;
    if (on) {
        bufferevent_enable(bev_.get(), EV_READ);
    } else {
        bufferevent_disable(bev_.get(), EV_READ);
    }
}

void Session::armTimeouts() {
    timeval timeout = seconds(services_.config->smtpd.timeout);
    bufferevent_set_timeouts(bev_.get(), &timeout, &timeout);
    // While the session waits (an open, a commit, a delay), input collects in the buffer,
    // up to this much; then libevent stops reading until the session takes some.
    bufferevent_setwatermark(bev_.get(), EV_READ, 0, kMaxBufferedInput);
}

void Session::onWritten() {
    if (state_ == SessionState::Closing) {
        closeNow(nullptr);
        return;
    }
    if (state_ == SessionState::Handshake && !ssl_) {
        beginHandshake();  // the 220 to STARTTLS is out
        return;
    }
    // Replies drained: a session paused for them reads again.
    if (state_ == SessionState::Commands && bev_ &&
        !(bufferevent_get_enabled(bev_.get()) & EV_READ)) {
        setReading(true);
        drive();
    }
}

void Session::onConnectionEvent(short events) {
    if (state_ == SessionState::Handshake && (events & BEV_EVENT_CONNECTED)) {
        onHandshakeDone();
        return;
    }
    if (state_ == SessionState::Handshake && (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
        onHandshakeFailed();
        return;
    }
    if (events & BEV_EVENT_TIMEOUT) {
        if (state_ == SessionState::Closing || state_ == SessionState::Handshake) {
            closeNow(state_ == SessionState::Handshake ? "timeout" : nullptr);
            return;
        }
        log::info("timeout after %s from %s", lastCommandName(), client().c_str());
        closeWith(
            makeReply(421, "4.4.2", services_.config->myhostname + " Error: timeout exceeded"));
        return;
    }
    if ((events & BEV_EVENT_ERROR) || state_ == SessionState::Closing) {
        closeNow(state_ == SessionState::Closing ? nullptr : "lost connection");
        return;
    }
    if (events & BEV_EVENT_EOF) {
        // The client may have only shut its sending side down: what it sent before is
        // still answered; drive() closes when it needs more.
        inputEnded_ = true;
        drive();
    }
}

void Session::readCallback(bufferevent*, void* self) {
    static_cast<Session*>(self)->drive();
}

void Session::writeCallback(bufferevent*, void* self) {
    static_cast<Session*>(self)->onWritten();
}

void Session::eventCallback(bufferevent*, short events, void* self) {
    static_cast<Session*>(self)->onConnectionEvent(events);
}

void Session::delayCallback(evutil_socket_t, short, void* self) {
    static_cast<Session*>(self)->onDelayOver();
}

}  // namespace postern::smtpd
