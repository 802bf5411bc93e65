// smtp_client_server.h: a scripted SMTP server on 127.0.0.1 for the smtp worker's unit
// tests, on the test's own event loop: any number of connections, each greeted, then for
// each command line the reply `answer` gives ("" for none, kHangUp to close the connection).
// It records every command (over all connections, in order) and the message data.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "event.h"
#include "smtp/destination.h"
#include "smtp/job.h"

namespace postern::testing {

class ScriptedSmtpServer {
  public:
    using Answer = std::function<std::string(const std::string& line)>;
    // An answer that closes the connection instead of replying.
    static constexpr const char* kHangUp = "<hang up>";

    ScriptedSmtpServer(event_base* base, std::string greeting, Answer answer);
    ~ScriptedSmtpServer();

    uint16_t port() const { return port_; }
    // Connections accepted so far; connections still open.
    size_t connections() const { return accepted_; }
    size_t openConnections() const;
    // Hangs up on every open connection.
    void hangUpAll();

    // Each command line received, and whether more input was already waiting behind it.
    std::vector<std::pair<std::string, bool>> commands;
    std::string data;  // what came after 354, dot-stuffed, up to the final dot

  private:
    struct Connection;
    static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
    static void onRead(bufferevent* bev, void* connection);
    static void onEvent(bufferevent* bev, short events, void* connection);

    std::string greeting_;
    Answer answer_;
    EvConnListenerPtr listener_;
    std::vector<std::unique_ptr<Connection>> connections_;
    size_t accepted_ = 0;
    uint16_t port_ = 0;
};

// The usual answers; EHLO offers `extensions`; RCPT by local part: ok, defer, fail.
ScriptedSmtpServer::Answer usualAnswers(std::string extensions);

// A server candidate for 127.0.0.1:PORT named HOST.
smtp::Candidate loopbackServer(uint16_t port, std::string host = "mx.test.example");

// Fills JOB with a small message (written into FOLDER) from s@a.example, TLS level none.
void prepareTestJob(smtp::DeliveryJob& job, const std::string& folder);
// Gives JOB these recipients; returns their positions (0..n-1).
std::vector<size_t> setRecipients(smtp::DeliveryJob& job, const std::vector<std::string>& addresses);

}  // namespace postern::testing
