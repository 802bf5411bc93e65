// message_content.cpp: reader → header scanner → queue writer, and the end-of-data verdict.
#include "message_content.h"

#include "log.h"

namespace postern::smtpd {

MessageContent::MessageContent(std::unique_ptr<queue::MessageWriter> writer, DataReader reader,
                               ContentPolicy policy, std::string_view prefix)
    : writer_(std::move(writer)), reader_(std::move(reader)), policy_(std::move(policy)) {
    if (!writer_) log::panic("MessageContent without a writer");
    queueId_ = writer_->id();
    write(prefix);
}

size_t MessageContent::feed(std::string_view wire) {
    if (finished_) return 0;
    scratch_.clear();
    size_t used = reader_.feed(wire, scratch_);
    if (!scratch_.empty()) store(scratch_);
    if (reader_.finished()) complete();
    // A large piece leaves a large scratch buffer behind; idle messages should not keep it.
    if (scratch_.capacity() > 64 * 1024) std::string().swap(scratch_);
    return used;
}

void MessageContent::finishChunks() {
    if (finished_) return;
    scratch_.clear();
    reader_.finish(scratch_);
    if (!scratch_.empty()) store(scratch_);
    complete();
}

void MessageContent::store(std::string_view content) {
    lastByteWasNewline_ = content.back() == '\n';
    if (scanner_.headerEnded()) {
        write(content);
        return;
    }
    if (!policy_.addMissingHeaders) {
        scanner_.feed(content);
        write(content);
        return;
    }
    // Lines must be whole before they are written: the added headers may have to go
    // before a line only its end shows to be a body line.
    held_.append(content);
    size_t ready = held_.rfind('\n');
    ready = ready == std::string::npos ? 0 : ready + 1;
    if (ready == 0 && held_.size() >= kMaxHeldLine) ready = held_.size();  // a monster line
    if (ready == 0) return;
    std::string_view piece(held_.data(), ready);
    if (std::optional<size_t> end = scanner_.feed(piece)) {
        insertMissingHeaders(piece, *end);
    } else {
        write(piece);
    }
    held_.erase(0, ready);
    if (scanner_.headerEnded() && !held_.empty()) {
        write(held_);
        std::string().swap(held_);
    }
}

void MessageContent::insertMissingHeaders(std::string_view piece, size_t at) {
    write(piece.substr(0, at));
    write(missingHeaders());
    if (!scanner_.headerEnd().blankSeparator) write("\r\n");  // keep the body a body
    write(piece.substr(at));
}

void MessageContent::complete() {
    finished_ = true;
    if (scanner_.headerEnded()) return;
    if (!policy_.addMissingHeaders) {
        (void)scanner_.finish();
        return;
    }
    // What is held is a last line without a line end.
    std::string last = std::move(held_);
    uint64_t lastStart = scanner_.streamOffset();
    scanner_.feed(last);
    std::optional<HeaderEnd> end = scanner_.finish();
    size_t at = end ? size_t(end->offset - lastStart) : last.size();
    if (at < last.size()) {
        insertMissingHeaders(last, at);  // the last line is a body line
        return;
    }
    // The header section runs to the very end: the lines go there.
    write(last);
    if (!lastByteWasNewline_) write("\r\n");
    write(missingHeaders());
}

std::string MessageContent::missingHeaders() const {
    std::string lines;
    if (!scanner_.sawDate()) lines += dateHeader(policy_.arrival);
    if (!scanner_.sawMessageId())
        lines += messageIdHeader(policy_.arrival, queueId_, policy_.myhostname);
    return lines;
}

std::string MessageContent::messageId() const {
    if (scanner_.sawMessageId()) return scanner_.messageId();
    if (policy_.addMissingHeaders)
        return newMessageId(policy_.arrival, queueId_, policy_.myhostname);
    return {};
}

void MessageContent::write(std::string_view bytes) {
    if (writeFailed_ || bytes.empty() || reader_.stats().tooBig) return;
    if (Status ok = writer_->appendContent(bytes); !ok) {
        writeFailed_ = true;
        writeError_ = ok.error();
    }
}

std::optional<SmtpReply> MessageContent::rejection() const {
    if (writeFailed_) return makeReply(451, "4.3.0", "Error: queue file write error");
    if (auto refused = reader_.rejection()) return refused;
    if (reader_.stats().headerTooBig)
        return makeReply(552, "5.3.4", "Error: message header size exceeds limit");
    if (scanner_.receivedCount() > policy_.hopcountLimit)
        return makeReply(554, "5.4.0", "Error: too many hops");
    return std::nullopt;
}

std::unique_ptr<queue::MessageWriter> MessageContent::takeWriter() {
    if (!finished_ || rejection())
        log::panic("%s: commit of an unfinished or refused message", queueId_.c_str());
    committedSize_ = writer_->contentSize();
    return std::move(writer_);
}

}  // namespace postern::smtpd
