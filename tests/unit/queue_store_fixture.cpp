// queue_store_fixture.cpp: the filesystem and in-memory fixtures of the QueueStore tests.
#include "queue_store_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "queue_id.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

namespace postern::queue::testing {

namespace {

// nftw callback: removes one entry (children come first with FTW_DEPTH).
int removeEntry(const char* path, const struct stat*, int, struct FTW*) {
    return ::remove(path);
}

}  // namespace

std::optional<std::string> readWholeFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

FsStoreFixture::FsStoreFixture() {
    char templ[] = "/tmp/postern-queue-test-XXXXXX";
    CHECK_TRUE(::mkdtemp(templ) != nullptr);
    directory_ = templ;
    store_ = std::make_unique<FsQueueStore>(directory_ + "/spool");
    auto made = store_->ensureLayout(kKeepOwner, kKeepGroup);
    CHECK_TRUE_TEXT(made.ok(), made.ok() ? "" : made.error().c_str());
}

FsStoreFixture::~FsStoreFixture() {
    ::nftw(directory_.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS);
}

void FsStoreFixture::plantFile(QueueName queue, const std::string& name, const std::string& bytes,
                               int ageSeconds) {
    std::string path = store_->queuePath(queue) + "/" + name;
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << bytes;
        CHECK_TRUE(out.good());
    }
    timespec times[2];
    ::clock_gettime(CLOCK_REALTIME, &times[0]);
    times[0].tv_sec -= ageSeconds;
    times[1] = times[0];
    CHECK_EQUAL(0, ::utimensat(AT_FDCWD, path.c_str(), times, 0));
}

std::optional<std::string> FsStoreFixture::rawFile(QueueName queue, const std::string& name) {
    return readWholeFile(store_->queuePath(queue) + "/" + name);
}

MemoryStoreFixture::MemoryStoreFixture()
    : now_(realtimeMicros()), store_([this] { return now_; }) {}

void MemoryStoreFixture::plantFile(QueueName queue, const std::string& name,
                                   const std::string& bytes, int ageSeconds) {
    int64_t realNow = now_;
    now_ -= int64_t(ageSeconds) * 1000000;
    store_.putFile(queue, name, bytes);
    now_ = realNow;
}

std::optional<std::string> MemoryStoreFixture::rawFile(QueueName queue, const std::string& name) {
    return store_.fileBytes(queue, name);
}

}  // namespace postern::queue::testing
