// notices.cpp: delivery status notifications into the queue (see notices.h).
#include "notices.h"

#include <algorithm>

namespace postern::qmgr {

namespace {

bool isAscii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return uint8_t(c) < 0x80; });
}

// The envelope of a notice: null sender, no DSN parameters, made here.
queue::Envelope noticeEnvelope(const dsn::Report& report, const Settings& settings) {
    queue::Envelope envelope;
    envelope.sender = "";
    envelope.body = dsn::bodyTypeOf(report);
    envelope.smtputf8 = !isAscii(report.sender);
    envelope.client.hostname = "localhost";
    envelope.client.address = "127.0.0.1";
    envelope.client.heloName = settings.myhostname;
    envelope.client.protocol = queue::ClientProtocol::Esmtp;
    return envelope;
}

}  // namespace

bool wantsNotice(uint8_t notify, dsn::Kind kind) {
    if (notify & queue::kNotifyNever) return false;
    switch (kind) {
        case dsn::Kind::Failure:
            return notify == 0 || (notify & queue::kNotifyFailure);
        case dsn::Kind::Delay:
            return notify == 0 || (notify & queue::kNotifyDelay);
        case dsn::Kind::Success:
            return (notify & queue::kNotifySuccess) != 0;
    }
    return false;
}

Result<dsn::Report> NoticeWriter::reportFor(queue::MessageHandle& message, dsn::Kind kind,
                                            std::vector<dsn::RecipientReport> recipients,
                                            int64_t nowMicros) {
    const queue::QueueMessage& file = message.message();
    const queue::Envelope& envelope = file.envelope;
    dsn::Report report;
    report.kind = kind;
    report.reportingMta = settings_.myhostname;
    report.queueId = message.id();
    report.sender = envelope.sender;
    report.envid = envelope.envid;
    report.smtputf8 = envelope.smtputf8;
    report.arrivalMicros = envelope.arrivalMicros;
    report.nowMicros = nowMicros;
    report.recipients = std::move(recipients);
    report.returnFull = kind == dsn::Kind::Failure && envelope.ret == queue::ReturnContent::Full;
    report.originalBinary = envelope.body == queue::BodyType::BinaryMime;
    // One byte beyond the limit tells whether anything had to be cut.
    size_t limit = settings_.bounceSizeLimit;
    auto content = message.readContent(0, limit + 1);
    if (!content) return content.failure();
    dsn::Returned returned = dsn::returnedPart(*content, report.returnFull, limit);
    report.original = std::move(returned.bytes);
    report.originalTruncated = returned.truncated;
    return report;
}

Result<std::string> NoticeWriter::write(queue::MessageHandle& message, dsn::Kind kind,
                                        std::vector<dsn::RecipientReport> recipients,
                                        int64_t nowMicros) {
    auto report = reportFor(message, kind, std::move(recipients), nowMicros);
    if (!report) return report.failure();
    std::vector<queue::Recipient> to = {{report->sender, "", 0}};
    auto writer = store_.createMessage(noticeEnvelope(*report, settings_), to);
    if (!writer) return writer.failure();
    report->dsnQueueId = writer.value()->id();
    dsn::Notice notice = dsn::build(*report);
    if (auto appended = writer.value()->appendContent(notice.content); !appended)
        return appended.failure();
    if (auto committed = writer.value()->commit(); !committed) return committed.failure();
    return writer.value()->id();
}

}  // namespace postern::qmgr
