// smtp_client_session_test.cpp: unit tests for smtp/session: one SMTP client session on an
// event loop against a scripted server in the same loop (lock-step and pipelined
// transactions, per-recipient verdicts, a silent server, bytes sent out of turn).
#include <fcntl.h>
#include <netinet/in.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log.h"
#include "queue_id.h"
#include "smtp/session.h"
#include "test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

namespace {

// A line-based SMTP server on 127.0.0.1 for one connection at a time: the greeting, then
// for each command line the reply that `answer` gives ("" for none).
class ScriptedServer {
  public:
    using Answer = std::function<std::string(const std::string& line)>;

    ScriptedServer(event_base* base, std::string greeting, Answer answer)
        : greeting_(std::move(greeting)), answer_(std::move(answer)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        listener_.reset(evconnlistener_new_bind(base, &ScriptedServer::onAccept, this,
                                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                                reinterpret_cast<sockaddr*>(&address), sizeof address));
        socklen_t length = sizeof address;
        getsockname(evconnlistener_get_fd(listener_.get()), reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
    }

    uint16_t port() const { return port_; }
    // Each command line received, and whether more input was already waiting behind it.
    std::vector<std::pair<std::string, bool>> commands;
    std::string data;  // what came after 354, dot-stuffed, up to the final dot

  private:
    static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
        auto* server = static_cast<ScriptedServer*>(self);
        server->bev_.reset(bufferevent_socket_new(evconnlistener_get_base(server->listener_.get()), fd,
                                                  BEV_OPT_CLOSE_ON_FREE));
        bufferevent_setcb(server->bev_.get(), &ScriptedServer::onRead, nullptr, nullptr, self);
        bufferevent_enable(server->bev_.get(), EV_READ | EV_WRITE);
        server->inData_ = false;
        if (!server->greeting_.empty()) bufferevent_write(server->bev_.get(), server->greeting_.data(), server->greeting_.size());
    }

    static void onRead(bufferevent* bev, void* self) {
        auto* server = static_cast<ScriptedServer*>(self);
        evbuffer* input = bufferevent_get_input(bev);
        while (char* raw = evbuffer_readln(input, nullptr, EVBUFFER_EOL_CRLF_STRICT)) {
            std::string line(raw);
            free(raw);
            if (server->inData_) {
                if (line == ".") {
                    server->inData_ = false;
                    server->reply(server->answer_("."));
                } else {
                    server->data += line + "\r\n";
                }
                continue;
            }
            server->commands.emplace_back(line, evbuffer_get_length(input) > 0);
            std::string reply = server->answer_(line);
            if (reply.starts_with("354")) server->inData_ = true;
            server->reply(reply);
        }
    }

    void reply(const std::string& text) {
        if (!text.empty()) bufferevent_write(bev_.get(), text.data(), text.size());
    }

    std::string greeting_;
    Answer answer_;
    EvConnListenerPtr listener_;
    BufferEventPtr bev_;
    uint16_t port_ = 0;
    bool inData_ = false;
};

// The usual answers; EHLO offers `extensions`; RCPT by local part: ok, defer, fail.
ScriptedServer::Answer usualAnswers(std::string extensions) {
    return [extensions](const std::string& line) -> std::string {
        if (line.starts_with("EHLO")) return "250-test.example\r\n" + extensions + "250 8BITMIME\r\n";
        if (line.starts_with("MAIL")) return "250 2.1.0 Ok\r\n";
        if (line.starts_with("RCPT TO:<defer@")) return "450 4.2.0 later\r\n";
        if (line.starts_with("RCPT TO:<fail@")) return "550 5.1.1 no such user\r\n";
        if (line.starts_with("RCPT")) return "250 2.1.5 Ok\r\n";
        if (line == "DATA") return "354 go ahead\r\n";
        if (line == ".") return "250 2.0.0 Ok: queued as Q1\r\n";
        if (line == "QUIT") return "221 2.0.0 Bye\r\n";
        return "500 5.5.2 what?\r\n";
    };
}

struct Outcome {
    std::map<std::string, Verdict> verdicts;  // by address
    std::optional<SessionEnd> end;
};

}  // namespace

TEST_GROUP(SmtpClientSession) {
    EventBasePtr base;
    testing::TempDir dir;
    std::unique_ptr<TrustStores> trust;
    SessionSettings settings;
    DeliveryJob job;

    void setup() override {
        base.reset(event_base_new());
        auto loaded = TrustStores::load(SmtpTlsPolicy{});  // the system's CAs
        if (!loaded) FAIL(loaded.error().c_str());
        trust = std::move(loaded.value());
        settings.heloName = "client.example";
        const std::string content = "Subject: t\r\n\r\n.dot\r\nbody\r\n";
        const std::string path = dir.path + "/message";
        std::ofstream(path, std::ios::binary) << "XX" << content;
        job.content.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        job.request.queueId = queue::makeQueueId(1'700'000'000'000'000, 1, 1);
        job.request.sender = "s@a.example";
        job.request.contentOffset = 2;
        job.request.contentLength = static_cast<int64_t>(content.size());
        job.tls.level = tls::TlsLevel::None;
    }
    void teardown() override {
        job.content.reset();
        trust.reset();
        base.reset();
    }

    Outcome run(uint16_t port, std::vector<std::string> addresses) {
        std::vector<size_t> positions;
        job.request.recipients.clear();
        for (size_t i = 0; i < addresses.size(); ++i) {
            job.request.recipients.push_back({int64_t(i), addresses[i], "", 0});
            positions.push_back(i);
        }
        Candidate server{"mx.test.example", {}};
        auto* v4 = reinterpret_cast<sockaddr_in*>(&server.address.storage);
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_port = htons(port);
        server.address.length = sizeof(sockaddr_in);
        Outcome outcome;
        Session session({base.get(), &settings, trust.get()}, job, server, positions, true,
                        [&](size_t position, const Verdict& verdict, const RelayInfo&) {
                            outcome.verdicts[job.request.recipients[position].address] = verdict;
                        },
                        [&](const SessionEnd& end) { outcome.end = end; });
        session.start();
        CHECK_TRUE(testing::runUntil(base.get(), [&] { return outcome.end.has_value(); },
                                     std::chrono::seconds(5)));
        return outcome;
    }
};

TEST(SmtpClientSession, LockStepTransactionGivesEachRecipientItsVerdict) {
    ScriptedServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers(""));
    Outcome outcome = run(server.port(), {"ok@b.example", "defer@b.example", "fail@b.example"});
    CHECK(outcome.end->next == SessionEnd::Next::Finished);
    CHECK(outcome.verdicts["ok@b.example"].outcome == RecipientOutcome::Sent);
    STRCMP_EQUAL("250 2.0.0 Ok: queued as Q1", outcome.verdicts["ok@b.example"].text.c_str());
    CHECK(outcome.verdicts["defer@b.example"].outcome == RecipientOutcome::Deferred);
    CHECK(outcome.verdicts["fail@b.example"].outcome == RecipientOutcome::Bounced);
    STRCMP_EQUAL("host mx.test.example[127.0.0.1] said: 550 5.1.1 no such user (in reply to RCPT TO command)",
                 outcome.verdicts["fail@b.example"].text.c_str());
    for (const auto& [line, moreWaiting] : server.commands) CHECK_FALSE_TEXT(moreWaiting, line.c_str());
    STRCMP_EQUAL("MAIL FROM:<s@a.example>", server.commands.at(1).first.c_str());
    STRCMP_EQUAL("Subject: t\r\n\r\n..dot\r\nbody\r\n", server.data.c_str());
    STRCMP_EQUAL("QUIT", server.commands.back().first.c_str());
}

TEST(SmtpClientSession, PipeliningSendsTheGroupAtOnce) {
    ScriptedServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers("250-PIPELINING\r\n250-SIZE 1000\r\n"));
    Outcome outcome = run(server.port(), {"ok@b.example", "ok2@b.example"});
    CHECK(outcome.verdicts["ok2@b.example"].outcome == RecipientOutcome::Sent);
    // MAIL, RCPT, RCPT, DATA: all but the last had the rest of the group behind them.
    STRCMP_EQUAL("MAIL FROM:<s@a.example> SIZE=26", server.commands.at(1).first.c_str());
    CHECK_TRUE(server.commands.at(1).second);
    CHECK_TRUE(server.commands.at(3).second);
    STRCMP_EQUAL("DATA", server.commands.at(4).first.c_str());
    CHECK_FALSE(server.commands.at(4).second);
}

TEST(SmtpClientSession, RepliesSentOutOfTurnAreIgnored) {
    // A fake EHLO reply behind the greeting: believed, it would announce a SIZE too small.
    ScriptedServer server(base.get(), "220 test.example ESMTP\r\n250-test.example\r\n250 SIZE 5\r\n",
                          usualAnswers(""));
    log::Capture captured;
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.verdicts["ok@b.example"].outcome == RecipientOutcome::Sent);
    CHECK_TRUE(captured.contains("mx.test.example[127.0.0.1] sent 30 bytes before its turn; ignored"));
}

TEST(SmtpClientSession, SilentServerTimesOutAndTheNextIsTried) {
    settings.heloTimeout = 1;
    ScriptedServer server(base.get(), "", usualAnswers(""));
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.end->next == SessionEnd::Next::TryNextServer);
    CHECK_FALSE(outcome.end->greeted);
    STRCMP_EQUAL("conversation with mx.test.example[127.0.0.1] timed out while receiving the initial server greeting",
                 outcome.end->verdict.text.c_str());
    CHECK_TRUE(outcome.verdicts.empty());
}

TEST(SmtpClientSession, MandatoryTlsWithoutStarttlsNeverSendsMail) {
    job.tls.level = tls::TlsLevel::Encrypt;
    ScriptedServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers("250-PIPELINING\r\n"));
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.end->next == SessionEnd::Next::TryNextServer);
    STRCMP_EQUAL("4.7.4", outcome.end->verdict.dsn.c_str());
    for (const auto& command : server.commands) CHECK_FALSE(command.first.starts_with("MAIL"));
}
