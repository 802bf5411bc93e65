// fuzz_queue_file.cpp: libFuzzer target for lib/queue_reader.h, the strict queue file
// parser (parseQueueFile), and the payload codecs of lib/queue_format.h under it. The input
// is a whole queue file as found on disk (a crash, a full disk or a hostile local user may
// have left anything there).
// Properties: no crash and no read outside the bytes; an error message is printable (it
// is logged as it is); an accepted file passes the checks the writer makes (so nothing the
// writer would refuse reaches qmgr or a DSN), its content lies inside the file and ends
// right before the end record; encoded again the writer's way it parses to the same
// message; every proper prefix of an accepted file is refused (a file cut anywhere can
// never pass for complete).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "queue_format.h"
#include "queue_reader.h"
#include "tests/unit/queue_reencode.h"
#include "text_escape.h"

using namespace postern::queue;
using postern::queue::testing::reencode;

namespace {

bool sameRecipients(const QueueMessage& a, const QueueMessage& b) {
    if (a.recipients.size() != b.recipients.size()) return false;
    for (size_t i = 0; i < a.recipients.size(); ++i) {
        const QueuedRecipient& x = a.recipients[i];
        const QueuedRecipient& y = b.recipients[i];
        if (x.recipient.address != y.recipient.address || x.recipient.orcpt != y.recipient.orcpt ||
            x.recipient.notify != y.recipient.notify || x.status.state != y.status.state ||
            x.status.dsnCode != y.status.dsnCode || x.status.reason != y.status.reason ||
            x.status.lastAttemptMicros != y.status.lastAttemptMicros) {
            return false;
        }
    }
    return true;
}

// What the writer checks before it stores anything holds for what the reader accepted.
void checkValid(const QueueMessage& message, size_t fileSize) {
    FUZZ_CHECK(message.version == kFormatVersion);
    FUZZ_CHECK(message.fileSize == fileSize);
    FUZZ_CHECK(!message.recipients.empty());
    FUZZ_CHECK(message.contentOffset + message.contentLength + kRecordHeaderSize == fileSize);
    FUZZ_CHECK(validateSchedule(message.schedule).ok());
    std::vector<Recipient> recipients;
    for (const QueuedRecipient& queued : message.recipients) {
        FUZZ_CHECK(validateStatus(queued.status).ok());
        FUZZ_CHECK(queued.slotOffset + kStatusSlotSize <= message.contentOffset);
        recipients.push_back(queued.recipient);
    }
    FUZZ_CHECK(validateEnvelope(message.envelope, recipients).ok());
    FUZZ_CHECK(message.scheduleOffset + kSchedulePayloadSize <= message.contentOffset);
}

void checkEncodedAgain(const QueueMessage& message, std::string_view content) {
    const std::string again = reencode(message, content);
    auto reparsed = parseQueueFile(again);
    FUZZ_CHECK(reparsed.ok());
    const QueueMessage& other = reparsed.value();
    FUZZ_CHECK(other.contentLength == message.contentLength);
    FUZZ_CHECK(again.substr(other.contentOffset, other.contentLength) == content);
    FUZZ_CHECK(sameRecipients(message, other));
    for (RecordType type : kStringRecordTypes)
        FUZZ_CHECK(*envelopeString(message.envelope, type) == *envelopeString(other.envelope, type));
    FUZZ_CHECK(reencode(other, content) == again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto parsed = parseQueueFile(bytes);
    if (!parsed) {
        FUZZ_CHECK(!parsed.error().empty());
        FUZZ_CHECK(postern::isPrintable(parsed.error()));  // it goes to the log as it is
        return 0;
    }
    const QueueMessage& message = parsed.value();
    checkValid(message, size);
    checkEncodedAgain(message, bytes.substr(message.contentOffset, message.contentLength));
    for (size_t cut = 0; cut < size; cut += 1 + cut / 16)
        FUZZ_CHECK(!parseQueueFile(bytes.substr(0, cut)).ok());
    return 0;
}
