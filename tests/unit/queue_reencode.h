// queue_reencode.h: lays a parsed queue message out again the way the writer does, for the
// tests that check the reader keeps every byte's meaning (tests/unit/queue_format_test.cpp
// and tests/fuzz/fuzz_queue_file.cpp). No CppUTest here: the fuzz target includes it too.
#pragma once

#include <string>
#include <string_view>

#include "queue_format.h"
#include "queue_reader.h"

namespace postern::queue::testing {

// The file the writer would make of this message with this content.
inline std::string reencode(const QueueMessage& message, std::string_view content) {
    std::string file = encodeFileHeader();
    appendRecord(file, RecordType::Schedule, encodeSchedule(message.schedule));
    appendRecord(file, RecordType::EnvelopeScalars,
                 encodeEnvelopeScalars(message.envelope, message.contentLength));
    for (RecordType type : kStringRecordTypes)
        appendRecord(file, type, *envelopeString(message.envelope, type));
    for (const QueuedRecipient& queued : message.recipients)
        appendRecord(file, RecordType::Recipient, encodeRecipient(queued.recipient, queued.status));
    appendRecord(file, RecordType::Content, content);
    appendRecord(file, RecordType::End, {});
    return file;
}

}  // namespace postern::queue::testing
