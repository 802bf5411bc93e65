// session_data.cpp: DATA and BDAT: the queue file is created when content begins, content
// streams into it, and at the end the message is refused or handed to the commit pool;
// the 250 goes out only when the commit (fsync, rename, directory fsync) is done.
#include <ctime>

#include "log.h"
#include "session.h"
#include "tls.h"

namespace postern::smtpd {

namespace {

// How many pieces of the input buffer one pass hands to the content reader.
constexpr int kPeekVectors = 16;

queue::ReturnContent queueReturn(DsnReturn ret) {
    switch (ret) {
        case DsnReturn::full:
            return queue::ReturnContent::Full;
        case DsnReturn::headers:
            return queue::ReturnContent::Headers;
        case DsnReturn::unspecified:
            break;
    }
    return queue::ReturnContent::Unset;
}

queue::BodyType queueBody(BodyType body) {
    switch (body) {
        case BodyType::sevenBit:
            return queue::BodyType::SevenBit;
        case BodyType::eightBitMime:
            return queue::BodyType::EightBitMime;
        case BodyType::binaryMime:
            return queue::BodyType::BinaryMime;
        case BodyType::unspecified:
            break;
    }
    return queue::BodyType::Unspecified;
}

}  // namespace

void Session::onData(const CommandLine& line) {
    std::optional<SmtpReply> refusal;
    if (!transaction_) {
        refusal = makeReply(503, "5.5.1", "Error: need MAIL command");
    } else if (transaction_->bdatStarted) {
        refusal = makeReply(503, "5.5.1", "Error: DATA after BDAT");
    } else if (transaction_->recipients.empty()) {
        refusal = makeReply(503, "5.5.1", "Error: need RCPT command");
    }
    if (refusal) {
        answer(*refusal);
        return;
    }
    openQueueFile(DataReader::forData(dataOptions(), line.crlf));  // then 354
}

void Session::onBdat(const SmtpCommand& command) {
    chunkSize_ = command.chunkSize;
    chunkRemaining_ = command.chunkSize;
    chunkLast_ = command.lastChunk;
    // Whatever the verdict, the chunk's bytes are read (and maybe dropped) before it.
    std::optional<SmtpReply> refusal = tlsRequiredRefusal(Verb::bdat);
    if (!refusal && !transaction_) {
        refusal = makeReply(503, "5.5.1", "Error: need MAIL command");
    } else if (!refusal && transaction_->recipients.empty()) {
        refusal = makeReply(503, "5.5.1", "Error: need RCPT command");
    }
    chunkRefusal_ = std::move(refusal);
    if (!chunkRefusal_) transaction_->bdatStarted = true;
    if (!chunkRefusal_ && !content_) {
        openQueueFile(DataReader::forBdat(dataOptions()));  // then the chunk
        return;
    }
    setState(SessionState::Chunk);
}

DataOptions Session::dataOptions() const {
    const Config& config = *services_.config;
    DataOptions options;
    options.bareNewline = config.smtpd.forbid_bare_newline == SmtpdConfig::BareNewline::Reject
                              ? BareNewlinePolicy::reject
                              : BareNewlinePolicy::normalize;
    options.messageSizeLimit = uint64_t(std::max<int64_t>(0, config.message_size_limit));
    options.lineLengthLimit = size_t(std::max(0, config.line_length_limit));
    options.headerSizeLimit = size_t(std::max<int64_t>(0, config.header_size_limit));
    return options;
}

// Asks the pool for the transaction's queue file; input waits meanwhile (Opening).
void Session::openQueueFile(DataReader reader) {
    openingReader_.emplace(std::move(reader));
    poolPending_ = true;
    setState(SessionState::Opening);
    services_.commits->open(envelope(), transaction_->recipients,
                            [this](Result<std::unique_ptr<queue::MessageWriter>> writer) {
                                onQueueFileOpened(std::move(writer));
                            });
}

void Session::onQueueFileOpened(Result<std::unique_ptr<queue::MessageWriter>> writer) {
    poolPending_ = false;
    DataReader reader = std::move(*openingReader_);
    openingReader_.reset();
    if (state_ != SessionState::Opening) {
        finishIfDone();  // the client went away meanwhile; the writer drops its file
        return;
    }
    const bool bdat = currentVerb_ == Verb::bdat;
    if (!writer) {
        log::warning("cannot create a queue file: %s", writer.error().c_str());
        SmtpReply refusal = makeReply(451, "4.3.0", "Error: queue file write error");
        if (bdat) {
            chunkRefusal_ = refusal;  // the chunk still has to be read
            setState(SessionState::Chunk);
        } else {
            setState(SessionState::Commands);
            answer(refusal);
        }
        drive();
        return;
    }
    const std::string id = writer.value()->id();
    log::info("%s: client=%s", id.c_str(), client().c_str());
    if (origin_.local)
        log::info("%s: uid=%ld from=<%s>", id.c_str(), origin_.uid, transaction_->sender.c_str());
    const Config& config = *services_.config;
    ContentPolicy policy;
    policy.data = dataOptions();
    policy.hopcountLimit = config.hopcount_limit;
    policy.addMissingHeaders = origin_.local;
    policy.myhostname = config.myhostname;
    policy.arrival = time(nullptr);
    content_ = std::make_unique<MessageContent>(std::move(writer.value()), std::move(reader),
                                                std::move(policy), receivedLine(id));
    if (!bdat) answer(makeReply(354, "", "End data with <CR><LF>.<CR><LF>"));
    setState(bdat ? SessionState::Chunk : SessionState::Data);
    drive();
}

queue::Envelope Session::envelope() const {
    queue::Envelope envelope;
    envelope.sender = transaction_->sender;
    envelope.envid = transaction_->params.envid.value_or("");
    envelope.ret = queueReturn(transaction_->params.ret);
    envelope.body = queueBody(transaction_->params.body);
    envelope.smtputf8 = transaction_->params.smtputf8;
    envelope.client.hostname = origin_.hostname;
    envelope.client.address = origin_.address;
    envelope.client.heloName = helo_;
    envelope.client.protocol = clientProtocol(ehlo_, tlsActive_);
    envelope.client.tls = tlsSummary_;
    return envelope;
}

std::string Session::receivedLine(const std::string& queueId) const {
    ReceivedInfo info;
    info.myhostname = services_.config->myhostname;
    info.queueId = queueId;
    info.when = time(nullptr);
    info.heloName = helo_;
    info.clientHost = origin_.hostname;
    info.clientAddress = origin_.address;
    info.protocol = protocolName(ehlo_, tlsActive_, transaction_->params.smtputf8);
    info.tls = tlsSummary_;
    if (transaction_->recipients.size() == 1) info.recipient = transaction_->recipients[0].address;
    info.local = origin_.local;
    info.uid = origin_.uid;
    return receivedHeader(info);
}

bool Session::readData() {
    evbuffer* in = input();
    while (state_ == SessionState::Data) {
        if (evbuffer_get_length(in) == 0) return true;
        evbuffer_iovec vectors[kPeekVectors];
        int count = std::min(evbuffer_peek(in, -1, nullptr, vectors, kPeekVectors), kPeekVectors);
        size_t used = 0;
        bool ended = false;
        for (int i = 0; i < count && !ended; ++i) {
            std::string_view piece(static_cast<const char*>(vectors[i].iov_base),
                                   vectors[i].iov_len);
            used += content_->feed(piece);
            ended = content_->finished();
        }
        evbuffer_drain(in, used);
        if (ended) endOfMessage();
    }
    return false;
}

bool Session::readChunk() {
    evbuffer* in = input();
    while (state_ == SessionState::Chunk) {
        if (chunkRemaining_ == 0) {
            chunkDone();
            return false;
        }
        if (evbuffer_get_length(in) == 0) return true;
        evbuffer_iovec vectors[kPeekVectors];
        int count = std::min(evbuffer_peek(in, -1, nullptr, vectors, kPeekVectors), kPeekVectors);
        size_t used = 0;
        for (int i = 0; i < count && chunkRemaining_ > 0; ++i) {
            size_t take = size_t(std::min<uint64_t>(vectors[i].iov_len, chunkRemaining_));
            if (!chunkRefusal_) {
                content_->feed(
                    std::string_view(static_cast<const char*>(vectors[i].iov_base), take));
            }
            chunkRemaining_ -= take;
            used += take;
        }
        evbuffer_drain(in, used);
    }
    return false;
}

void Session::chunkDone() {
    setState(SessionState::Commands);
    if (chunkRefusal_) {
        SmtpReply refusal = *chunkRefusal_;
        chunkRefusal_.reset();
        answer(refusal);
        return;
    }
    if (content_->failedEarly()) {
        // Too big already: refuse now; the client's later chunks find no transaction.
        endOfMessage();
        return;
    }
    if (!chunkLast_) {
        answer(makeReply(250, "2.0.0", "Ok: " + std::to_string(chunkSize_) + " bytes"));
        return;
    }
    content_->finishChunks();
    endOfMessage();
}

void Session::endOfMessage() {
    const std::string id = content_->queueId();
    if (std::optional<SmtpReply> refusal = content_->rejection()) {
        if (!content_->writeError().empty())
            log::warning("%s: queue file write error: %s", id.c_str(),
                         content_->writeError().c_str());
        logReject("END-OF-MESSAGE", *refusal, {}, id);
        resetTransaction();
        if (state_ != SessionState::Commands) setState(SessionState::Commands);
        answer(*refusal);
        return;
    }
    std::string messageId = content_->messageId();
    log::info("%s: message-id=%s", id.c_str(), messageId.empty() ? "<>" : messageId.c_str());
    setState(SessionState::Committing);  // input waits in the buffer meanwhile
    poolPending_ = true;
    services_.commits->submit(content_->takeWriter(),
                              [this](Status outcome) { onCommitted(std::move(outcome)); });
}

void Session::onCommitted(Status outcome) {
    poolPending_ = false;
    const std::string id = content_->queueId();
    SmtpReply reply;
    if (outcome) {
        if (services_.notifier) services_.notifier->notify(id);
        errors_ = 0;  // Postfix's error limits count errors "without delivering mail"
        reply = makeReply(250, "2.0.0", "Ok: queued as " + id);
    } else {
        log::warning("%s: cannot queue the message: %s", id.c_str(), outcome.error().c_str());
        reply = makeReply(451, "4.3.0", "Error: queue file write error");
    }
    content_.reset();
    transaction_.reset();
    if (state_ == SessionState::Closed) {
        finishIfDone();  // the client left after its end of data; the message is queued
        return;
    }
    if (state_ == SessionState::Closing) return;  // a timeout ended the session meanwhile
    setState(SessionState::Commands);
    answer(reply);
    if (state_ == SessionState::Commands) becameIdle();
}

}  // namespace postern::smtpd
