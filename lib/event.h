// event.h: RAII owners for libevent and OpenSSL handles, so nothing is freed by hand.
// Each owner is a std::unique_ptr with the library's own free function as deleter;
// make them with the matching make* helper or by wrapping a fresh handle:
//   EventBasePtr base(event_base_new());
//   SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace postern {

// A deleter that calls a C free function; the function is part of the type, so owners
// cost one pointer.
template <typename T, void (*Free)(T*)>
struct CDeleter {
    void operator()(T* handle) const {
        if (handle) Free(handle);
    }
};

template <typename T, void (*Free)(T*)>
using CHandle = std::unique_ptr<T, CDeleter<T, Free>>;

// libevent
using EventBasePtr = CHandle<event_base, event_base_free>;
using EventPtr = CHandle<event, event_free>;
using BufferEventPtr = CHandle<bufferevent, bufferevent_free>;
using EvBufferPtr = CHandle<evbuffer, evbuffer_free>;
using EvConnListenerPtr = CHandle<evconnlistener, evconnlistener_free>;

// OpenSSL
using SslCtxPtr = CHandle<SSL_CTX, SSL_CTX_free>;
using SslPtr = CHandle<SSL, SSL_free>;
using X509Ptr = CHandle<X509, X509_free>;
using X509StorePtr = CHandle<X509_STORE, X509_STORE_free>;
using EvpPkeyPtr = CHandle<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = CHandle<BIO, BIO_free_all>;

}  // namespace postern
