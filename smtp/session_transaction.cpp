// session_transaction.cpp: the mail transaction of a session (see session.h): MAIL, RCPT
// and DATA one by one or pipelined (RFC 2920: DATA last in the group), the content
// streamed from the queue file, the reply to the final dot, per-recipient results.
#include "session.h"

#include "commands.h"
#include "log.h"
#include "queue_id.h"

namespace postern::smtp {

namespace {

// Content kept queued for the server at most (refilled as the kernel takes it).
constexpr size_t kContentOutputTarget = 2 * ContentStream::kPieceBytes;

}  // namespace

// Refuses what this server cannot take: SMTPUTF8 mail without SMTPUTF8 (5.6.7), a message
// over its announced SIZE (5.3.4). Returns false after settling every recipient.
bool Session::checkServerLimits() {
    const auto& request = job_->request;
    if (request.smtputf8 && !(esmtp_ && caps_.smtputf8)) {
        settleOpen(bounce("5.6.7", "SMTPUTF8 is required, but was not offered by host " + peer_));
        return false;
    }
    const auto size = static_cast<uint64_t>(request.contentLength);
    if (esmtp_ && caps_.size && caps_.sizeLimit > 0 && size > caps_.sizeLimit) {
        settleOpen(bounce("5.3.4", "message size " + std::to_string(size) + " exceeds size limit " +
                                       std::to_string(caps_.sizeLimit) + " of server " + peer_));
        return false;
    }
    if (!isSendableAddress(request.sender)) {
        settleOpen(bounce("5.1.7", "bad sender address syntax"));
        return false;
    }
    return true;
}

void Session::beginTransaction() {
    ++uses_;
    // Settled before MAIL FROM: the connection is as clean as before.
    if (!checkServerLimits()) return endTransaction(nullptr, false);
    const auto& request = job_->request;
    commands_.clear();
    commands_.push_back({CommandKind::Mail, 0, mailCommand(request, caps_, esmtp_)});
    for (size_t i = 0; i < positions_.size(); ++i) {
        const auto& recipient = request.recipients.at(positions_[i]);
        if (settled_[i]) continue;
        if (!isSendableAddress(recipient.address)) {
            settle(positions_[i], bounce("5.1.3", "bad address syntax"));
            continue;
        }
        commands_.push_back({CommandKind::Rcpt, positions_[i], rcptCommand(recipient, caps_, esmtp_)});
    }
    if (commands_.size() == 1) return endTransaction(nullptr, false);
    commands_.push_back({CommandKind::Data, 0, "DATA\r\n"});
    transactionStart_ = queue::realtimeMicros();
    pipelining_ = esmtp_ && caps_.pipelining;
    if (pipelining_) {
        std::string group;
        for (const auto& command : commands_) group += command.text;
        connection_.send(group);  // one write: MAIL, every RCPT, DATA
        commandsSent_ = commands_.size();
        expectedReplies_ += commands_.size();
    } else {
        sendNextCommand();
    }
    setState(State::Transaction);
}

void Session::sendNextCommand() {
    sendCommand(commands_.at(commandsSent_++).text);
}

void Session::onTransactionReply(const SmtpReply& reply) {
    const Command& command = commands_.at(repliesTaken_++);
    const bool positive = reply.replyClass() == 2;
    switch (command.kind) {
        case CommandKind::Mail:
            // A cached connection the server is closing: nothing was decided, try afresh.
            if (resumed_ && reply.code == 421) return endNow(stale(replyFailure(peer_, reply, "MAIL FROM")));
            mailAccepted_ = positive;
            if (!positive) settleOpen(replyFailure(peer_, reply, "MAIL FROM"));
            break;
        case CommandKind::Rcpt:
            if (!mailAccepted_) break;  // already settled with the MAIL reply
            if (positive) {
                accepted_.push_back(command.position);
            } else {
                settle(command.position, replyFailure(peer_, reply, "RCPT TO"));
            }
            break;
        case CommandKind::Data:
            if (reply.code == 354) {
                if (!accepted_.empty()) return startContent();
                // Pipelined with every RCPT refused: end the (empty) DATA at once (RFC 2920).
                emptyData_ = true;
                setState(State::DataDone);
                sendCommand(".\r\n");
                return;
            }
            settleAccepted(replyFailure(peer_, reply, "DATA"));
            return endTransaction(&reply, true);
    }
    continueTransaction(command, reply);
}

// After a MAIL or RCPT reply: wait for the next pipelined reply, or send the next command.
void Session::continueTransaction(const Command& answered, const SmtpReply& reply) {
    if (pipelining_) return armTimer();  // the next reply has its own timeout
    const bool more = commandsSent_ < commands_.size();
    const bool nextIsData = more && commands_[commandsSent_].kind == CommandKind::Data;
    if (!mailAccepted_ || (nextIsData && accepted_.empty())) return endTransaction(&reply, true);
    if (!more) log::panic("%s: no command after %d", relay_.c_str(), static_cast<int>(answered.kind));
    sendNextCommand();
    armTimer();
}

void Session::startContent() {
    const auto& request = job_->request;
    content_ = std::make_unique<ContentStream>(job_->content.get(), request.contentOffset,
                                               request.contentLength, env_.settings->lineLengthLimit);
    setState(State::Content);
    pumpContent();
}

// Tops the output up with content; the write callback calls again as the kernel takes it.
void Session::pumpContent() {
    if (Status filled = content_->fill(connection_.output(), kContentOutputTarget); !filled) {
        // Dropping the connection before the final dot makes the server discard the message.
        log::warning("%s: %s", job_->request.queueId.c_str(), filled.error().c_str());
        const Verdict verdict = deferral("4.3.0", filled.error());
        settleOpen(verdict);
        return endNow(finished(verdict));
    }
    if (!content_->finished()) return armTimer();  // progress: a new data_xfer_timeout
    content_.reset();
    setState(State::DataDone);
    ++expectedReplies_;
    readReplies();  // a reply the server sent early is read now
}

void Session::onDataDoneReply(const SmtpReply& reply) {
    if (!emptyData_) {
        settleAccepted(reply.replyClass() == 2 ? sent(reply) : replyFailure(peer_, reply, "end of DATA"));
    }
    endTransaction(&reply, false);  // the final dot's reply ends the transaction either way
}

void Session::settleAccepted(const Verdict& verdict) {
    for (size_t position : accepted_) settle(position, verdict);
    accepted_.clear();
}

// The transaction is over, every recipient settled. The connection is kept (ends reusable)
// when the owner wants it and the server is in a known state: after the final dot's reply
// (RFC 5321 4.1.1.4: it ends the transaction whatever it says), or after RSET for an aborted
// one (MAIL refused, no recipient taken, DATA refused). A 421 means the server is closing.
void Session::endTransaction(const SmtpReply* last, bool aborted) {
    const bool closing = last && last->code == 421;
    if (!env_.keepOpen || closing || outOfTurn_) return quitThen(finished());
    if (!aborted) return endReusable();
    pendingEnd_ = finished();
    setState(State::Rset);
    sendCommand("RSET\r\n");
}

void Session::onRsetReply(const SmtpReply& reply) {
    if (reply.replyClass() == 2) return endReusable();
    quitThen(pendingEnd_);
}

}  // namespace postern::smtp
