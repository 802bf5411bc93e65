// session_tls.cpp: STARTTLS. Once "220 2.0.0 Ready to start TLS" is out, the plain
// bufferevent goes, and with it every byte the client sent in plaintext (CVE-2011-0411:
// commands injected behind STARTTLS must never run as if sent over TLS); an OpenSSL
// bufferevent takes the same socket; after the handshake the session starts afresh: no
// HELO, no transaction.
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "log.h"
#include "session.h"
#include "tls.h"

namespace postern::smtpd {

void Session::onStarttls() {
    if (!services_.tls || origin_.local) {
        answer(makeReply(502, "5.5.1", "Error: command not implemented"));
        return;
    }
    if (tlsActive_) {
        answer(makeReply(554, "5.5.1", "Error: TLS already active"));
        return;
    }
    answer(makeReply(220, "2.0.0", "Ready to start TLS"));
    // Nothing more is read in plaintext; onWritten() begins the handshake once the 220 left.
    setState(SessionState::Handshake);
    setReading(false);
}

void Session::beginHandshake() {
    SslPtr ssl(SSL_new(services_.tls));
    if (!ssl) {
        log::warning("cannot start TLS for %s: %s", client().c_str(), tls::errorText().c_str());
        closeNow(nullptr);
        return;
    }
    // Idle sessions give their TLS record buffers (some 34 KiB) back.
    SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS);
    bev_.reset();  // with it goes whatever plaintext was read behind STARTTLS
    bev_.reset(bufferevent_openssl_socket_new(services_.base, fd_.get(), ssl.get(),
                                              BUFFEREVENT_SSL_ACCEPTING, 0));
    if (!bev_) {
        log::warning("cannot start TLS for %s: no bufferevent", client().c_str());
        closeNow(nullptr);
        return;
    }
    ssl_ = std::move(ssl);  // without BEV_OPT_CLOSE_ON_FREE the SSL stays ours
    bufferevent_openssl_set_allow_dirty_shutdown(bev_.get(), 1);
    bufferevent_setcb(bev_.get(), &Session::readCallback, &Session::writeCallback,
                      &Session::eventCallback, this);
    armTimeouts();
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

void Session::onHandshakeDone() {
    SSL* ssl = ssl_.get();
    tlsActive_ = true;
    tlsSummary_ = tls::protocolAndCipher(ssl);
    log::info("%s", tls::serverConnectionLine(ssl, origin_.hostname, origin_.address).c_str());
    if (std::string fingerprint = tls::peerFingerprint(ssl); !fingerprint.empty()) {
        log::info("%s: client certificate fingerprint=%s (%s)", client().c_str(),
                  fingerprint.c_str(), tls::verifyResultText(ssl).c_str());
    }
    // RFC 3207 section 4.2: forget everything learned before the handshake.
    greeted_ = false;
    ehlo_ = false;
    helo_.clear();
    resetTransaction();
    setState(SessionState::Commands);
    becameIdle();
}

void Session::onHandshakeFailed() {
    std::string reason;
    while (unsigned long code = bev_ ? bufferevent_get_openssl_error(bev_.get()) : 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!reason.empty()) reason += "; ";
        reason += text;
    }
    if (ssl_) {
        log::info("SSL_accept error from %s: %s", client().c_str(),
                  reason.empty() ? "lost connection" : reason.c_str());
    }
    closeNow("lost connection");
}

}  // namespace postern::smtpd
