// idle_sessions.cpp: holds many SMTP sessions open and idle, to measure what an idle
// session costs the server.
//   idle_sessions --connect 127.0.0.1:PORT --sessions N [--starttls] [--parallel P]
// Each session reads the 220, says EHLO, and with --starttls also STARTTLS, handshakes and
// says EHLO again; then it waits, saying nothing. At most P sessions are being set up at a
// time (the server's listen queue is finite). Once every session is established or has
// failed it prints "established E failed F MS" and holds them until SIGTERM or SIGINT, then
// prints "dropped D" (sessions the server closed meanwhile) and exits, closing them all.
#include <event2/bufferevent_ssl.h>

#include <cstring>
#include <vector>

#include "bench/bench_tool.h"

namespace postern::bench {
namespace {

class Holder;

class IdleSession {
  public:
    IdleSession(Holder& holder, bufferevent* bev) : holder_(holder), bev_(bev) {}
    // Connects and starts the dialogue.
    void start(const sockaddr_in& address);
    bool idle() const { return state_ == State::Idle; }

  private:
    enum class State { Greeting, Ehlo, StartTls, Handshake, Idle, Closed };
    static void onRead(bufferevent*, void* arg) { static_cast<IdleSession*>(arg)->readReplies(); }
    static void onEvent(bufferevent*, short events, void* arg);
    void readReplies();
    void replyComplete(int code);
    void beginTls();
    void send(std::string_view text) { bufferevent_write(bev_.get(), text.data(), text.size()); }
    void fail(const std::string& why);

    Holder& holder_;
    BufferEventPtr bev_;
    State state_ = State::Greeting;
    bool tls_ = false;
    ReplyReader reply_;
};

class Holder {
  public:
    Holder(event_base* base, sockaddr_in address, long long total, long long parallel,
           SSL_CTX* tls)
        : base_(base), address_(address), total_(total), parallel_(parallel), tls_(tls) {}
    // Opens sessions until `parallel` are being set up or all have been started.
    void startMore();
    // A session finished its set-up (ok) or gave up (failed, with the reason).
    void setupDone(bool ok, const std::string& why);
    // An established session was closed by the server.
    void dropped() { ++dropped_; }
    event_base* base() const { return base_; }
    SSL_CTX* tls() const { return tls_; }
    long long droppedCount() const { return dropped_; }

  private:
    event_base* base_;
    sockaddr_in address_;
    long long total_;
    long long parallel_;
    SSL_CTX* tls_;
    std::vector<std::unique_ptr<IdleSession>> sessions_;
    long long settingUp_ = 0;
    long long established_ = 0;
    long long failed_ = 0;
    long long dropped_ = 0;
    int64_t startNs_ = monotonicNs();
};

void IdleSession::start(const sockaddr_in& address) {
    bufferevent_setcb(bev_.get(), onRead, nullptr, onEvent, this);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    timeval setupTimeout{120, 0};
    bufferevent_set_timeouts(bev_.get(), &setupTimeout, &setupTimeout);
    if (bufferevent_socket_connect(bev_.get(), reinterpret_cast<const sockaddr*>(&address),
                                   sizeof address) != 0) {
        fail(std::string("connect: ") + std::strerror(errno));
    }
}

void IdleSession::onEvent(bufferevent*, short events, void* arg) {
    auto* session = static_cast<IdleSession*>(arg);
    if (events & BEV_EVENT_CONNECTED) {
        if (session->state_ == State::Handshake) {
            session->state_ = State::Ehlo;
            session->send("EHLO idle.bench\r\n");
        }
        return;
    }
    if (session->state_ == State::Idle) {
        session->state_ = State::Closed;
        session->holder_.dropped();
        bufferevent_disable(session->bev_.get(), EV_READ | EV_WRITE);
        return;
    }
    session->fail(events & BEV_EVENT_TIMEOUT ? "timed out" : "connection closed or failed");
}

void IdleSession::fail(const std::string& why) {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    holder_.setupDone(false, why);
}

void IdleSession::readReplies() {
    evbuffer* input = bufferevent_get_input(bev_.get());
    while (state_ != State::Closed && state_ != State::Handshake) {
        auto code = readReply(input, reply_);
        if (!code) return;
        if (*code < 0) return fail("not an SMTP reply: " + reply_.text());
        replyComplete(*code);
        reply_.clear();
    }
}

void IdleSession::replyComplete(int code) {
    switch (state_) {
        case State::Greeting:
            if (code != 220) return fail("greeting " + reply_.text());
            state_ = State::Ehlo;
            return send("EHLO idle.bench\r\n");
        case State::Ehlo:
            if (code != 250) return fail("EHLO: " + reply_.text());
            if (holder_.tls() && !tls_) {
                state_ = State::StartTls;
                return send("STARTTLS\r\n");
            }
            state_ = State::Idle;
            bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
            return holder_.setupDone(true, "");
        case State::StartTls:
            if (code != 220) return fail("STARTTLS: " + reply_.text());
            return beginTls();
        case State::Handshake:
        case State::Idle:
        case State::Closed:
            return fail("unexpected reply: " + reply_.text());
    }
}

// The TLS filter takes the plaintext bufferevent over (and owns it and the SSL).
void IdleSession::beginTls() {
    SSL* ssl = SSL_new(holder_.tls());
    if (ssl == nullptr) return fail("SSL_new failed");
    bufferevent* plain = bev_.release();
    bufferevent* filter = bufferevent_openssl_filter_new(
        holder_.base(), plain, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (filter == nullptr) {
        SSL_free(ssl);
        bev_.reset(plain);
        return fail("cannot start TLS");
    }
    bev_.reset(filter);
    bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
    tls_ = true;
    state_ = State::Handshake;
    bufferevent_setcb(filter, onRead, nullptr, onEvent, this);
    bufferevent_enable(filter, EV_READ | EV_WRITE);
}

void Holder::startMore() {
    while (settingUp_ < parallel_ && static_cast<long long>(sessions_.size()) < total_) {
        bufferevent* bev = bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE);
        if (bev == nullptr) die("bufferevent_socket_new failed");
        sessions_.push_back(std::make_unique<IdleSession>(*this, bev));
        ++settingUp_;
        sessions_.back()->start(address_);
    }
}

void Holder::setupDone(bool ok, const std::string& why) {
    --settingUp_;
    if (ok) {
        ++established_;
    } else if (failed_++ < 5) {
        std::fprintf(stderr, "idle_sessions: a session failed: %s\n", why.c_str());
    }
    if (established_ + failed_ == total_) {
        std::printf("established %lld failed %lld %lld\n", established_, failed_,
                    static_cast<long long>((monotonicNs() - startNs_) / 1'000'000));
        std::fflush(stdout);
        return;
    }
    // Not from inside the connect call of start(): the loop picks the next ones up.
    event_base_once(
        base_, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* arg) {
            static_cast<Holder*>(arg)->startMore();
        },
        this, nullptr);
}

int run(int argc, char** argv) {
    Options options(argc, argv, {"starttls"});
    if (!options.has("connect") || !options.has("sessions")) {
        die("usage: idle_sessions --connect HOST:PORT --sessions N [--starttls] [--parallel P]");
    }
    long long total = options.number("sessions", 0);
    rlim_t limit = raiseDescriptorLimit();
    if (static_cast<long long>(limit) < total + 16) {
        die("the descriptor limit (" + std::to_string(limit) + ") is below the sessions wanted");
    }
    EventBasePtr base(event_base_new());
    SslCtxPtr tls;
    if (options.has("starttls")) tls = makeLoadClientContext();
    Holder holder(base.get(), parseIpv4Address(options.text("connect")), total,
                  options.number("parallel", 200), tls.get());
    StopSignals signals = stopOnSignals(base.get());
    holder.startMore();
    event_base_dispatch(base.get());
    std::printf("dropped %lld\n", holder.droppedCount());
    std::fflush(stdout);
    return 0;
}

}  // namespace
}  // namespace postern::bench

int main(int argc, char** argv) { return postern::bench::run(argc, argv); }
