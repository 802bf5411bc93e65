// queue_test_support.cpp: sample envelopes and messages shared by the queue unit tests.
#include "queue_test_support.h"

#include "queue_memory_store.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

namespace postern::queue::testing {

Envelope sampleEnvelope() {
    Envelope envelope;
    envelope.arrivalMicros = 1700000000123456;
    envelope.sender = "sender@example.org";
    envelope.envid = "QQ314159";
    envelope.ret = ReturnContent::Headers;
    envelope.body = BodyType::EightBitMime;
    envelope.smtputf8 = true;
    envelope.client.hostname = "mail.example.org";
    envelope.client.address = "192.0.2.7";
    envelope.client.heloName = "mail.example.org";
    envelope.client.protocol = ClientProtocol::Esmtps;
    envelope.client.tls = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)";
    return envelope;
}

std::vector<Recipient> sampleRecipients() {
    return {
        {"alice@example.com", "rfc822;alice@example.com", kNotifySuccess | kNotifyFailure},
        {"bob@example.net", "", 0},
        {"carol@example.com", "rfc822;c@old.example", kNotifyNever},
    };
}

std::string sampleContent(size_t size) {
    std::string content = "Subject: test\r\n\r\n";
    for (size_t line = 0; content.size() < size; ++line)
        content += "line " + std::to_string(line) + " of the body\r\n";
    content.resize(size);
    return content;
}

std::string storeMessage(QueueStore& store, const std::string& content) {
    auto writer = store.createMessage(sampleEnvelope(), sampleRecipients());
    CHECK_TRUE_TEXT(writer.ok(), writer.ok() ? "" : writer.error().c_str());
    // Several pieces, to exercise the streaming path.
    for (size_t at = 0; at < content.size(); at += 7000) {
        auto appended = writer.value()->appendContent(std::string_view(content).substr(at, 7000));
        CHECK_TRUE(appended.ok());
    }
    auto committed = writer.value()->commit();
    CHECK_TRUE_TEXT(committed.ok(), committed.ok() ? "" : committed.error().c_str());
    return writer.value()->id();
}

std::string sampleFileBytes(const std::string& content) {
    MemoryQueueStore store;
    std::string id = storeMessage(store, content);
    return *store.fileBytes(QueueName::Incoming, id);
}

}  // namespace postern::queue::testing
