// smtp_client_server.cpp: the scripted SMTP server of the smtp worker's unit tests (see
// smtp_client_server.h).
#include "smtp_client_server.h"

#include <fcntl.h>
#include <netinet/in.h>

#include <cstdlib>
#include <fstream>

#include "queue_id.h"

namespace postern::testing {

struct ScriptedSmtpServer::Connection {
    ScriptedSmtpServer* server;
    BufferEventPtr bev;
    bool inData = false;
};

ScriptedSmtpServer::ScriptedSmtpServer(event_base* base, std::string greeting, Answer answer)
    : greeting_(std::move(greeting)), answer_(std::move(answer)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    listener_.reset(evconnlistener_new_bind(base, &ScriptedSmtpServer::onAccept, this,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                            reinterpret_cast<sockaddr*>(&address), sizeof address));
    socklen_t length = sizeof address;
    getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
}

ScriptedSmtpServer::~ScriptedSmtpServer() = default;

size_t ScriptedSmtpServer::openConnections() const {
    size_t open = 0;
    for (const auto& connection : connections_) open += connection->bev ? 1 : 0;
    return open;
}

void ScriptedSmtpServer::hangUpAll() {
    for (auto& connection : connections_) connection->bev.reset();
}

void ScriptedSmtpServer::onAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr*, int, void* self) {
    auto* server = static_cast<ScriptedSmtpServer*>(self);
    auto& connection = server->connections_.emplace_back(std::make_unique<Connection>());
    connection->server = server;
    connection->bev.reset(bufferevent_socket_new(evconnlistener_get_base(listener), fd, BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(connection->bev.get(), &ScriptedSmtpServer::onRead, nullptr, &ScriptedSmtpServer::onEvent,
                      connection.get());
    bufferevent_enable(connection->bev.get(), EV_READ | EV_WRITE);
    ++server->accepted_;
    const std::string& greeting = server->greeting_;
    if (!greeting.empty()) bufferevent_write(connection->bev.get(), greeting.data(), greeting.size());
}

void ScriptedSmtpServer::onRead(bufferevent* bev, void* self) {
    auto* connection = static_cast<Connection*>(self);
    ScriptedSmtpServer* server = connection->server;
    evbuffer* input = bufferevent_get_input(bev);
    while (char* raw = evbuffer_readln(input, nullptr, EVBUFFER_EOL_CRLF_STRICT)) {
        std::string line(raw);
        free(raw);
        std::string reply;
        if (connection->inData) {
            if (line != ".") {
                server->data += line + "\r\n";
                continue;
            }
            connection->inData = false;
            reply = server->answer_(".");
        } else {
            server->commands.emplace_back(line, evbuffer_get_length(input) > 0);
            reply = server->answer_(line);
            if (reply.starts_with("354")) connection->inData = true;
        }
        if (reply == kHangUp) {
            connection->bev.reset();
            return;
        }
        if (!reply.empty()) bufferevent_write(bev, reply.data(), reply.size());
    }
}

void ScriptedSmtpServer::onEvent(bufferevent*, short events, void* self) {
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) static_cast<Connection*>(self)->bev.reset();
}

ScriptedSmtpServer::Answer usualAnswers(std::string extensions) {
    return [extensions](const std::string& line) -> std::string {
        if (line.starts_with("EHLO")) return "250-test.example\r\n" + extensions + "250 8BITMIME\r\n";
        if (line.starts_with("MAIL")) return "250 2.1.0 Ok\r\n";
        if (line.starts_with("RCPT TO:<defer@")) return "450 4.2.0 later\r\n";
        if (line.starts_with("RCPT TO:<fail@")) return "550 5.1.1 no such user\r\n";
        if (line.starts_with("RCPT")) return "250 2.1.5 Ok\r\n";
        if (line == "DATA") return "354 go ahead\r\n";
        if (line == ".") return "250 2.0.0 Ok: queued as Q1\r\n";
        if (line == "RSET") return "250 2.0.0 Ok\r\n";
        if (line == "QUIT") return "221 2.0.0 Bye\r\n";
        return "500 5.5.2 what?\r\n";
    };
}

smtp::Candidate loopbackServer(uint16_t port, std::string host) {
    smtp::Candidate server{std::move(host), {}};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&server.address.storage);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4->sin_port = htons(port);
    server.address.length = sizeof(sockaddr_in);
    return server;
}

void prepareTestJob(smtp::DeliveryJob& job, const std::string& folder) {
    const std::string content = "Subject: t\r\n\r\n.dot\r\nbody\r\n";
    const std::string path = folder + "/message";
    std::ofstream(path, std::ios::binary) << "XX" << content;
    job.content.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    job.request.queueId = queue::makeQueueId(1'700'000'000'000'000, 1, 1);
    job.request.sender = "s@a.example";
    job.request.contentOffset = 2;
    job.request.contentLength = static_cast<int64_t>(content.size());
    job.tls.level = tls::TlsLevel::None;
}

std::vector<size_t> setRecipients(smtp::DeliveryJob& job, const std::vector<std::string>& addresses) {
    std::vector<size_t> positions;
    job.request.recipients.clear();
    for (size_t i = 0; i < addresses.size(); ++i) {
        job.request.recipients.push_back({int64_t(i), addresses[i], "", 0});
        positions.push_back(i);
    }
    return positions;
}

}  // namespace postern::testing
