// rate_client.cpp: sends mail at a fixed rate and records when each message was accepted,
// for the latency from the MTA's 250 to the sink's 250.
//   rate_client --connect 127.0.0.1:PORT --rate R --messages N [--sessions C] [--size B]
//               [--id-prefix P] [--times FILE]
// Message i is due at start + i/R seconds and goes out on the first of C persistent
// sessions that is free (one MAIL, RCPT, DATA after another). Each carries the unique
// "Message-ID: <P.i@rate.bench>". FILE gets "MESSAGE-ID NS" per accepted message (the
// CLOCK_MONOTONIC time its 250 arrived). At the end it prints
// "sent N accepted A failed F elapsed_ms MS backlog B" (B: the most messages that were
// due at once without a free session; above 0 the rate was not held).
#include <cstring>
#include <deque>
#include <fstream>
#include <vector>

#include "bench/bench_tool.h"

namespace postern::bench {
namespace {

struct Plan {
    double rate = 100;
    long long messages = 0;
    long long sessions = 20;
    long long size = 4096;
    std::string idPrefix = "rate";
};

class Sender;

class RateSession {
  public:
    RateSession(Sender& sender, const sockaddr_in& address);
    // True when connected, greeted and not in a transaction.
    bool free() const { return state_ == State::Free; }
    // Starts the transaction of message `index`.
    void send(long long index);

  private:
    enum class State { Greeting, Ehlo, Free, Mail, Rcpt, Data, Body, Reset, Closed };
    static void onRead(bufferevent*, void* arg) { static_cast<RateSession*>(arg)->readReplies(); }
    static void onEvent(bufferevent*, short events, void* arg);
    void readReplies();
    void replyComplete(int code);
    void write(std::string_view text) { bufferevent_write(bev_.get(), text.data(), text.size()); }
    void breakDown(const std::string& why);

    Sender& sender_;
    BufferEventPtr bev_;
    State state_ = State::Greeting;
    ReplyReader reply_;
    long long index_ = -1;
};

class Sender {
  public:
    Sender(event_base* base, sockaddr_in address, Plan plan);
    // Opens the sessions and starts the clock.
    void start();
    // A session is free: give it the next due message, if any.
    void sessionFree(RateSession& session);
    // Message `index` was accepted (true) or refused or lost (false).
    void finished(long long index, bool accepted);
    // A session broke: open another in its place.
    void replaceSession();
    // The message text of `index`, dot-terminated.
    std::string messageText(long long index) const;
    std::string messageId(long long index) const;
    // Writes the times file and prints the summary.
    void report(const std::string& timesPath) const;
    event_base* base() const { return base_; }

  private:
    static void onTick(evutil_socket_t, short, void* arg) { static_cast<Sender*>(arg)->release(); }
    void release();
    void dispatch();

    event_base* base_;
    sockaddr_in address_;
    Plan plan_;
    std::string body_;
    std::vector<std::unique_ptr<RateSession>> sessions_;
    std::deque<long long> due_;  // released, not yet handed to a session
    std::vector<std::pair<long long, int64_t>> accepted_;
    EventPtr ticker_;
    int64_t startNs_ = 0;
    long long released_ = 0;
    long long done_ = 0;
    long long failed_ = 0;
    size_t backlog_ = 0;
    int64_t endNs_ = 0;
};

RateSession::RateSession(Sender& sender, const sockaddr_in& address)
    : sender_(sender), bev_(bufferevent_socket_new(sender.base(), -1, BEV_OPT_CLOSE_ON_FREE)) {
    bufferevent_setcb(bev_.get(), onRead, nullptr, onEvent, this);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(bev_.get(), reinterpret_cast<const sockaddr*>(&address),
                                   sizeof address) != 0) {
        state_ = State::Closed;
    } else {
        disableNagle(bufferevent_getfd(bev_.get()));
    }
}

void RateSession::onEvent(bufferevent*, short events, void* arg) {
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        static_cast<RateSession*>(arg)->breakDown("connection lost");
    }
}

void RateSession::breakDown(const std::string& why) {
    if (state_ == State::Closed) return;
    std::fprintf(stderr, "rate_client: session lost: %s\n", why.c_str());
    bool busy = index_ >= 0;
    state_ = State::Closed;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    if (busy) sender_.finished(std::exchange(index_, -1), false);
    sender_.replaceSession();
}

void RateSession::send(long long index) {
    index_ = index;
    state_ = State::Mail;
    write("MAIL FROM:<rate@client.bench>\r\n");
}

void RateSession::readReplies() {
    evbuffer* input = bufferevent_get_input(bev_.get());
    while (state_ != State::Closed) {
        auto code = readReply(input, reply_);
        if (!code) return;
        if (*code < 0) return breakDown("not an SMTP reply: " + reply_.text());
        replyComplete(*code);
        reply_.clear();
    }
}

void RateSession::replyComplete(int code) {
    switch (state_) {
        case State::Greeting:
            if (code != 220) return breakDown("greeting: " + reply_.text());
            state_ = State::Ehlo;
            return write("EHLO rate.bench\r\n");
        case State::Ehlo:
            if (code != 250) return breakDown("EHLO: " + reply_.text());
            state_ = State::Free;
            return sender_.sessionFree(*this);
        case State::Mail:
            if (code != 250) break;
            state_ = State::Rcpt;
            return write("RCPT TO:<sink@far.bench>\r\n");
        case State::Rcpt:
            if (code != 250) break;
            state_ = State::Data;
            return write("DATA\r\n");
        case State::Data:
            if (code != 354) break;
            state_ = State::Body;
            return write(sender_.messageText(index_));
        case State::Body:
            state_ = State::Free;
            sender_.finished(std::exchange(index_, -1), code == 250);
            return sender_.sessionFree(*this);
        case State::Reset:
            state_ = State::Free;
            return sender_.sessionFree(*this);
        case State::Free:
        case State::Closed:
            return breakDown("unexpected reply: " + reply_.text());
    }
    // A refused step: the message failed, the session goes on after RSET.
    std::fprintf(stderr, "rate_client: refused: %s", reply_.text().c_str());
    sender_.finished(std::exchange(index_, -1), false);
    state_ = State::Reset;
    write("RSET\r\n");
}

Sender::Sender(event_base* base, sockaddr_in address, Plan plan)
    : base_(base), address_(address), plan_(std::move(plan)) {
    static const std::string kLine =
        "The quick brown fox jumps over the lazy dog while the benchmark counts.\r\n";
    while (static_cast<long long>(body_.size()) + 400 < plan_.size) body_ += kLine;
}

std::string Sender::messageId(long long index) const {
    return "<" + plan_.idPrefix + "." + std::to_string(index) + "@rate.bench>";
}

std::string Sender::messageText(long long index) const {
    return "From: <rate@client.bench>\r\nTo: <sink@far.bench>\r\nSubject: rate " +
           std::to_string(index) + "\r\nMessage-ID: " + messageId(index) +
           "\r\nDate: Sat, 28 Nov 2026 19:00:00 +0000\r\n\r\n" + body_ + ".\r\n";
}

void Sender::start() {
    startNs_ = monotonicNs();
    for (long long i = 0; i < plan_.sessions; ++i) replaceSession();
    ticker_.reset(event_new(base_, -1, EV_PERSIST, onTick, this));
    timeval millisecond{0, 1000};
    event_add(ticker_.get(), &millisecond);
    release();
}

void Sender::replaceSession() {
    sessions_.push_back(std::make_unique<RateSession>(*this, address_));
}

// Moves every message whose time has come to the due list, then hands them out.
void Sender::release() {
    double elapsed = static_cast<double>(monotonicNs() - startNs_) / 1e9;
    long long wanted = std::min(plan_.messages, static_cast<long long>(elapsed * plan_.rate) + 1);
    while (released_ < wanted) due_.push_back(released_++);
    dispatch();
    if (released_ == plan_.messages) event_del(ticker_.get());
}

void Sender::dispatch() {
    for (auto& session : sessions_) {
        if (due_.empty()) return;
        if (!session->free()) continue;
        session->send(due_.front());
        due_.pop_front();
    }
    backlog_ = std::max(backlog_, due_.size());
}

void Sender::sessionFree(RateSession& session) {
    if (due_.empty()) return;
    session.send(due_.front());
    due_.pop_front();
}

void Sender::finished(long long index, bool accepted) {
    if (index < 0) return;
    if (accepted) {
        accepted_.emplace_back(index, monotonicNs());
    } else {
        ++failed_;
    }
    if (++done_ == plan_.messages) {
        endNs_ = monotonicNs();
        event_base_loopbreak(base_);
    }
}

void Sender::report(const std::string& timesPath) const {
    if (!timesPath.empty()) {
        std::ofstream out(timesPath);
        for (const auto& [index, ns] : accepted_) out << messageId(index) << ' ' << ns << '\n';
        if (!out) die("cannot write " + timesPath);
    }
    int64_t end = endNs_ ? endNs_ : monotonicNs();
    std::printf("sent %lld accepted %zu failed %lld elapsed_ms %lld backlog %zu\n", done_,
                accepted_.size(), failed_, static_cast<long long>((end - startNs_) / 1'000'000),
                backlog_);
    std::fflush(stdout);
}

int run(int argc, char** argv) {
    Options options(argc, argv, {});
    if (!options.has("connect") || !options.has("rate") || !options.has("messages")) {
        die("usage: rate_client --connect HOST:PORT --rate R --messages N [--sessions C] "
            "[--size B] [--id-prefix P] [--times FILE]");
    }
    Plan plan;
    plan.rate = static_cast<double>(options.number("rate", 100));
    plan.messages = options.number("messages", 0);
    plan.sessions = options.number("sessions", 20);
    plan.size = options.number("size", 4096);
    plan.idPrefix = options.text("id-prefix", "rate");
    if (plan.rate <= 0 || plan.messages <= 0 || plan.sessions <= 0) die("nothing to send");
    raiseDescriptorLimit();
    EventBasePtr base(event_base_new());
    Sender sender(base.get(), parseIpv4Address(options.text("connect")), plan);
    StopSignals signals = stopOnSignals(base.get());
    sender.start();
    event_base_dispatch(base.get());
    sender.report(options.text("times"));
    return 0;
}

}  // namespace
}  // namespace postern::bench

int main(int argc, char** argv) { return postern::bench::run(argc, argv); }
