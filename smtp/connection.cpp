// connection.cpp: TCP and TLS transport for an SMTP client session (see connection.h).
#include "connection.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace postern::smtp {

namespace {

// Unread input kept at most; replies are consumed as they come, so this only bounds a flood.
constexpr size_t kInputHighWatermark = 256 * 1024;

}  // namespace

ServerConnection::ServerConnection(event_base* base, Handler handler)
    : base_(base), handler_(std::move(handler)) {}

ServerConnection::~ServerConnection() { close(); }

Status ServerConnection::connect(const dns::Address& address) {
    fd_.reset(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_) return fail(std::strerror(errno));
    // Every write is a whole command, group or piece of content; without this, the last
    // small TLS record of a message could wait for the server's delayed ACK (40 ms).
    const int on = 1;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    bufferevent* bev = bufferevent_socket_new(base_, fd_.get(), 0);
    if (!bev) return fail("cannot create a bufferevent");
    attach(bev);
    if (bufferevent_socket_connect(bev, address.sockaddrPtr(), static_cast<int>(address.length)) != 0) {
        std::string reason = std::strerror(errno ? errno : ECONNREFUSED);
        close();
        return fail(reason);
    }
    return {};
}

void ServerConnection::attach(bufferevent* bev) {
    bev_.reset(bev);
    bufferevent_setcb(bev, &ServerConnection::onRead, &ServerConnection::onWrite,
                      &ServerConnection::onEvent, this);
    bufferevent_setwatermark(bev, EV_READ, 0, kInputHighWatermark);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void ServerConnection::send(std::string_view bytes) {
    if (bev_) bufferevent_write(bev_.get(), bytes.data(), bytes.size());
}

evbuffer* ServerConnection::output() const { return bev_ ? bufferevent_get_output(bev_.get()) : nullptr; }

size_t ServerConnection::pendingOutput() const {
    return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

void ServerConnection::drainInput(const std::function<void(std::string_view)>& consume) {
    if (!bev_) return;
    evbuffer* input = bufferevent_get_input(bev_.get());
    while (size_t length = evbuffer_get_length(input)) {
        evbuffer_iovec chunk;
        if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1) break;
        consume(std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len));
        evbuffer_drain(input, chunk.iov_len < length ? chunk.iov_len : length);
    }
}

Status ServerConnection::startTls(SslPtr ssl) {
    if (!bev_ || !fd_) return fail("no plaintext connection to start TLS on");
    // The plaintext bufferevent goes with whatever it still buffered (see connection.h).
    bev_.reset();
    ERR_clear_error();
    bufferevent* bev = bufferevent_openssl_socket_new(base_, fd_.get(), ssl.get(),
                                                      BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close();
        return fail("cannot create a TLS bufferevent");
    }
    fd_.release();  // the TLS bufferevent closes the socket and frees the SSL
    ssl_ = ssl.release();
    handshaking_ = true;
    // A server that closes without close_notify has still closed: EOF, not an error.
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    attach(bev);
    return {};
}

void ServerConnection::close() {
    bev_.reset();
    fd_.reset();
    ssl_ = nullptr;
    handshaking_ = false;
}

std::string ServerConnection::tlsErrorText() {
    std::string text;
    while (unsigned long code = bev_ ? bufferevent_get_openssl_error(bev_.get()) : 0) {
        char line[256];
        ERR_error_string_n(code, line, sizeof line);
        if (!text.empty()) text += "; ";
        text += line;
    }
    if (text.empty() && EVUTIL_SOCKET_ERROR() != 0) text = std::strerror(EVUTIL_SOCKET_ERROR());
    return text.empty() ? "connection closed by the server" : text;
}

void ServerConnection::onRead(bufferevent*, void* self) {
    auto* connection = static_cast<ServerConnection*>(self);
    connection->handler_(Event::Input, "");
}

void ServerConnection::onWrite(bufferevent*, void* self) {
    auto* connection = static_cast<ServerConnection*>(self);
    connection->handler_(Event::OutputDrained, "");
}

void ServerConnection::onEvent(bufferevent*, short events, void* self) {
    auto* connection = static_cast<ServerConnection*>(self);
    const bool handshaking = connection->handshaking_;
    if (events & BEV_EVENT_CONNECTED) {
        connection->handshaking_ = false;
        connection->handler_(handshaking ? Event::TlsReady : Event::Connected, "");
        return;
    }
    if (!(events & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) return;
    std::string detail;
    if (connection->ssl_) {
        detail = connection->tlsErrorText();
    } else if (events & BEV_EVENT_ERROR) {
        const int error = EVUTIL_SOCKET_ERROR();
        detail = std::strerror(error ? error : ECONNRESET);
    }
    const bool eof = (events & BEV_EVENT_EOF) && !handshaking;
    // The handler sees the SSL of a failed handshake (for its verification result); the
    // connection is closed after it in any case.
    connection->handler_(handshaking ? Event::TlsFailed : eof ? Event::Closed : Event::Failed, detail);
    connection->close();
}

}  // namespace postern::smtp
