// session_tls.cpp: STARTTLS. After "220 2.0.0 Ready to start TLS" every byte the client
// sent in plaintext is thrown away (CVE-2011-0411: commands injected behind STARTTLS must
// not run as if sent over TLS), a TLS filter bufferevent takes over the plain one, and once
// the handshake is done the session starts afresh: no HELO, no transaction.
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
    SslPtr ssl(SSL_new(services_.tls));
    if (!ssl) {
        log::warning("cannot start TLS for %s: %s", client().c_str(), tls::errorText().c_str());
        answer(makeReply(454, "4.7.0", "TLS not available due to local problem"));
        return;
    }
    // Idle sessions give their 34 KiB of TLS record buffers back.
    SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS);
    answer(makeReply(220, "2.0.0", "Ready to start TLS"));
    evbuffer_drain(input(), evbuffer_get_length(input()));
    // The plain bufferevent keeps writing the 220; the filter's bytes follow it.
    bufferevent* filter = bufferevent_openssl_filter_new(services_.base, bev_.get(), ssl.get(),
                                                         BUFFEREVENT_SSL_ACCEPTING,
                                                         BEV_OPT_CLOSE_ON_FREE);
    if (!filter) {
        // Only out of memory. Whether libevent freed the plain bufferevent then is not
        // said: leak it rather than risk freeing it twice.
        log::warning("cannot start TLS for %s: no filter", client().c_str());
        (void)bev_.release();
        closeNow(nullptr);
        return;
    }
    ssl.release();      // the filter frees it
    (void)bev_.release();  // and the plain bufferevent, with the socket
    bev_.reset(filter);
    bufferevent_openssl_set_allow_dirty_shutdown(filter, 1);
    bufferevent_setcb(filter, &Session::readCallback, &Session::writeCallback,
                      &Session::eventCallback, this);
    armTimeouts();
    bufferevent_enable(filter, EV_READ | EV_WRITE);
    setState(SessionState::Handshake);
}

void Session::onHandshakeDone() {
    SSL* ssl = bufferevent_openssl_get_ssl(bev_.get());
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
    while (unsigned long code = bufferevent_get_openssl_error(bev_.get())) {
        char text[256];
        ERR_error_string_n(code, text, sizeof text);
        if (!reason.empty()) reason += "; ";
        reason += text;
    }
    if (reason.empty()) reason = "lost connection";
    log::info("SSL_accept error from %s: %s", client().c_str(), reason.c_str());
    closeNow("lost connection");
}

}  // namespace postern::smtpd
