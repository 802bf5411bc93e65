// message_content.h: one message on its way into the queue, from the bytes a client sends
// after DATA (or in BDAT chunks) to a MessageWriter ready to commit. It chains the smuggling-
// proof DataReader (lib/smtp_data.h), the HeaderScanner and the queue writer: smtpd's
// Received: line first, then the content as the client sent it, with Date: and Message-ID:
// added at the end of the header section for local submissions that lack them. It decides
// at the end whether the message may be queued (size, bare newlines, header size, hops,
// write errors). Content streams to the queue file; nothing keeps a whole message.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "message_headers.h"
#include "queue_writer.h"
#include "smtp_data.h"
#include "smtp_reply.h"

namespace postern::smtpd {

struct ContentPolicy {
    DataOptions data;                // bare newlines, message_size_limit, line and header limits
    int hopcountLimit = 50;          // more Received: lines than this: refused
    bool addMissingHeaders = false;  // local submissions: Date: and Message-ID: when missing
    std::string myhostname;          // for an added Message-ID:
    time_t arrival = 0;              // for an added Date: and Message-ID:
};

class MessageContent {
  public:
    // A header line held back longer than this is written as it is.
    static constexpr size_t kMaxHeldLine = 64 * 1024;

    // A message whose envelope is in `writer`, read by `reader` (forData or forBdat);
    // `prefix` (the Received: line) is written before the client's content.
    MessageContent(std::unique_ptr<queue::MessageWriter> writer, DataReader reader,
                   ContentPolicy policy, std::string_view prefix);

    // Reads bytes from the client; returns how many it used. DATA stops after the end
    // sequence (what follows is the next command); BDAT uses everything given.
    size_t feed(std::string_view wire);
    // BDAT: the LAST chunk is in; the content is complete.
    void finishChunks();
    // True once the content is complete.
    bool finished() const { return finished_; }

    // The refusal to send at the end, or nothing when the message may be committed.
    std::optional<SmtpReply> rejection() const;
    // True when the content already cannot be accepted (e.g. too big): a BDAT sequence
    // can be refused at once instead of at its LAST chunk.
    bool failedEarly() const { return writeFailed_ || reader_.stats().tooBig; }
    // Why writing to the queue file failed ("" when it did not), for the log.
    const std::string& writeError() const { return writeError_; }

    // Hands the writer over to be committed; the content must be finished and accepted.
    std::unique_ptr<queue::MessageWriter> takeWriter();

    const std::string& queueId() const { return queueId_; }
    // The Message-ID for the log: the message's own, the one added, or "" (none).
    std::string messageId() const;
    const HeaderScanner& headers() const { return scanner_; }
    const ContentStats& stats() const { return reader_.stats(); }
    // Bytes of content written, our own header lines included.
    uint64_t size() const { return writer_ ? writer_->contentSize() : committedSize_; }

  private:
    // Takes content the reader produced: scans it and writes it, adding headers if due.
    void store(std::string_view content);
    void write(std::string_view bytes);
    // Date: and Message-ID: lines the message lacks (local submissions only).
    std::string missingHeaders() const;
    // Writes `piece` with the missing header lines at offset `at`.
    void insertMissingHeaders(std::string_view piece, size_t at);
    // The content is complete: settles the header section.
    void complete();

    std::unique_ptr<queue::MessageWriter> writer_;
    DataReader reader_;
    ContentPolicy policy_;
    HeaderScanner scanner_;
    std::string queueId_;
    std::string scratch_;  // the reader's output for one feed, reused
    std::string held_;     // local submissions: a header line not complete yet
    bool finished_ = false;
    bool writeFailed_ = false;
    bool lastByteWasNewline_ = true;
    std::string writeError_;
    uint64_t committedSize_ = 0;
};

}  // namespace postern::smtpd
