// queue_show.cpp: one message in full for `postern queue show` (see queue_show.h).
#include "queue_show.h"

#include <ctime>
#include <string>

#include "header_fields.h"
#include "queue_listing.h"
#include "text_escape.h"

namespace postern::cli {

using queue::QueueMessage;

namespace {

constexpr size_t kContentChunk = 64 * 1024;

// "Thu Jul 31 22:13:21 2025" in local time.
std::string timeText(int64_t micros) {
    time_t when = static_cast<time_t>(micros / 1000000);
    std::tm parts{};
    char text[40] = "??";
    if (localtime_r(&when, &parts)) std::strftime(text, sizeof text, "%a %b %e %H:%M:%S %Y", &parts);
    return text;
}

// A line of content for a terminal: escaped like a log line, but tabs kept.
std::string displayLine(std::string_view line) {
    std::string out;
    for (size_t start = 0;;) {
        size_t tab = line.find('\t', start);
        out += printable(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
        if (tab == std::string_view::npos) return out;
        out += '\t';
        start = tab + 1;
    }
}

const char* stateName(queue::RecipientState state) {
    switch (state) {
        case queue::RecipientState::Pending:
            return "pending";
        case queue::RecipientState::Deferred:
            return "deferred";
        case queue::RecipientState::Delivered:
            return "delivered";
        case queue::RecipientState::Failed:
            return "failed (bounce not yet sent)";
        case queue::RecipientState::Bounced:
            return "bounced";
    }
    return "?";
}

std::string notifyText(uint8_t notify) {
    if (notify == 0) return "";
    if (notify & queue::kNotifyNever) return "NEVER";
    std::string text;
    if (notify & queue::kNotifySuccess) text += "SUCCESS,";
    if (notify & queue::kNotifyFailure) text += "FAILURE,";
    if (notify & queue::kNotifyDelay) text += "DELAY,";
    if (!text.empty()) text.pop_back();
    return text;
}

const char* protocolName(queue::ClientProtocol protocol) {
    switch (protocol) {
        case queue::ClientProtocol::Smtp:
            return "SMTP";
        case queue::ClientProtocol::Esmtp:
            return "ESMTP";
        case queue::ClientProtocol::Esmtps:
            return "ESMTPS";
    }
    return "?";
}

void field(std::FILE* out, const char* name, const std::string& value) {
    std::fprintf(out, "%s: %s\n", name, printable(value).c_str());
}

void printEnvelope(queue::QueueName queue, const std::string& id, const QueueMessage& message,
                   std::FILE* out) {
    const auto& envelope = message.envelope;
    std::fprintf(out, "*** ENVELOPE ***\n");
    field(out, "queue_id", id);
    field(out, "queue_name", queueLabel(queue));
    field(out, "arrival_time", timeText(envelope.arrivalMicros));
    field(out, "message_size", std::to_string(message.contentLength));
    field(out, "sender", envelope.sender.empty() ? "<> (MAILER-DAEMON)" : envelope.sender);
    field(out, "client", envelope.client.hostname + "[" + envelope.client.address + "], helo=" +
                             envelope.client.heloName + ", " +
                             protocolName(envelope.client.protocol));
    if (!envelope.client.tls.empty()) field(out, "tls", envelope.client.tls);
    if (!envelope.envid.empty()) field(out, "envid", envelope.envid);
    if (envelope.ret != queue::ReturnContent::Unset)
        field(out, "ret", envelope.ret == queue::ReturnContent::Full ? "FULL" : "HDRS");
    static const char* const kBodyNames[] = {"", "7BIT", "8BITMIME", "BINARYMIME"};
    if (envelope.body != queue::BodyType::Unspecified)
        field(out, "body", kBodyNames[static_cast<int>(envelope.body)]);
    if (envelope.smtputf8) field(out, "smtputf8", "yes");
    field(out, "next_attempt", message.schedule.nextAttemptMicros == 0
                                   ? "as soon as possible"
                                   : timeText(message.schedule.nextAttemptMicros));
    field(out, "attempts", std::to_string(message.schedule.attempts));
    for (const auto& recipient : message.recipients) {
        std::string line = recipient.recipient.address;
        if (!recipient.recipient.orcpt.empty()) line += " orcpt=" + recipient.recipient.orcpt;
        if (recipient.recipient.notify) line += " notify=" + notifyText(recipient.recipient.notify);
        field(out, "recipient", line);
        std::string status = stateName(recipient.status.state);
        if (!recipient.status.dsnCode.empty()) status += ", dsn=" + recipient.status.dsnCode;
        if (recipient.status.lastAttemptMicros)
            status += ", last attempt " + timeText(recipient.status.lastAttemptMicros);
        if (!recipient.status.reason.empty()) status += ": " + recipient.status.reason;
        field(out, "  status", status);
    }
}

// Streams the content, line by line, switching from the header to the body at the first
// empty line and printing only the parts asked for.
class ContentPrinter {
public:
    ContentPrinter(const ShowParts& parts, std::FILE* out) : parts_(parts), out_(out) {}

    void feed(std::string_view bytes) {
        for (char c : bytes) {
            if (c != '\n') {
                line_ += c;
                continue;
            }
            if (!line_.empty() && line_.back() == '\r') line_.pop_back();
            emitLine();
        }
    }

    void finish() {
        if (!line_.empty()) emitLine();
        if (inHeader_ && parts_.body) std::fprintf(out_, "*** BODY ***\n");
    }

private:
    void emitLine() {
        // The header ends at an empty line, or at the first line that cannot be part of it.
        if (inHeader_) {
            bool partOfHeader = !headerFieldName(line_).empty() ||
                                (sawField_ && isHeaderContinuation(line_));
            sawField_ = sawField_ || partOfHeader;
            if (!partOfHeader) {
                inHeader_ = false;
                if (parts_.body) std::fprintf(out_, "*** BODY ***\n");
                if (line_.empty()) return;  // the separator itself is not shown
            }
        }
        if (inHeader_ ? parts_.headers : parts_.body)
            std::fprintf(out_, "%s\n", displayLine(line_).c_str());
        line_.clear();
    }

    const ShowParts& parts_;
    std::FILE* out_;
    std::string line_;
    bool inHeader_ = true;
    bool sawField_ = false;
};

}  // namespace

Status showMessage(queue::QueueName queue, queue::MessageHandle& message, const ShowParts& parts,
                   std::FILE* out) {
    if (parts.envelope) printEnvelope(queue, message.id(), message.message(), out);
    if (!parts.headers && !parts.body) return {};
    if (parts.headers) std::fprintf(out, "*** HEADERS ***\n");
    ContentPrinter printer(parts, out);
    uint64_t length = message.message().contentLength;
    for (uint64_t offset = 0; offset < length; offset += kContentChunk) {
        auto chunk = message.readContent(offset, kContentChunk);
        if (!chunk) return chunk.failure();
        printer.feed(chunk.value());
    }
    printer.finish();
    return {};
}

}  // namespace postern::cli
