// bench_sink.cpp: the benchmark's receiving MTA. It speaks just enough ESMTP (EHLO with
// PIPELINING, optionally STARTTLS, MAIL, RCPT, DATA, RSET, NOOP, QUIT), accepts every
// message with 250, and counts them. It is the measuring instrument of the delivery leg:
//   bench_sink --listen 127.0.0.1:PORT [--cert FILE --key FILE] [--expect N] [--times FILE]
// prints "ready" once listening, "complete N FIRST_NS LAST_NS" when the N-th message is
// in (CLOCK_MONOTONIC times of the first and last final 250), and on SIGTERM writes FILE
// ("MESSAGE-ID NS" per message carrying a Message-ID, the time its final 250 was sent)
// and prints "total MESSAGES SESSIONS TLS_SESSIONS".
#include <event2/bufferevent_ssl.h>

#include <cstring>
#include <fstream>
#include <unordered_map>
#include <vector>

#include "bench/bench_tool.h"

namespace postern::bench {
namespace {

struct Delivery {
    std::string messageId;
    int64_t sentNs = 0;
};

struct SinkSettings {
    SSL_CTX* tls = nullptr;    // offers STARTTLS when set
    long long expect = 0;      // announce "complete" after this many messages; 0: never
    bool recordIds = false;    // read each message's headers for its Message-ID
};

class SinkSession;

class Sink {
  public:
    Sink(event_base* base, SinkSettings settings);
    // Takes a freshly accepted connection.
    void accept(int fd);
    // Forgets a session; it is destroyed after the current callback has returned.
    void close(SinkSession* session);
    // Counts one message whose final 250 goes out now.
    void delivered(std::string messageId);
    // Writes the per-message times and prints the totals.
    void finish(const std::string& timesPath) const;
    event_base* base() const { return base_; }
    const SinkSettings& settings() const { return settings_; }
    void countTls() { ++tlsSessions_; }

  private:
    event_base* base_;
    SinkSettings settings_;
    std::unordered_map<SinkSession*, std::unique_ptr<SinkSession>> sessions_;
    std::vector<std::unique_ptr<SinkSession>> closed_;
    EventPtr reaper_;
    std::vector<Delivery> deliveries_;
    long long messages_ = 0;
    long long sessionCount_ = 0;
    long long tlsSessions_ = 0;
    int64_t firstNs_ = 0;
};

class SinkSession {
  public:
    SinkSession(Sink& sink, int fd);
    SinkSession(const SinkSession&) = delete;
    SinkSession& operator=(const SinkSession&) = delete;

  private:
    enum class State { Command, Headers, Body, StartTls, Closing, Closed };
    static void onRead(bufferevent*, void* arg) { static_cast<SinkSession*>(arg)->handleInput(); }
    static void onWrite(bufferevent*, void* arg) { static_cast<SinkSession*>(arg)->outputDrained(); }
    static void onEvent(bufferevent*, short events, void* arg);
    void install(bufferevent* bev);
    void handleInput();
    bool handleCommand(const std::string& line);
    bool scanBody(evbuffer* input);
    void noteHeader(const std::string& line);
    void finishMessage();
    void outputDrained();
    void startTls();
    void reply(std::string_view text);
    void closeNow();
    void closeWhenFlushed();
    bool unsentOutput() const;

    Sink& sink_;
    BufferEventPtr bev_;
    EventPtr flushWait_;  // after QUIT with TLS: polls until the socket took the 221
    State state_ = State::Command;
    bool tlsActive_ = false;
    bool bodyStart_ = false;  // the next body byte begins a line (for a lone ".")
    std::string messageId_;
};

SinkSession::SinkSession(Sink& sink, int fd) : sink_(sink) {
    disableNagle(fd);
    install(bufferevent_socket_new(sink.base(), fd, BEV_OPT_CLOSE_ON_FREE));
    reply("220 bench-sink ESMTP\r\n");
}

void SinkSession::install(bufferevent* bev) {
    bev_.reset(bev);
    bufferevent_setcb(bev, onRead, onWrite, onEvent, this);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void SinkSession::onEvent(bufferevent*, short events, void* arg) {
    auto* session = static_cast<SinkSession*>(arg);
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) session->closeNow();
}

void SinkSession::closeNow() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    sink_.close(this);
}

void SinkSession::reply(std::string_view text) {
    bufferevent_write(bev_.get(), text.data(), text.size());
}

void SinkSession::handleInput() {
    evbuffer* input = bufferevent_get_input(bev_.get());
    for (;;) {
        switch (state_) {
            case State::Command: {
                auto line = readLine(input);
                if (!line || !handleCommand(*line)) return;
                break;
            }
            case State::Headers: {
                auto line = readLine(input);
                if (!line) return;
                if (*line == ".") {
                    finishMessage();
                } else if (line->empty()) {
                    state_ = State::Body;
                    bodyStart_ = true;
                } else {
                    noteHeader(*line);
                }
                break;
            }
            case State::Body:
                if (!scanBody(input)) return;
                finishMessage();
                break;
            case State::StartTls:
            case State::Closing:
            case State::Closed:
                return;
        }
    }
}

// Consumes body bytes up to and including the final CRLF.CRLF; true when it was found.
// Without a match it keeps the last four bytes, which may be the start of one.
bool SinkSession::scanBody(evbuffer* input) {
    if (bodyStart_) {
        char head[3];
        if (evbuffer_copyout(input, head, sizeof head) < 3) return false;
        bodyStart_ = false;
        if (std::memcmp(head, ".\r\n", 3) == 0) {
            evbuffer_drain(input, 3);
            return true;
        }
    }
    static const char kEnd[] = "\r\n.\r\n";
    evbuffer_ptr found = evbuffer_search(input, kEnd, sizeof kEnd - 1, nullptr);
    if (found.pos >= 0) {
        evbuffer_drain(input, found.pos + sizeof kEnd - 1);
        return true;
    }
    size_t length = evbuffer_get_length(input);
    if (length > 4) evbuffer_drain(input, length - 4);
    return false;
}

void SinkSession::noteHeader(const std::string& line) {
    static const char kName[] = "message-id:";
    if (line.size() <= sizeof kName - 1 || strncasecmp(line.c_str(), kName, sizeof kName - 1)) {
        return;
    }
    size_t start = line.find_first_not_of(" \t", sizeof kName - 1);
    if (start != std::string::npos) messageId_ = line.substr(start);
}

void SinkSession::finishMessage() {
    reply("250 2.0.0 Ok: queued\r\n");
    sink_.delivered(std::move(messageId_));
    messageId_.clear();
    state_ = State::Command;
}

// Returns false when the input must not be read further now (QUIT, STARTTLS).
bool SinkSession::handleCommand(const std::string& line) {
    std::string verb = line.substr(0, line.find(' '));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    bool offerTls = sink_.settings().tls != nullptr && !tlsActive_;
    if (verb == "EHLO") {
        reply(offerTls ? "250-bench-sink\r\n250-PIPELINING\r\n250-SIZE 209715200\r\n"
                         "250-8BITMIME\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n"
                       : "250-bench-sink\r\n250-PIPELINING\r\n250-SIZE 209715200\r\n"
                         "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
    } else if (verb == "HELO") {
        reply("250 bench-sink\r\n");
    } else if (verb == "MAIL") {
        reply("250 2.1.0 Ok\r\n");
    } else if (verb == "RCPT") {
        reply("250 2.1.5 Ok\r\n");
    } else if (verb == "DATA") {
        reply("354 End data with <CR><LF>.<CR><LF>\r\n");
        state_ = sink_.settings().recordIds ? State::Headers : State::Body;
        bodyStart_ = true;
    } else if (verb == "RSET" || verb == "NOOP") {
        reply("250 2.0.0 Ok\r\n");
    } else if (verb == "QUIT") {
        reply("221 2.0.0 Bye\r\n");
        state_ = State::Closing;
        return false;
    } else if (verb == "STARTTLS" && offerTls) {
        reply("220 2.0.0 Ready to start TLS\r\n");
        state_ = State::StartTls;
        // What the client sent after STARTTLS, before the handshake, is never read.
        evbuffer* input = bufferevent_get_input(bev_.get());
        evbuffer_drain(input, evbuffer_get_length(input));
        bufferevent_disable(bev_.get(), EV_READ);
        return false;
    } else {
        reply("502 5.5.2 Error: command not recognized\r\n");
    }
    return true;
}

// A TLS filter's output drains into the plaintext bufferevent below it, which still has to
// write it: close only once both are empty, or the last replies (the 250 and the 221 of a
// pipelined ".", QUIT) are lost.
bool SinkSession::unsentOutput() const {
    bufferevent* below = bufferevent_get_underlying(bev_.get());
    return evbuffer_get_length(bufferevent_get_output(bev_.get())) > 0 ||
           (below != nullptr && evbuffer_get_length(bufferevent_get_output(below)) > 0);
}

void SinkSession::closeWhenFlushed() {
    if (!unsentOutput()) return closeNow();
    if (!flushWait_) {
        auto retry = [](evutil_socket_t, short, void* arg) {
            static_cast<SinkSession*>(arg)->closeWhenFlushed();
        };
        flushWait_.reset(evtimer_new(sink_.base(), retry, this));
    }
    timeval millisecond{0, 1000};
    evtimer_add(flushWait_.get(), &millisecond);
}

void SinkSession::outputDrained() {
    if (state_ == State::Closing) {
        closeWhenFlushed();
    } else if (state_ == State::StartTls) {
        startTls();
    }
}

// The 220 is out: the TLS filter takes the plaintext bufferevent over (and owns it, and
// the SSL, through BEV_OPT_CLOSE_ON_FREE).
void SinkSession::startTls() {
    SSL* ssl = SSL_new(sink_.settings().tls);
    if (ssl == nullptr) return closeNow();
    bufferevent* plain = bev_.release();
    bufferevent* filter = bufferevent_openssl_filter_new(
        sink_.base(), plain, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (filter == nullptr) {
        SSL_free(ssl);
        bev_.reset(plain);
        return closeNow();
    }
    bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
    install(filter);
    tlsActive_ = true;
    state_ = State::Command;
    sink_.countTls();
}

Sink::Sink(event_base* base, SinkSettings settings)
    : base_(base), settings_(settings) {
    auto reap = [](evutil_socket_t, short, void* arg) {
        static_cast<Sink*>(arg)->closed_.clear();
    };
    reaper_.reset(event_new(base, -1, 0, reap, this));
}

void Sink::accept(int fd) {
    ++sessionCount_;
    auto session = std::make_unique<SinkSession>(*this, fd);
    SinkSession* key = session.get();
    sessions_.emplace(key, std::move(session));
}

void Sink::close(SinkSession* session) {
    auto found = sessions_.find(session);
    if (found == sessions_.end()) return;
    closed_.push_back(std::move(found->second));
    sessions_.erase(found);
    event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void Sink::delivered(std::string messageId) {
    int64_t now = monotonicNs();
    if (messages_++ == 0) firstNs_ = now;
    if (settings_.recordIds && !messageId.empty()) {
        deliveries_.push_back({std::move(messageId), now});
    }
    if (messages_ == settings_.expect) {
        std::printf("complete %lld %lld %lld\n", messages_, static_cast<long long>(firstNs_),
                    static_cast<long long>(now));
        std::fflush(stdout);
    }
}

void Sink::finish(const std::string& timesPath) const {
    if (!timesPath.empty()) {
        std::ofstream out(timesPath);
        for (const auto& delivery : deliveries_) {
            out << delivery.messageId << ' ' << delivery.sentNs << '\n';
        }
        if (!out) die("cannot write " + timesPath);
    }
    std::printf("total %lld %lld %lld\n", messages_, sessionCount_, tlsSessions_);
    std::fflush(stdout);
}

SslCtxPtr makeSinkTlsContext(const Options& options) {
    tls::ServerTlsSettings settings;
    settings.certFile = options.text("cert");
    settings.keyFile = options.text("key");
    auto context = tls::makeServerContext(settings);
    if (!context) die(context.error());
    return std::move(context.value());
}

int run(int argc, char** argv) {
    Options options(argc, argv, {});
    if (!options.has("listen")) die("usage: bench_sink --listen HOST:PORT [--cert F --key F] "
                                    "[--expect N] [--times FILE]");
    raiseDescriptorLimit();
    sockaddr_in address = parseIpv4Address(options.text("listen"));
    EventBasePtr base(event_base_new());
    SslCtxPtr tlsContext;
    if (options.has("cert")) tlsContext = makeSinkTlsContext(options);
    Sink sink(base.get(), {tlsContext.get(), options.number("expect", 0), options.has("times")});
    auto onAccept = [](evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
        static_cast<Sink*>(arg)->accept(fd);
    };
    EvConnListenerPtr listener(evconnlistener_new_bind(
        base.get(), onAccept, &sink, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
        reinterpret_cast<sockaddr*>(&address), sizeof address));
    if (!listener) die("cannot listen on " + options.text("listen") + ": " + std::strerror(errno));
    StopSignals signals = stopOnSignals(base.get());
    std::printf("ready\n");
    std::fflush(stdout);
    event_base_dispatch(base.get());
    sink.finish(options.text("times"));
    return 0;
}

}  // namespace
}  // namespace postern::bench

int main(int argc, char** argv) { return postern::bench::run(argc, argv); }
