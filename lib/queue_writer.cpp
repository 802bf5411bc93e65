// queue_writer.cpp: the streaming queue file writer and its commit steps.
#include "queue_writer.h"

#include <cstdio>
#include <cstdlib>

#include "queue_format.h"
#include "queue_id.h"

namespace postern::queue {

namespace {

// Content is handed to the sink in pieces of about this size.
constexpr size_t kFlushThreshold = 64 * 1024;

const char* stateName(int state) {
    static const char* const names[] = {"writing", "synced", "published", "failed"};
    return names[state];
}

}  // namespace

MessageWriter::MessageWriter(std::string id, std::unique_ptr<QueueFileSink> sink)
    : id_(std::move(id)), sink_(std::move(sink)) {}

Result<std::unique_ptr<MessageWriter>> MessageWriter::begin(
    std::string id, Envelope envelope, const std::vector<Recipient>& recipients,
    std::unique_ptr<QueueFileSink> sink) {
    if (!isValidQueueId(id)) return fail("not a queue ID: " + id);
    if (envelope.arrivalMicros == 0) envelope.arrivalMicros = *queueIdArrivalMicros(id);
    if (auto ok = validateEnvelope(envelope, recipients); !ok) {
        sink->discard();
        return ok.failure();
    }
    std::unique_ptr<MessageWriter> writer(new MessageWriter(std::move(id), std::move(sink)));
    EncodedPrefix prefix = encodeMessagePrefix(envelope, recipients);
    writer->messageSizeOffset_ = prefix.messageSizeOffset;
    writer->contentLengthOffset_ = prefix.contentLengthOffset;
    writer->buffer_ = std::move(prefix.bytes);
    return writer;
}

MessageWriter::~MessageWriter() {
    if (state_ != State::Published) sink_->discard();
}

void MessageWriter::requireState(State expected, const char* operation) const {
    if (state_ == expected || state_ == State::Failed) return;
    std::fprintf(stderr, "postern: bug: MessageWriter::%s on a %s writer (%s)\n", operation,
                 stateName(int(state_)), id_.c_str());
    std::abort();
}

Status MessageWriter::failWith(Status status) {
    state_ = State::Failed;
    failure_ = status.error();
    return status;
}

Status MessageWriter::flush() {
    if (buffer_.empty()) return {};
    Status written = sink_->append(buffer_);
    buffer_.clear();
    return written;
}

Status MessageWriter::appendContent(std::string_view bytes) {
    requireState(State::Writing, "appendContent");
    if (state_ == State::Failed) return fail(failure_);
    if (bytes.size() > kMaxContentLength - contentSize_)
        return failWith(fail("message content larger than the queue file format allows"));
    contentSize_ += bytes.size();
    buffer_.append(bytes);
    if (buffer_.size() < kFlushThreshold) return {};
    if (auto ok = flush(); !ok) return failWith(ok);
    return {};
}

Status MessageWriter::writeAndSync() {
    requireState(State::Writing, "writeAndSync");
    if (state_ == State::Failed) return fail(failure_);
    std::string contentLength, messageSize;
    appendU32(contentLength, uint32_t(contentSize_));
    appendU64(messageSize, contentSize_);
    // The END record goes out only after both sizes are patched, so no crash can leave a
    // file that ends properly but holds the placeholders.
    std::string end;
    appendRecord(end, RecordType::End, {});
    Status ok = flush();
    if (ok) ok = sink_->patch(contentLengthOffset_, contentLength);
    if (ok) ok = sink_->patch(messageSizeOffset_, messageSize);
    if (ok) ok = sink_->append(end);
    if (ok) ok = sink_->sync();
    if (!ok) return failWith(ok);
    state_ = State::Synced;
    return {};
}

Status MessageWriter::publish() {
    requireState(State::Synced, "publish");
    if (state_ == State::Failed) return fail(failure_);
    if (auto ok = sink_->publish(id_); !ok) return failWith(ok);
    state_ = State::Published;
    return {};
}

Status MessageWriter::syncDirectory() {
    requireState(State::Published, "syncDirectory");
    if (state_ == State::Failed) return fail(failure_);
    // A failed directory sync leaves the file in place: the caller must not say 250, but the
    // message is already visible to qmgr, so the writer stays published.
    return sink_->syncDirectory();
}

Status MessageWriter::commit() {
    if (auto ok = writeAndSync(); !ok) return ok;
    if (auto ok = publish(); !ok) return ok;
    return syncDirectory();
}

}  // namespace postern::queue
