// smtp_client_session_test.cpp: unit tests for smtp/session: one SMTP client session on an
// event loop against a scripted server in the same loop (lock-step and pipelined
// transactions, per-recipient verdicts, a silent server, bytes sent out of turn).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log.h"
#include "queue_id.h"
#include "smtp/session.h"
#include "smtp_client_server.h"
#include "test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

namespace {

using testing::ScriptedSmtpServer;
using testing::usualAnswers;

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
        testing::prepareTestJob(job, dir.path);
    }
    void teardown() override {
        job.content.reset();
        trust.reset();
        base.reset();
    }

    Outcome run(uint16_t port, std::vector<std::string> addresses) {
        std::vector<size_t> positions = testing::setRecipients(job, addresses);
        Candidate server = testing::loopbackServer(port);
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
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers(""));
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
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers("250-PIPELINING\r\n250-SIZE 1000\r\n"));
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
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n250-test.example\r\n250 SIZE 5\r\n",
                          usualAnswers(""));
    log::Capture captured;
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.verdicts["ok@b.example"].outcome == RecipientOutcome::Sent);
    CHECK_TRUE(captured.contains("mx.test.example[127.0.0.1] sent 30 bytes before its turn; ignored"));
}

TEST(SmtpClientSession, SilentServerTimesOutAndTheNextIsTried) {
    settings.heloTimeout = 1;
    ScriptedSmtpServer server(base.get(), "", usualAnswers(""));
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.end->next == SessionEnd::Next::TryNextServer);
    CHECK_FALSE(outcome.end->greeted);
    STRCMP_EQUAL("conversation with mx.test.example[127.0.0.1] timed out while receiving the initial server greeting",
                 outcome.end->verdict.text.c_str());
    CHECK_TRUE(outcome.verdicts.empty());
}

TEST(SmtpClientSession, MandatoryTlsWithoutStarttlsNeverSendsMail) {
    job.tls.level = tls::TlsLevel::Encrypt;
    ScriptedSmtpServer server(base.get(), "220 test.example ESMTP\r\n", usualAnswers("250-PIPELINING\r\n"));
    Outcome outcome = run(server.port(), {"ok@b.example"});
    CHECK(outcome.end->next == SessionEnd::Next::TryNextServer);
    STRCMP_EQUAL("4.7.4", outcome.end->verdict.dsn.c_str());
    for (const auto& command : server.commands) CHECK_FALSE(command.first.starts_with("MAIL"));
}
