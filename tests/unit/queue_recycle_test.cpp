// queue_recycle_test.cpp: FsQueueStore's reuse of delivered files (queue_recycle.h) on real
// files in a temporary folder: the same inode comes back, old bytes never show, the pool
// stays within its limit, and entries the pool must not trust are left alone.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "queue_fs_store.h"
#include "queue_test_support.h"
#include "test_support.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::queue;
using namespace postern::queue::testing;

namespace {

// The names in a directory but . and .., sorted.
std::vector<std::string> entries(const std::string& path) {
    std::vector<std::string> names;
    DIR* directory = ::opendir(path.c_str());
    CHECK_TRUE(directory != nullptr);
    while (dirent* entry = ::readdir(directory)) {
        std::string name = entry->d_name;
        if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(directory);
    std::sort(names.begin(), names.end());
    return names;
}

// The lstat of a path that must exist.
struct stat statOf(const std::string& path) {
    struct stat status {};
    CHECK_EQUAL_TEXT(0, ::lstat(path.c_str(), &status), path.c_str());
    return status;
}

// Reads a message's whole content back through the store.
std::string contentOf(QueueStore& store, QueueName queue, const std::string& id) {
    auto handle = store.open(queue, id, Access::ReadOnly);
    CHECK_TRUE_TEXT(handle.ok(), handle.ok() ? "" : handle.error().c_str());
    auto content = handle.value()->readContent(0, 1 << 20);
    CHECK_TRUE(content.ok());
    return content.value();
}

// Retires a message that must be retired.
void retireOk(QueueStore& store, QueueName queue, const std::string& id) {
    auto retired = store.retire(queue, id);
    CHECK_TRUE_TEXT(retired.ok(), retired.ok() ? "" : retired.error().c_str());
}

}  // namespace

TEST_GROUP(QueueRecycle) {
    postern::testing::TempDir temp;
    std::string spool;
    std::unique_ptr<FsQueueStore> made;

    // A store on the spool with this recycle limit (the layout made on first use).
    FsQueueStore& store(size_t limit) {
        spool = temp.file("spool");
        made = std::make_unique<FsQueueStore>(spool, limit);
        CHECK_TRUE(made->ensureLayout(kKeepOwner, kKeepGroup).ok());
        return *made;
    }
    std::string path(const std::string& queue, const std::string& name) {
        return spool + "/" + queue + "/" + name;
    }
};

TEST(QueueRecycle, RetiredFileIsReusedForTheNextMessage) {
    FsQueueStore& fs = store(10);
    std::string first = storeMessage(fs, sampleContent(3000));
    ino_t inode = statOf(path("incoming", first)).st_ino;
    retireOk(fs, QueueName::Incoming, first);
    CHECK_EQUAL(1U, entries(spool + "/recycle").size());
    std::string second = storeMessage(fs, sampleContent(3000));
    struct stat reused = statOf(path("incoming", second));
    CHECK_EQUAL(inode, reused.st_ino);
    CHECK_EQUAL(0600U, reused.st_mode & 07777U);
    CHECK_TRUE(entries(spool + "/recycle").empty());
    CHECK_TRUE(entries(spool + "/incoming") == std::vector<std::string>{second});
}

TEST(QueueRecycle, LongerOldContentNeverShows) {
    FsQueueStore& fs = store(10);
    std::string old = storeMessage(fs, sampleContent(50000));
    off_t oldSize = statOf(path("incoming", old)).st_size;
    retireOk(fs, QueueName::Incoming, old);
    std::string shortContent = sampleContent(200);
    std::string reused = storeMessage(fs, shortContent);
    STRCMP_EQUAL(shortContent.c_str(), contentOf(fs, QueueName::Incoming, reused).c_str());
    // Exactly the size a fresh file of the same message has.
    FsQueueStore plain(spool, 0);
    std::string fresh = storeMessage(plain, shortContent);
    off_t reusedSize = statOf(path("incoming", reused)).st_size;
    CHECK_EQUAL(statOf(path("incoming", fresh)).st_size, reusedSize);
    CHECK_TRUE(reusedSize < oldSize);
}

TEST(QueueRecycle, LimitZeroNeverRecycles) {
    FsQueueStore& fs = store(0);
    std::string id = storeMessage(fs, sampleContent(1000));
    retireOk(fs, QueueName::Incoming, id);
    CHECK_TRUE(entries(spool + "/recycle").empty());
    CHECK_TRUE(entries(spool + "/incoming").empty());
}

TEST(QueueRecycle, PoolNeverExceedsItsLimit) {
    FsQueueStore& fs = store(3);
    std::vector<std::string> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(storeMessage(fs, sampleContent(500)));
    for (const std::string& id : ids) retireOk(fs, QueueName::Incoming, id);
    CHECK_TRUE(entries(spool + "/recycle") == (std::vector<std::string>{"R0", "R1", "R2"}));
    CHECK_TRUE(entries(spool + "/incoming").empty());
}

TEST(QueueRecycle, LargeFilesAreNotKept) {
    FsQueueStore& fs = store(10);
    std::string large = storeMessage(fs, sampleContent(300 * 1024));
    std::string small = storeMessage(fs, sampleContent(200 * 1024));
    retireOk(fs, QueueName::Incoming, large);
    retireOk(fs, QueueName::Incoming, small);
    CHECK_EQUAL(1U, entries(spool + "/recycle").size());
    CHECK_TRUE(entries(spool + "/incoming").empty());
}

TEST(QueueRecycle, AbandonedWriterLeavesOnlyATemporary) {
    FsQueueStore& fs = store(10);
    std::string old = storeMessage(fs, sampleContent(2000));
    retireOk(fs, QueueName::Incoming, old);
    {
        auto writer = fs.createMessage(sampleEnvelope(), sampleRecipients());
        CHECK_TRUE(writer.ok());
        CHECK_TRUE(writer.value()->appendContent("Subject: x\r\n\r\nhalf").ok());
        // What a kill at this point would leave: the claimed file under a temporary name.
        CHECK_TRUE(entries(spool + "/recycle").empty());
        std::vector<std::string> incoming = entries(spool + "/incoming");
        CHECK_EQUAL(1U, incoming.size());
        CHECK_TRUE(isTemporaryFileName(incoming[0]));
        auto listed = fs.list(QueueName::Incoming);
        CHECK_TRUE(listed.ok() && listed->empty());
    }
    CHECK_TRUE(entries(spool + "/incoming").empty());
}

TEST(QueueRecycle, UntrustedEntriesAreNotUsed) {
    FsQueueStore& fs = store(4);
    std::string recycle = spool + "/recycle/";
    std::string outside = temp.file("outside");
    CHECK_EQUAL(0, ::close(::open(outside.c_str(), O_WRONLY | O_CREAT, 0644)));
    CHECK_EQUAL(0, ::mkdir((recycle + "R0").c_str(), 0700));
    CHECK_EQUAL(0, ::symlink(outside.c_str(), (recycle + "R1").c_str()));
    CHECK_EQUAL(0, ::mkfifo((recycle + "R2").c_str(), 0600));
    CHECK_EQUAL(0, ::link(outside.c_str(), (recycle + "R3").c_str()));  // two names
    std::string id = storeMessage(fs, sampleContent(100));
    CHECK_TRUE(entries(spool + "/recycle") ==
               (std::vector<std::string>{"R0", "R1", "R2", "R3"}));
    CHECK_TRUE(statOf(outside).st_ino != statOf(path("incoming", id)).st_ino);
    CHECK_EQUAL(0, statOf(outside).st_size);
    CHECK_EQUAL(2U, statOf(outside).st_nlink);
}

TEST(QueueRecycle, ForeignOwnedFileIsNotUsed) {
    if (::geteuid() != 0) return;  // only root can give a file away
    FsQueueStore& fs = store(1);
    std::string foreign = spool + "/recycle/R0";
    CHECK_EQUAL(0, ::close(::open(foreign.c_str(), O_WRONLY | O_CREAT, 0600)));
    CHECK_EQUAL(0, ::chown(foreign.c_str(), 12345, 12345));
    std::string id = storeMessage(fs, sampleContent(100));
    CHECK_TRUE(statOf(foreign).st_ino != statOf(path("incoming", id)).st_ino);
    CHECK_EQUAL(0, statOf(foreign).st_size);
}
