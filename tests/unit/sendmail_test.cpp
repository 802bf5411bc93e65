// sendmail_test.cpp: sendmail's command line, its message preparation (-t, Bcc, From:,
// lone dots, address lists) and its SMTP transaction against a scripted server on a
// socket pair (the commands it sends, dot-stuffing, all-or-nothing recipients, exit codes).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "cli/sendmail_message.h"
#include "cli/sendmail_options.h"
#include "cli/smtp_relay.h"
#include "cli/smtp_submit.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::cli;

namespace {

SendmailOptions parse(std::vector<std::string> args) {
    auto options = parseSendmailOptions(args);
    CHECK_TRUE_TEXT(options.ok(), options.ok() ? "" : options.error().c_str());
    return options.value();
}

// What a pipe delivers to readMessage.
std::string readFromPipe(const std::string& input, bool ignoreDots) {
    int fds[2];
    CHECK_EQUAL(0, ::pipe(fds));
    std::thread writer([&] {
        CHECK_EQUAL(static_cast<ssize_t>(input.size()), ::write(fds[1], input.data(), input.size()));
        ::close(fds[1]);
    });
    auto message = readMessage(fds[0], ignoreDots);
    writer.join();
    ::close(fds[0]);
    CHECK_TRUE(message.ok());
    return message.value();
}

// A server that answers each command line with the next scripted reply (a reply for the
// greeting first), records what it got, and takes DATA content up to the final dot.
struct ScriptedServer {
    std::vector<std::string> replies;
    std::vector<std::string> commands;
    std::string data;

    void serve(int fd) {
        size_t next = 0;
        auto send = [&] {
            std::string reply = next < replies.size() ? replies[next++] : "421 out of script\r\n";
            (void)::write(fd, reply.data(), reply.size());
        };
        send();
        std::string buffer;
        bool inData = false;
        char chunk[4096];
        for (ssize_t got; (got = ::read(fd, chunk, sizeof chunk)) > 0;) {
            buffer.append(chunk, static_cast<size_t>(got));
            for (size_t end; (end = buffer.find("\r\n")) != std::string::npos;) {
                std::string line = buffer.substr(0, end);
                buffer.erase(0, end + 2);
                if (inData) {
                    if (line == ".") {
                        inData = false;
                        send();
                    } else {
                        data += line + "\r\n";
                    }
                    continue;
                }
                commands.push_back(line);
                inData = line == "DATA" && next < replies.size() && replies[next][0] == '3';
                send();
                if (line == "QUIT") return;
            }
        }
    }
};

SubmitOutcome submitTo(ScriptedServer& server, const Submission& submission) {
    int fds[2];
    CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds));
    std::thread thread([&] {
        int flags = ::fcntl(fds[1], F_GETFL);
        ::fcntl(fds[1], F_SETFL, flags & ~O_NONBLOCK);
        server.serve(fds[1]);
        ::close(fds[1]);
    });
    SubmitOutcome outcome;
    {
        TimedSocket socket(UniqueFd(fds[0]), std::chrono::seconds(5));
        outcome = submitMessage(socket, submission);
    }
    thread.join();
    return outcome;
}

const char* kEhlo = "250-postern\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n"
                    "250-DSN\r\n250 SMTPUTF8\r\n";

}  // namespace

TEST_GROUP(SendmailOptions){};

TEST(SendmailOptions, ClusteredFlagsAndAttachedOrSeparateValues) {
    auto options = parse({"-oi", "-t", "-faddr@example.org", "-F", "Full Name", "-N",
                          "success,delay", "-Rhdrs", "-V", "env-1", "-C", "/etc/p.conf",
                          "rcpt1@example.com", "-notanoption"});
    CHECK_TRUE(options.ignoreDots);
    CHECK_TRUE(options.extractRecipients);
    STRCMP_EQUAL("addr@example.org", options.sender->c_str());
    STRCMP_EQUAL("Full Name", options.fullName->c_str());
    STRCMP_EQUAL("SUCCESS,DELAY", options.notify.c_str());
    STRCMP_EQUAL("HDRS", options.ret.c_str());
    STRCMP_EQUAL("env-1", options.envid.c_str());
    STRCMP_EQUAL("/etc/p.conf", options.configFile->c_str());
    CHECK_EQUAL(2u, options.recipients.size());  // options end at the first recipient
    STRCMP_EQUAL("-notanoption", options.recipients[1].c_str());

    auto clustered = parse({"-ti", "-f", "<>", "--", "-dash@example.com"});
    CHECK_TRUE(clustered.extractRecipients && clustered.ignoreDots);
    STRCMP_EQUAL("", clustered.sender->c_str());
    STRCMP_EQUAL("-dash@example.com", clustered.recipients[0].c_str());
}

TEST(SendmailOptions, ModesAndIgnoredFlags) {
    CHECK_TRUE(parse({"-bs"}).mode == SendmailMode::Smtp);
    CHECK_TRUE(parse({"-bp"}).mode == SendmailMode::ListQueue);
    CHECK_TRUE(parse({"-bm", "a@b"}).mode == SendmailMode::Deliver);
    CHECK_TRUE(parse({"-q"}).mode == SendmailMode::FlushQueue);
    auto byId = parse({"-qI0123456789ABCDEFG"});
    CHECK_TRUE(byId.mode == SendmailMode::FlushQueue);
    STRCMP_EQUAL("0123456789ABCDEFG", byId.flushId.c_str());
    CHECK_TRUE(parse({"-q30m"}).mode == SendmailMode::Nothing);
    CHECK_TRUE(parse({"-bi"}).mode == SendmailMode::Nothing);
    // Accepted and ignored: -odb -oem -U -G -n -m -h 5 -L label -Am -X log -O opt=1 -d0.1
    auto ignored = parse({"-odb", "-oem", "-U", "-G", "-n", "-m", "-h", "5", "-Llabel", "-Am",
                          "-X", "/tmp/log", "-Oopt=1", "-d0.1", "-v", "a@b"});
    CHECK_TRUE(ignored.verbose);
    CHECK_EQUAL(1u, ignored.recipients.size());
    CHECK_FALSE(ignored.notes.empty());
}

TEST(SendmailOptions, BadFlagsAreUsageErrors) {
    CHECK_FALSE(parseSendmailOptions({"-z"}).ok());
    CHECK_FALSE(parseSendmailOptions({"-f"}).ok());
    CHECK_FALSE(parseSendmailOptions({"-Nsometimes"}).ok());
    CHECK_FALSE(parseSendmailOptions({"-Rall"}).ok());
    CHECK_FALSE(parseSendmailOptions({"-bd"}).ok());
    CHECK_FALSE(parseSendmailOptions({"-b"}).ok());
    auto error = parseSendmailOptions({"-k"});
    STRCMP_EQUAL("invalid option -- 'k'", error.error().c_str());
}

TEST_GROUP(SendmailMessage){};

TEST(SendmailMessage, LoneDotEndsInputUnlessIgnored) {
    std::string input = "Subject: x\n\nline\n.\nafter\n";
    STRCMP_EQUAL("Subject: x\n\nline\n", readFromPipe(input, false).c_str());
    STRCMP_EQUAL(input.c_str(), readFromPipe(input, true).c_str());
    STRCMP_EQUAL("a\r\n", readFromPipe("a\r\n.\r\nb\r\n", false).c_str());
    STRCMP_EQUAL("a\n..\n.x\n", readFromPipe("a\n..\n.x\n.", false).c_str());
    // Any bytes, long lines.
    std::string binary = std::string(100000, 'x') + "\n" + std::string("\0\x01\xff\n", 4);
    STRCMP_EQUAL(binary.c_str(), readFromPipe(binary, false).c_str());
    CHECK_EQUAL(binary.size(), readFromPipe(binary, false).size());
}

TEST(SendmailMessage, InputOverTheLimitIsRefused) {
    int fds[2];
    CHECK_EQUAL(0, ::pipe(fds));
    // The reader stops early: the writer then gets EPIPE (the test binary ignores SIGPIPE).
    std::thread writer([&] {
        std::string big(300000, 'x');
        (void)::write(fds[1], big.data(), big.size());  // fails once the reader is gone
        ::close(fds[1]);
    });
    auto message = readMessage(fds[0], false, 100000);
    ::close(fds[0]);
    writer.join();
    CHECK_FALSE(message.ok());
    STRCMP_EQUAL(kMessageTooBig, message.error().c_str());
}

TEST(SendmailMessage, AddressListsWithNamesGroupsAndComments) {
    auto addresses = parseAddressList(
        " \"Doe, John\" <john@example.com>, jane@example.org (Jane), team: a@x.example,"
        " <b@y.example>;, undisclosed-recipients:;, \"odd <x>\"@example.net");
    CHECK_EQUAL(5u, addresses.size());
    STRCMP_EQUAL("john@example.com", addresses[0].c_str());
    STRCMP_EQUAL("jane@example.org", addresses[1].c_str());
    STRCMP_EQUAL("a@x.example", addresses[2].c_str());
    STRCMP_EQUAL("b@y.example", addresses[3].c_str());
    STRCMP_EQUAL("\"odd <x>\"@example.net", addresses[4].c_str());
}

TEST(SendmailMessage, ExtractRecipientsRemovesBccAndKeepsTheRest) {
    std::string input =
        "To: a@example.com,\n b@example.com\nSubject: hello\nBCC: secret@example.com,\n"
        "  other@example.com\nCc: Carl <c@example.com>\nFrom: me@example.org\n\nBcc: body\n";
    PreparedMessage prepared = prepareMessage(input, {true, "me@example.org", ""});
    CHECK_EQUAL(5u, prepared.headerRecipients.size());
    STRCMP_EQUAL("b@example.com", prepared.headerRecipients[1].c_str());
    STRCMP_EQUAL("other@example.com", prepared.headerRecipients[3].c_str());
    STRCMP_EQUAL("To: a@example.com,\n b@example.com\nSubject: hello\nCc: Carl <c@example.com>\n"
                 "From: me@example.org\n\nBcc: body\n",
                 prepared.content.c_str());
    // Without -t nothing is taken out.
    PreparedMessage plain = prepareMessage(input, {false, "me@example.org", ""});
    STRCMP_EQUAL(input.c_str(), plain.content.c_str());
    CHECK_TRUE(plain.headerRecipients.empty());
}

TEST(SendmailMessage, FromIsAddedWhenMissing) {
    PreparedMessage withName =
        prepareMessage("Subject: s\r\n\r\nbody\r\n", {false, "u@example.org", "Jo Q. Public"});
    STRCMP_EQUAL("Subject: s\r\nFrom: \"Jo Q. Public\" <u@example.org>\r\n\r\nbody\r\n",
                 withName.content.c_str());
    PreparedMessage noHeader = prepareMessage("just a body\n", {false, "u@example.org", ""});
    STRCMP_EQUAL("From: u@example.org\r\n\r\njust a body\n", noHeader.content.c_str());
    PreparedMessage empty = prepareMessage("", {false, "u@example.org", "Ann"});
    STRCMP_EQUAL("From: Ann <u@example.org>\r\n", empty.content.c_str());
    STRCMP_EQUAL("From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>\r\n",
                 formatFromHeader("j@example.org", "Jürgen").c_str());
    STRCMP_EQUAL("root@host.example", qualifyAddress("root", "host.example").c_str());
    STRCMP_EQUAL("a@b", qualifyAddress("a@b", "host.example").c_str());
}

TEST_GROUP(SmtpSubmit){};

TEST(SmtpSubmit, SendsDsnParametersAndDotStuffedContent) {
    ScriptedServer server;
    server.replies = {"220 postern ESMTP\r\n", kEhlo, "250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n",
                      "250 2.1.5 Ok\r\n", "354 go ahead\r\n",
                      "250 2.0.0 Ok: queued as 0123456789ABCDEFG\r\n", "221 bye\r\n"};
    Submission submission{"client.example", "me@example.org", {"a@example.com", "b@example.com"},
                          "SUCCESS,FAILURE", "HDRS", "id 1", "", "Subject: x\n\n.hidden\nend"};
    SubmitOutcome outcome = submitTo(server, submission);
    CHECK_EQUAL(0, outcome.status);
    STRCMP_EQUAL("0123456789ABCDEFG", outcome.queueId.c_str());
    CHECK_EQUAL(6u, server.commands.size());
    STRCMP_EQUAL("EHLO client.example", server.commands[0].c_str());
    STRCMP_EQUAL("MAIL FROM:<me@example.org> SIZE=28 RET=HDRS ENVID=id+201",
                 server.commands[1].c_str());
    STRCMP_EQUAL("RCPT TO:<a@example.com> NOTIFY=SUCCESS,FAILURE", server.commands[2].c_str());
    STRCMP_EQUAL("DATA", server.commands[4].c_str());
    STRCMP_EQUAL("QUIT", server.commands[5].c_str());
    // Line ends became CR LF and the leading dot was doubled on the wire.
    STRCMP_EQUAL("Subject: x\r\n\r\n..hidden\r\nend\r\n", server.data.c_str());
}

TEST(SmtpSubmit, OneRefusedRecipientCancelsTheMessage) {
    ScriptedServer server;
    server.replies = {"220 hi\r\n",         kEhlo, "250 Ok\r\n", "250 Ok\r\n",
                      "550 5.1.1 <nobody@example.com>: unknown\r\n", "250 Ok\r\n", "221 bye\r\n"};
    Submission submission{"h", "me@example.org", {"a@example.com", "nobody@example.com"},
                          "", "", "", "", "x\n"};
    SubmitOutcome outcome = submitTo(server, submission);
    CHECK_EQUAL(kExNoUser, outcome.status);
    CHECK_EQUAL(1u, outcome.problems.size());
    CHECK_TRUE(outcome.problems[0].find("550 5.1.1") != std::string::npos);
    STRCMP_EQUAL("RSET", server.commands[4].c_str());
    STRCMP_EQUAL("QUIT", server.commands[5].c_str());
    CHECK_TRUE(server.data.empty());
}

TEST(SmtpSubmit, TemporaryRefusalAndEightBitBody) {
    ScriptedServer server;
    server.replies = {"220 hi\r\n", kEhlo, "451 4.3.0 try later\r\n", "221 bye\r\n"};
    Submission submission{"h", "", {"a@example.com"}, "", "", "", "", "caf\xc3\xa9\n"};
    SubmitOutcome outcome = submitTo(server, submission);
    CHECK_EQUAL(kExTempFail, outcome.status);
    STRCMP_EQUAL("MAIL FROM:<> SIZE=7 BODY=8BITMIME", server.commands[1].c_str());

    ScriptedServer closing;
    closing.replies = {"554 5.3.2 go away\r\n", "221 bye\r\n"};
    CHECK_EQUAL(kExUnavailable, submitTo(closing, submission).status);
}

TEST_GROUP(SmtpRelay){};

TEST(SmtpRelay, CommandsGoOnOnlyAfterEachReply) {
    // The whole session is written at once, before the greeting: the relay must still pass
    // each command only after the reply to the one before.
    ScriptedServer server;
    server.replies = {"220 hi\r\n", "250-hello\r\n250 8BITMIME\r\n", "250 Ok\r\n", "250 Ok\r\n",
                      "354 go\r\n", "250 2.0.0 Ok: queued as X\r\n", "221 bye\r\n"};
    int fds[2], input[2], output[2];
    CHECK_EQUAL(0, ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds));
    CHECK_EQUAL(0, ::pipe(input));
    CHECK_EQUAL(0, ::pipe(output));
    std::string session = "EHLO me\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n"
                          "\r\n..dot\r\n.\r\nQUIT\r\n";
    CHECK_EQUAL(static_cast<ssize_t>(session.size()), ::write(input[1], session.data(), session.size()));
    ::close(input[1]);
    std::thread thread([&] {
        int flags = ::fcntl(fds[1], F_GETFL);
        ::fcntl(fds[1], F_SETFL, flags & ~O_NONBLOCK);
        server.serve(fds[1]);
        ::close(fds[1]);
    });
    int status;
    {
        TimedSocket socket(UniqueFd(fds[0]), std::chrono::seconds(5));
        status = relaySmtpSession(socket, input[0], output[1]);
    }
    thread.join();
    ::close(input[0]);
    ::close(output[1]);
    char buffer[4096];
    ssize_t got = ::read(output[0], buffer, sizeof buffer);
    ::close(output[0]);
    CHECK_EQUAL(0, status);
    STRCMP_EQUAL("220 hi\r\n250-hello\r\n250 8BITMIME\r\n250 Ok\r\n250 Ok\r\n354 go\r\n"
                 "250 2.0.0 Ok: queued as X\r\n221 bye\r\n",
                 std::string(buffer, got > 0 ? static_cast<size_t>(got) : 0).c_str());
    CHECK_EQUAL(5u, server.commands.size());
    STRCMP_EQUAL("Subject: x\r\n\r\n..dot\r\n", server.data.c_str());
}
