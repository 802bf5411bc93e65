// smtp_submit.cpp: sendmail's SMTP transaction on public/submit (see smtp_submit.h).
#include "smtp_submit.h"

#include "address.h"
#include "smtp_encode.h"
#include "smtp_reply.h"
#include "xtext.h"

namespace postern::cli {

namespace {

bool hasEightBit(const std::string& text) {
    for (char c : text) {
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    }
    return false;
}

// The message size as SIZE= counts it: every line end CR LF, the last line ended.
size_t crlfSize(std::string_view content) {
    size_t size = 0;
    for (size_t i = 0; i < content.size(); ++i) {
        char c = content[i];
        bool crlf = c == '\r' && i + 1 < content.size() && content[i + 1] == '\n';
        if (crlf) ++i;
        size += (c == '\r' || c == '\n') ? 2 : 1;
    }
    if (!content.empty() && content.back() != '\n' && content.back() != '\r') size += 2;
    return size;
}

// The sysexits status for a refusal at a stage of the transaction.
int statusForReply(const SmtpReply& reply, int permanentStatus) {
    return reply.replyClass() == 4 ? kExTempFail : permanentStatus;
}

class SmtpSession {
public:
    explicit SmtpSession(TimedSocket& socket) : socket_(socket) {}

    // Sends a command (CR LF added) and reads its reply.
    Result<SmtpReply> command(const std::string& line) {
        if (auto sent = socket_.writeAll(line + "\r\n"); !sent) return sent.failure();
        return reply();
    }

    // Reads the next complete reply.
    Result<SmtpReply> reply() {
        for (;;) {
            auto next = reader_.next();
            if (!next) return next.failure();
            if (next.value()) return *next.value();
            std::string bytes;
            if (auto read = socket_.readSome(bytes); !read) return read.failure();
            reader_.feed(bytes);
        }
    }

    Status send(const std::string& bytes) { return socket_.writeAll(bytes); }

private:
    TimedSocket& socket_;
    ReplyReader reader_;
};

// "queued as ID" in a 250 reply to DATA.
std::string queueIdFrom(const SmtpReply& reply) {
    for (const auto& line : reply.lines) {
        size_t at = line.find("queued as ");
        if (at == std::string::npos) continue;
        std::string id = line.substr(at + 10);
        return id.substr(0, id.find_first_of(" \t"));
    }
    return "";
}

std::string mailCommand(const Submission& submission, const ServerCapabilities& server,
                        size_t size) {
    std::string line = "MAIL FROM:<" + submission.sender + ">";
    if (server.size) line += " SIZE=" + std::to_string(size);
    std::string body = submission.bodyType;
    if (body.empty() && hasEightBit(submission.content)) body = "8BITMIME";
    if (!body.empty() && server.eightBitMime) line += " BODY=" + body;
    bool utf8 = pathNeedsSmtpUtf8(submission.sender);
    for (const auto& recipient : submission.recipients) utf8 = utf8 || pathNeedsSmtpUtf8(recipient);
    if (utf8 && server.smtputf8) line += " SMTPUTF8";
    if (server.dsn && !submission.ret.empty()) line += " RET=" + submission.ret;
    if (server.dsn && !submission.envid.empty()) line += " ENVID=" + encodeXtext(submission.envid);
    return line;
}

class Transaction {
public:
    Transaction(TimedSocket& socket, const Submission& submission)
        : session_(socket), submission_(submission) {}

    SubmitOutcome run() {
        auto greeting = session_.reply();
        if (!expect(greeting, 2, kExUnavailable, "greeting")) return finish();
        auto ehlo = session_.command("EHLO " + submission_.heloName);
        if (!expect(ehlo, 2, kExUnavailable, "EHLO")) return finish();
        ServerCapabilities server = parseEhloCapabilities(ehlo.value());
        std::string wire = encodeData(submission_.content, 0);
        auto mail = session_.command(mailCommand(submission_, server, crlfSize(submission_.content)));
        if (!expect(mail, 2, kExDataErr, "MAIL FROM:<" + submission_.sender + ">"))
            return finish();
        for (const auto& recipient : submission_.recipients) {
            std::string line = "RCPT TO:<" + recipient + ">";
            if (server.dsn && !submission_.notify.empty()) line += " NOTIFY=" + submission_.notify;
            auto rcpt = session_.command(line);
            if (!rcpt) return failConnection(rcpt.error());
            if (!expect(rcpt, 2, kExNoUser, "RCPT TO:<" + recipient + ">")) continue;
        }
        if (outcome_.status != 0) {
            // All or nothing: the accepted recipients must not get it either.
            (void)session_.command("RSET");
            return finish();
        }
        auto data = session_.command("DATA");
        if (!expect(data, 3, kExDataErr, "DATA")) return finish();
        if (auto sent = session_.send(wire); !sent) return failConnection(sent.error());
        auto accepted = session_.reply();
        if (!expect(accepted, 2, kExDataErr, "end of data")) return finish();
        outcome_.queueId = queueIdFrom(accepted.value());
        return finish();
    }

private:
    // Checks a reply's class; records why when it is not the one wanted.
    bool expect(const Result<SmtpReply>& reply, int wantedClass, int permanentStatus,
                const std::string& stage) {
        if (!reply) {
            failConnection(reply.error());
            return false;
        }
        if (reply->replyClass() == wantedClass) return true;
        if (outcome_.status == 0 || outcome_.status == kExNoUser)
            outcome_.status = statusForReply(reply.value(), permanentStatus);
        outcome_.problems.push_back(stage + ": " + reply->printable());
        return false;
    }

    SubmitOutcome failConnection(const std::string& error) {
        outcome_.status = kExTempFail;
        outcome_.problems.push_back("lost connection to postern: " + error);
        connectionLost_ = true;
        return outcome_;
    }

    SubmitOutcome finish() {
        if (!connectionLost_) (void)session_.command("QUIT");
        return outcome_;
    }

    SmtpSession session_;
    const Submission& submission_;
    SubmitOutcome outcome_;
    bool connectionLost_ = false;
};

}  // namespace

SubmitOutcome submitMessage(TimedSocket& socket, const Submission& submission) {
    return Transaction(socket, submission).run();
}

}  // namespace postern::cli
