// queue_test_support.h: sample envelopes and messages shared by the queue unit tests.
#pragma once

#include <string>
#include <vector>

#include "queue_store.h"

namespace postern::queue::testing {

// An envelope with every field set (non-default values everywhere).
Envelope sampleEnvelope();
// Three recipients with different NOTIFY and ORCPT values.
std::vector<Recipient> sampleRecipients();
// A content of `size` bytes of CRLF lines, starting with a header.
std::string sampleContent(size_t size);
// Writes and commits a message with the sample envelope and recipients; returns its ID
// (fails the running test when anything goes wrong).
std::string storeMessage(QueueStore& store, const std::string& content);
// The bytes of a complete queue file with the sample envelope, recipients and content.
std::string sampleFileBytes(const std::string& content);

}  // namespace postern::queue::testing
