// session_commands.cpp: the command handlers of a session (all but DATA, BDAT and
// STARTTLS), the pipelining synchronization check and the STARTTLS requirement.
#include "log.h"
#include "session.h"
#include "text_escape.h"

namespace postern::smtpd {

namespace {

// Refusals for the recipient limit that do not count as errors, per transaction.
constexpr int kRecipientOvershootLimit = 1000;

// Joins the words of a HELO argument with single spaces (Postfix's collapse_args): no tab
// reaches a queue file or a Received: line.
std::string collapseBlanks(std::string_view text) {
    std::string out;
    bool blank = false;
    for (char c : text) {
        if (c == ' ' || c == '\t') {
            blank = !out.empty();
            continue;
        }
        if (blank) out.push_back(' ');
        blank = false;
        out.push_back(c);
    }
    return out;
}

uint8_t queueNotifyFlags(unsigned notify) {
    uint8_t flags = 0;
    if (notify & notifySuccess) flags |= queue::kNotifySuccess;
    if (notify & notifyFailure) flags |= queue::kNotifyFailure;
    if (notify & notifyDelay) flags |= queue::kNotifyDelay;
    if (notify & notifyNever) flags |= queue::kNotifyNever;
    return flags;
}

bool hasControlCharacter(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
    return false;
}

}  // namespace

CommandContext Session::commandContext() const {
    CommandContext context;
    context.offerSmtputf8 = services_.config->smtputf8_enable;
    context.offerBinaryMime = false;
    context.transactionSmtputf8 = transaction_ && transaction_->params.smtputf8;
    return context;
}

// RFC 2920 section 3.1: these end a pipelined group; a client that sent more behind them
// is not waiting for our replies, and no byte of it can be trusted to mean what it says.
bool Session::mustEndGroup(Verb verb) const {
    switch (verb) {
        case Verb::helo:
        case Verb::ehlo:
        case Verb::data:
        case Verb::noop:
        case Verb::vrfy:
            return true;
        default:
            return false;
    }
}

std::optional<SmtpReply> Session::tlsRequiredRefusal(Verb verb) const {
    if (services_.config->smtpd.tls.security_level != SmtpdTlsConfig::Level::Encrypt ||
        tlsActive_ || origin_.local) {
        return std::nullopt;
    }
    switch (verb) {
        case Verb::mail:
        case Verb::rcpt:
        case Verb::data:
        case Verb::bdat:
        case Verb::vrfy:
            return makeReply(530, "5.7.0", "Must issue a STARTTLS command first");
        default:
            return std::nullopt;
    }
}

void Session::dispatch(const SmtpCommand& command, const CommandLine& line) {
    const Verb verb = command.verb;
    if (mustEndGroup(verb) && evbuffer_get_length(input()) > 0) {
        log::info("improper command pipelining after %s from %s", verbName(verb).data(),
                  client().c_str());
        counters_.record(verb, false);
        closeWith(makeReply(554, "5.5.0", "Error: SMTP protocol synchronization"));
        return;
    }
    if (verb != Verb::bdat) {
        if (auto refusal = tlsRequiredRefusal(verb)) {
            answer(*refusal);
            return;
        }
    }
    switch (verb) {
        case Verb::helo:
        case Verb::ehlo:
            onHelo(command, verb == Verb::ehlo);
            break;
        case Verb::mail:
            onMail(command);
            break;
        case Verb::rcpt:
            onRcpt(command);
            break;
        case Verb::data:
            onData(line);
            break;
        case Verb::bdat:
            onBdat(command);
            break;
        case Verb::rset:
            onRset();
            break;
        case Verb::noop:
            answer(makeReply(250, "2.0.0", "Ok"));
            break;
        case Verb::vrfy:
            answer(makeReply(252, "2.0.0", command.argument));
            break;
        case Verb::help:
            answer(makeReply(214, "2.0.0",
                             "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
                             "HELP STARTTLS"));
            break;
        case Verb::quit:
            onQuit();
            break;
        case Verb::starttls:
            onStarttls();
            break;
        case Verb::unknown:
            answer(makeReply(502, "5.5.2", "Error: command not recognized"));
            break;
    }
}

void Session::onHelo(const SmtpCommand& command, bool ehlo) {
    helo_ = collapseBlanks(command.argument);
    resetTransaction();
    greeted_ = true;
    ehlo_ = ehlo;
    answer(ehlo ? ehloReply() : makeReply(250, "", services_.config->myhostname));
}

SmtpReply Session::ehloReply() const {
    const Config& config = *services_.config;
    std::string text = config.myhostname + "\nPIPELINING\nSIZE";
    if (config.message_size_limit > 0) text += " " + std::to_string(config.message_size_limit);
    if (services_.tls && !tlsActive_ && !origin_.local) text += "\nSTARTTLS";
    text += "\nENHANCEDSTATUSCODES\n8BITMIME\nDSN";
    if (config.smtputf8_enable) text += "\nSMTPUTF8";
    text += "\nCHUNKING";
    return makeReply(250, "", text);
}

void Session::onMail(const SmtpCommand& command) {
    if (!greeted_ && services_.config->smtpd.helo_required) {
        answer(makeReply(503, "5.5.1", "Error: send HELO/EHLO first"));
        return;
    }
    if (transaction_) {
        answer(makeReply(503, "5.5.1", "Error: nested MAIL command"));
        return;
    }
    std::optional<SmtpReply> refusal = services_.limits.checkDeclaredSize(command.mail.size);
    if (!refusal && services_.freeSpace) {
        refusal = services_.freeSpace->check(command.mail.size.value_or(0));
    }
    if (refusal) {
        logReject("MAIL", *refusal, {});
        answer(*refusal);
        return;
    }
    Transaction transaction;
    transaction.sender = canonicalAddress(command.path, services_.config->myorigin);
    transaction.params = command.mail;
    transaction_ = std::move(transaction);
    answer(makeReply(250, "2.1.0", "Ok"));
}

void Session::onRcpt(const SmtpCommand& command) {
    if (!transaction_) {
        answer(makeReply(503, "5.5.1", "Error: need MAIL command"));
        return;
    }
    if (transaction_->bdatStarted) {
        answer(makeReply(503, "5.5.1", "Error: RCPT after BDAT"));
        return;
    }
    if (auto refusal = services_.limits.checkRecipientCount(transaction_->recipients.size())) {
        // A client with more recipients than the limit is not misbehaving: it sends the
        // message to those it got, then the rest in another transaction. Its first
        // refusals are no errors (Postfix's smtpd_recipient_overshoot_limit, 1000), or the
        // hard error limit would cut it off (421) every time, before its DATA.
        if (transaction_->overshoot++ < kRecipientOvershootLimit) --errors_;
        answer(*refusal);
        return;
    }
    queue::Recipient recipient;
    recipient.address = canonicalAddress(command.path, services_.config->myorigin);
    if (auto refusal = services_.relay->checkRecipient(recipient.address, origin_.trusted)) {
        logReject("RCPT", *refusal, recipient.address);
        answer(*refusal);
        return;
    }
    if (const auto& orcpt = command.rcpt.orcpt) {
        recipient.orcpt = orcpt->addressType + ";" + orcpt->address;
        if (hasControlCharacter(recipient.orcpt)) {
            answer(makeReply(501, "5.5.4", "Bad ORCPT parameter syntax"));
            return;
        }
    }
    recipient.notify = queueNotifyFlags(command.rcpt.notify);
    transaction_->recipients.push_back(std::move(recipient));
    answer(makeReply(250, "2.1.5", "Ok"));
}

void Session::onRset() {
    resetTransaction();
    answer(makeReply(250, "2.0.0", "Ok"));
}

void Session::onQuit() {
    counters_.record(Verb::quit, true);
    closeWith(makeReply(221, "2.0.0", "Bye"));
}

void Session::resetTransaction() {
    transaction_.reset();
    content_.reset();  // an unfinished message: its temporary file goes
    chunkRefusal_.reset();
}

std::string Session::protocol() const {
    return ehlo_ ? "ESMTP" : "SMTP";
}

void Session::logReject(std::string_view stage, const SmtpReply& reply, std::string_view recipient,
                        std::string_view queueId) {
    std::string name = client();
    std::string proto = protocol();
    RejectContext context;
    context.queueId = queueId;
    context.stage = stage;
    context.client = name;
    context.sender = transaction_ ? &transaction_->sender : nullptr;
    context.recipient = recipient;
    context.protocol = proto;
    context.helo = helo_;
    log::info("%s", rejectLine(context, reply).c_str());
}

}  // namespace postern::smtpd
