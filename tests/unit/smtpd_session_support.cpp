// smtpd_session_support.cpp: the socket-pair session driver of the smtpd unit tests.
#include "smtpd_session_support.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "test_support.h"

namespace postern::smtpd::testing {

namespace {

// The length of the first complete reply in `text`, or 0.
size_t completeReply(const std::string& text) {
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) return 0;
        if (end - start >= 4 && text[start + 3] == ' ') return end + 1;
        if (end - start == 4 && text[start + 3] == '\r') return end + 1;  // "250\r\n"
        start = end + 1;
    }
    return 0;
}

}  // namespace

Config SessionDriver::testConfig() {
    Config config;
    config.myhostname = "mx.test";
    config.myorigin = "mx.test";
    config.mynetworks = {CidrNetwork::parse("10.0.0.0/8").value()};
    config.relay_domains = {"relay.test"};
    config.smtpd.error_sleep_time = 0;
    return config;
}

SessionDriver::SessionDriver(Config initial) : config(std::move(initial)), base_(event_base_new()) {
    pool_ = std::move(CommitPool::start(base_.get(), store, 2).value());
    relay_ = std::make_unique<RelayPolicy>(config);
    freeSpace_ = std::make_unique<FreeSpaceCheck>(store, uint64_t(config.queue_minfree),
                                                  uint64_t(config.message_size_limit));
    services_.base = base_.get();
    services_.config = &config;
    services_.store = &store;
    services_.commits = pool_.get();
    services_.relay = relay_.get();
    services_.limits = {uint64_t(config.message_size_limit), config.smtpd.recipient_limit};
    services_.freeSpace = freeSpace_.get();
    services_.finished = [this](Session&) { finished = true; };
}

SessionDriver::~SessionDriver() {
    pool_.reset();
    session_.reset();
}

void SessionDriver::open(const std::string& address, bool trusted, bool local) {
    create(address, trusted, local);
    session_->start();
}

void SessionDriver::create(const std::string& address, bool trusted, bool local) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    client_.reset(fds[1]);
    ClientOrigin origin;
    origin.address = address;
    origin.trusted = trusted || local;
    origin.local = local;
    if (local) {
        origin.hostname = "localhost";
        origin.uid = 1000;
    }
    session_ = std::make_unique<Session>(services_, UniqueFd(fds[0]), origin, WorkGuard(),
                                         ClientCounter::Ticket());
}

void SessionDriver::send(const std::string& bytes) {
    size_t sent = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sent < bytes.size() && std::chrono::steady_clock::now() < deadline) {
        ssize_t n = ::send(client_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += size_t(n);
        } else if (n < 0 && errno != EAGAIN) {
            return;  // the server closed: the test looks at what it said
        } else {
            event_base_loop(base_.get(), EVLOOP_NONBLOCK);  // let the server read
        }
    }
}

std::string SessionDriver::reply(int timeoutMs) {
    auto pump = [this] {
        char chunk[4096];
        for (;;) {
            ssize_t n = ::recv(client_.get(), chunk, sizeof chunk, 0);
            if (n > 0) {
                buffered_.append(chunk, size_t(n));
                continue;
            }
            if (n == 0) eof_ = true;
            break;
        }
        return completeReply(buffered_) > 0 || eof_;
    };
    postern::testing::runUntil(base_.get(), pump, std::chrono::milliseconds(timeoutMs));
    size_t length = completeReply(buffered_);
    std::string text = buffered_.substr(0, length);
    buffered_.erase(0, length);
    return text;
}

std::string SessionDriver::command(const std::string& line) {
    send(line + "\r\n");
    return reply();
}

bool SessionDriver::beginTransaction(const std::string& from, const std::vector<std::string>& to) {
    if (command("EHLO client.test").rfind("250", 0) != 0) return false;
    if (command("MAIL FROM:<" + from + ">").rfind("250", 0) != 0) return false;
    for (const std::string& rcpt : to)
        if (command("RCPT TO:<" + rcpt + ">").rfind("250", 0) != 0) return false;
    return true;
}

bool SessionDriver::closedByServer(int timeoutMs) {
    auto check = [this] {
        char chunk[4096];
        ssize_t n;
        while ((n = ::recv(client_.get(), chunk, sizeof chunk, 0)) > 0) buffered_.append(chunk, n);
        if (n == 0) eof_ = true;
        return eof_;
    };
    return postern::testing::runUntil(base_.get(), check, std::chrono::milliseconds(timeoutMs));
}

void SessionDriver::shutdownClientWrite() {
    ::shutdown(client_.get(), SHUT_WR);
}

void SessionDriver::spin(int ms) {
    postern::testing::runUntil(
        base_.get(), [] { return false; }, std::chrono::milliseconds(ms));
}

std::vector<std::string> SessionDriver::incoming() {
    auto listed = store.list(queue::QueueName::Incoming);
    return listed ? listed.value() : std::vector<std::string>{};
}

std::optional<queue::QueueMessage> SessionDriver::message(const std::string& id) {
    auto handle = store.open(queue::QueueName::Incoming, id, queue::Access::ReadOnly);
    if (!handle) return std::nullopt;
    return handle.value()->message();
}

std::string SessionDriver::content(const std::string& id) {
    auto handle = store.open(queue::QueueName::Incoming, id, queue::Access::ReadOnly);
    if (!handle) return {};
    auto bytes = handle.value()->readContent(0, 16 << 20);
    return bytes ? bytes.value() : std::string();
}

}  // namespace postern::smtpd::testing
