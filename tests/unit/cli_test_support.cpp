// cli_test_support.cpp: planting messages for the CLI unit tests (see cli_test_support.h).
#include "cli_test_support.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "queue_fs_store.h"
#include "queue_id.h"
#include "queue_memory_store.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

namespace postern::cli::testing {

using namespace postern::queue;

namespace {

void check(const Status& status) { CHECK_TRUE_TEXT(status.ok(), status.error().c_str()); }

// The bytes of a complete queue file for the message (written through a scratch store).
std::string fileBytesFor(const PlantedMessage& message) {
    MemoryQueueStore scratch;
    auto writer = scratch.createMessage(message.envelope, message.recipients);
    CHECK_TRUE_TEXT(writer.ok(), writer.ok() ? "" : writer.error().c_str());
    check(writer.value()->appendContent(message.content));
    check(writer.value()->commit());
    auto bytes = scratch.fileBytes(QueueName::Incoming, writer.value()->id());
    CHECK_TRUE(bytes.has_value());
    return *bytes;
}

}  // namespace

void plantMessage(QueueStore& store, const PlantedMessage& message) {
    std::string bytes = fileBytesFor(message);
    if (auto* memory = dynamic_cast<MemoryQueueStore*>(&store)) {
        memory->putFile(message.queue, message.id, bytes);
    } else if (auto* files = dynamic_cast<FsQueueStore*>(&store)) {
        std::string path = files->queuePath(message.queue) + "/" + message.id;
        std::FILE* out = std::fopen(path.c_str(), "wx");
        CHECK_TRUE_TEXT(out != nullptr, path.c_str());
        CHECK_EQUAL(bytes.size(), std::fwrite(bytes.data(), 1, bytes.size(), out));
        std::fclose(out);
    } else {
        FAIL("plantMessage: unknown queue store");
    }
    auto handle = store.open(message.queue, message.id, Access::ReadWrite);
    CHECK_TRUE_TEXT(handle.ok(), handle.ok() ? "" : handle.error().c_str());
    for (size_t i = 0; i < message.statuses.size(); ++i)
        check(handle.value()->updateRecipient(i, message.statuses[i]));
    check(handle.value()->updateSchedule(message.schedule));
}

std::string testQueueId(int n) {
    return makeQueueId(int64_t(1754000000000000) + n * int64_t(1000000), 4242, 0);
}

UtcZone::UtcZone() {
    if (const char* zone = std::getenv("TZ")) {
        previous_ = zone;
        hadPrevious_ = true;
    }
    setenv("TZ", "UTC", 1);
    tzset();
}

UtcZone::~UtcZone() {
    if (hadPrevious_) {
        setenv("TZ", previous_.c_str(), 1);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

}  // namespace postern::cli::testing
