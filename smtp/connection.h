// connection.h: the transport of one SMTP client session: a non-blocking TCP connection on
// the event loop, plaintext first, then (after STARTTLS) TLS on the same socket through a
// socket-based bufferevent_openssl. Whatever the plaintext stream still held when TLS
// starts is dropped with it: the server's bytes from before the handshake never reach the
// TLS side. It reports what happens as events; timeouts are the session's business.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "dns.h"
#include "event.h"
#include "result.h"
#include "unique_fd.h"

namespace postern::smtp {

class ServerConnection {
  public:
    enum class Event {
        Connected,      // the TCP connection is up
        Input,          // bytes arrived: drainInput()
        OutputDrained,  // everything queued was handed to the kernel
        TlsReady,       // the TLS handshake finished
        TlsFailed,      // the TLS handshake failed (detail says why); the connection is dead
        Closed,         // the server closed the connection
        Failed,         // connect or I/O error (detail: strerror or OpenSSL's reason)
    };
    // Called from the event loop; may close() the connection but must not destroy it.
    // After TlsFailed, Closed and Failed the connection is closed once the handler returns.
    using Handler = std::function<void(Event event, const std::string& detail)>;

    ServerConnection(event_base* base, Handler handler);
    ~ServerConnection();
    ServerConnection(const ServerConnection&) = delete;
    ServerConnection& operator=(const ServerConnection&) = delete;

    // Starts connecting to ADDRESS; Connected or Failed follows. An immediate failure
    // (no route, no descriptor) is returned instead.
    Status connect(const dns::Address& address);
    // Queues bytes for the server.
    void send(std::string_view bytes);
    // The output buffer, to append to without a copy (message content).
    evbuffer* output() const;
    // Bytes queued but not yet handed to the kernel.
    size_t pendingOutput() const;
    // Hands every received byte to CONSUME and drops it from the input.
    void drainInput(const std::function<void(std::string_view)>& consume);
    // Switches to TLS as a client with SSL (which it takes); TlsReady or TlsFailed follows.
    Status startTls(SslPtr ssl);
    // The TLS connection once startTls() was called; null before.
    SSL* ssl() const { return ssl_; }
    // Closes the connection now; no more events.
    void close();
    // True between connect() and close().
    bool isOpen() const { return bev_ != nullptr; }

  private:
    static void onRead(bufferevent* bev, void* self);
    static void onWrite(bufferevent* bev, void* self);
    static void onEvent(bufferevent* bev, short events, void* self);
    void attach(bufferevent* bev);
    std::string tlsErrorText();

    event_base* base_;
    Handler handler_;
    // Ours until TLS starts; then the TLS bufferevent owns (and closes) it.
    UniqueFd fd_;
    BufferEventPtr bev_;  // declared after fd_: freed first
    SSL* ssl_ = nullptr;  // owned by the TLS bufferevent
    bool handshaking_ = false;
};

}  // namespace postern::smtp
