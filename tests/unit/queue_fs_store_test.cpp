// queue_fs_store_test.cpp: what only the filesystem queue backend has: the directory
// layout and its modes and owners, file modes, temporary names, descriptors, odd files.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "queue_id.h"
#include "queue_store_fixture.h"
#include "queue_test_support.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::queue;
using namespace postern::queue::testing;

namespace {

// The stat of a path, without following a symlink (the test fails if it is missing).
struct stat statOf(const std::string& path) {
    struct stat status {};
    CHECK_EQUAL_TEXT(0, ::lstat(path.c_str(), &status), path.c_str());
    return status;
}

// The permission bits of a path.
unsigned modeOf(const std::string& path) { return statOf(path).st_mode & 07777; }

}  // namespace

TEST_GROUP(QueueFsStore) {
    std::unique_ptr<FsStoreFixture> fixture;
    void setup() override { fixture = std::make_unique<FsStoreFixture>(); }
    void teardown() override { fixture.reset(); }
    FsQueueStore& store() { return fixture->fsStore(); }
};

TEST(QueueFsStore, LayoutHasTheContractNamesAndModes) {
    const std::string& root = store().root();
    for (const char* queue : {"incoming", "active", "deferred", "hold", "corrupt", "private"}) {
        CHECK_TRUE(S_ISDIR(statOf(root + "/" + queue).st_mode));
        LONGS_EQUAL(0700, modeOf(root + "/" + queue));
    }
    LONGS_EQUAL(0755, modeOf(root + "/public"));
    LONGS_EQUAL(0755, modeOf(root + "/pid"));
    STRCMP_EQUAL((root + "/deferred").c_str(), store().queuePath(QueueName::Deferred).c_str());
    CHECK_TRUE(queueNameFromString("hold") == QueueName::Hold);
    CHECK_FALSE(queueNameFromString("maildrop").has_value());
}

TEST(QueueFsStore, EnsureLayoutRepairsModesAndCreatesParents) {
    const std::string& root = store().root();
    CHECK_EQUAL(0, ::chmod((root + "/incoming").c_str(), 0777));
    CHECK_EQUAL(0, ::rmdir((root + "/hold").c_str()));
    CHECK_TRUE(store().ensureLayout(kKeepOwner, kKeepGroup).ok());
    LONGS_EQUAL(0700, modeOf(root + "/incoming"));
    LONGS_EQUAL(0700, modeOf(root + "/hold"));

    FsQueueStore nested(root + "/deeper/still/spool/");
    CHECK_TRUE(nested.ensureLayout(kKeepOwner, kKeepGroup).ok());
    STRCMP_EQUAL((root + "/deeper/still/spool").c_str(), nested.root().c_str());
    LONGS_EQUAL(0700, modeOf(root + "/deeper/still/spool/corrupt"));
}

TEST(QueueFsStore, EnsureLayoutRefusesASymlinkForAQueue) {
    const std::string& root = store().root();
    CHECK_EQUAL(0, ::rmdir((root + "/active").c_str()));
    CHECK_EQUAL(0, ::symlink("/tmp", (root + "/active").c_str()));
    auto made = store().ensureLayout(kKeepOwner, kKeepGroup);
    CHECK_FALSE(made.ok());
    CHECK_TRUE(made.error().find("/active") != std::string::npos);
}

TEST(QueueFsStore, EnsureLayoutGivesEverythingButPidToTheMailOwner) {
    // Only root may give directories away; others can still name themselves.
    uid_t uid = ::geteuid() == 0 ? 65534 : ::geteuid();
    gid_t gid = ::geteuid() == 0 ? 65534 : ::getegid();
    CHECK_TRUE(store().ensureLayout(uid, gid).ok());
    const std::string& root = store().root();
    for (const char* name : {"incoming", "active", "deferred", "hold", "corrupt", "private",
                             "public"}) {
        LONGS_EQUAL(uid, statOf(root + "/" + name).st_uid);
        LONGS_EQUAL(gid, statOf(root + "/" + name).st_gid);
    }
    LONGS_EQUAL(::geteuid(), statOf(root + "/pid").st_uid);
}

TEST(QueueFsStore, ADaemonStartedAloneMakesTheLayoutForTheMailOwner) {
    std::string root = store().root() + "/alone";
    // Root gives the queue to the mail owner (nobody here); anyone else keeps it.
    const char* owner = ::geteuid() == 0 ? "nobody" : "no-such-user-postern-test";
    CHECK_TRUE(ensureLayoutForDaemon(root, owner).ok());
    uid_t expected = ::geteuid() == 0 ? 65534 : ::geteuid();
    LONGS_EQUAL(expected, statOf(root + "/active").st_uid);
    LONGS_EQUAL(0700, modeOf(root + "/active"));
    if (::geteuid() == 0) {
        auto unknown = ensureLayoutForDaemon(root, "no-such-user-postern-test");
        CHECK_FALSE(unknown.ok());
        CHECK_TRUE(unknown.error().find("no-such-user-postern-test") != std::string::npos);
    }
}

TEST(QueueFsStore, QueueFilesAreMode0600WhateverTheUmask) {
    for (mode_t mask : {mode_t(0), mode_t(0777)}) {
        mode_t saved = ::umask(mask);
        std::string id = storeMessage(store(), sampleContent(100));
        ::umask(saved);
        LONGS_EQUAL(0600, modeOf(store().queuePath(QueueName::Incoming) + "/" + id));
    }
}

TEST(QueueFsStore, AMessageIsWrittenUnderItsTemporaryName) {
    auto writer = store().createMessage(sampleEnvelope(), sampleRecipients());
    CHECK_TRUE(writer.ok());
    std::string incoming = store().queuePath(QueueName::Incoming) + "/";
    std::string id = writer.value()->id();
    CHECK_TRUE(S_ISREG(statOf(incoming + ".tmp-" + id).st_mode));
    CHECK_TRUE(writer.value()->commit().ok());
    CHECK_EQUAL(-1, ::access((incoming + ".tmp-" + id).c_str(), F_OK));
    CHECK_TRUE(S_ISREG(statOf(incoming + id).st_mode));
}

TEST(QueueFsStore, TheContentCanBeSentStraightFromTheDescriptor) {
    std::string content = sampleContent(90000);
    std::string id = storeMessage(store(), content);
    auto handle = store().open(QueueName::Incoming, id, Access::ReadOnly);
    CHECK_TRUE(handle.ok());
    const QueueMessage& message = handle.value()->message();
    std::string fromDescriptor(message.contentLength, '\0');
    ssize_t got = ::pread(handle.value()->descriptor(), fromDescriptor.data(),
                          fromDescriptor.size(), off_t(message.contentOffset));
    LONGS_EQUAL(content.size(), got);
    CHECK_TRUE(fromDescriptor == content);
}

TEST(QueueFsStore, AFifoUnderAnIdNeitherHangsNorGetsQuarantined) {
    std::string id = newQueueId();
    std::string path = store().queuePath(QueueName::Active) + "/" + id;
    CHECK_EQUAL(0, ::mkfifo(path.c_str(), 0600));
    auto opened = store().open(QueueName::Active, id, Access::ReadOnly);
    CHECK_FALSE(opened.ok());
    CHECK_TRUE(opened.error().find("not a regular file") != std::string::npos);
    CHECK_FALSE(store().quarantine(QueueName::Active, id).ok());
    CHECK_TRUE(S_ISFIFO(statOf(path).st_mode));
}
