// master_lock_test.cpp: unit tests for lib/master_lock.h: the lock held by a real second
// process (record locks are per process), tried without waiting (the holder an answer, not
// an error), the holder named without taking the lock, the
// pid file, and the check that a pid runs a program named master.
#include "master_lock.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using postern::testing::TempDir;

namespace {

// A child process that takes the lock on QUEUE, says so on a pipe, and holds it until
// its stdin-like pipe closes.
struct HoldingProcess {
    pid_t pid = -1;
    UniqueFd release;

    explicit HoldingProcess(const std::string& queue) {
        int told[2], hold[2];
        if (pipe(told) != 0 || pipe(hold) != 0) return;
        pid = testing::forkChild([&] {
            close(told[0]);
            close(hold[1]);
            auto lock = MasterLock::acquire(queue);
            char state = lock ? 'y' : 'n';
            (void)!write(told[1], &state, 1);
            char byte;
            (void)!read(hold[0], &byte, 1);  // until the test closes its end
            return 0;
        });
        close(told[1]);
        close(hold[0]);
        release.reset(hold[1]);
        char state = 0;
        (void)!read(told[0], &state, 1);
        close(told[0]);
        if (state != 'y') pid = -1;
    }
    void stop() {
        release.reset();
        if (pid > 0) testing::waitForExit(pid);
        pid = -1;
    }
    ~HoldingProcess() { stop(); }
};

std::string makeQueue(const TempDir& dir) {
    mkdir((dir.path + "/pid").c_str(), 0755);
    return dir.path;
}

}  // namespace

TEST_GROUP(MasterLock) {};

TEST(MasterLock, NobodyHoldsTheLockOfAQueueWithoutLockFile) {
    TempDir dir;
    auto holder = masterLockHolder(makeQueue(dir));
    CHECK_TRUE(holder.ok());
    CHECK_FALSE(holder->has_value());
}

TEST(MasterLock, ASecondProcessIsRefusedAndToldWhoHoldsIt) {
    TempDir dir;
    std::string queue = makeQueue(dir);
    HoldingProcess first(queue);
    CHECK_TRUE(first.pid > 0);

    auto second = MasterLock::acquire(queue);
    CHECK_FALSE(second.ok());
    STRCMP_EQUAL(("the postern mail system is already running (pid " +
                  std::to_string(first.pid) + ")").c_str(),
                 second.error().c_str());
    auto holder = masterLockHolder(queue);
    CHECK_TRUE(holder.ok() && holder->has_value());
    LONGS_EQUAL(first.pid, **holder);
}

TEST(MasterLock, TheLockGoesWithItsProcess) {
    TempDir dir;
    std::string queue = makeQueue(dir);
    HoldingProcess first(queue);
    CHECK_TRUE(first.pid > 0);
    first.stop();
    auto holder = masterLockHolder(queue);
    CHECK_TRUE(holder.ok());
    CHECK_FALSE(holder->has_value());
    auto again = MasterLock::acquire(queue);
    CHECK_TRUE(again.ok());
    CHECK_TRUE(again->held());
}

TEST(MasterLock, TryAcquireNamesTheHolderAsAnAnswerNotAnError) {
    TempDir dir;
    std::string queue = makeQueue(dir);
    HoldingProcess first(queue);
    CHECK_TRUE(first.pid > 0);
    auto attempt = MasterLock::tryAcquire(queue, LockFile::MustExist);
    CHECK_TRUE(attempt.ok());
    const auto* holder = std::get_if<LockHolder>(&attempt.value());
    CHECK_TRUE(holder != nullptr);
    LONGS_EQUAL(first.pid, holder->pid);

    first.stop();
    auto taken = MasterLock::tryAcquire(queue, LockFile::MustExist);
    CHECK_TRUE(taken.ok());
    const auto* lock = std::get_if<MasterLock>(&taken.value());
    CHECK_TRUE(lock != nullptr && lock->held());
}

TEST(MasterLock, OnlyCreateMakesTheLockFile) {
    TempDir dir;
    std::string queue = makeQueue(dir);
    auto refused = MasterLock::tryAcquire(queue, LockFile::MustExist);
    CHECK_FALSE(refused.ok());
    STRCMP_CONTAINS("cannot open", refused.error().c_str());
    CHECK_FALSE(std::filesystem::exists(masterLockPath(queue)));
    auto created = MasterLock::tryAcquire(queue, LockFile::Create);
    CHECK_TRUE(created.ok() && std::holds_alternative<MasterLock>(created.value()));
    CHECK_TRUE(std::filesystem::exists(masterLockPath(queue)));
}

TEST(MasterLock, AcquireFailsWithoutPidFolder) {
    TempDir dir;
    auto lock = MasterLock::acquire(dir.path + "/missing");
    CHECK_FALSE(lock.ok());
    CHECK_TRUE(lock.error().find("cannot open") != std::string::npos);
}

TEST(MasterLock, PidFileRoundTrip) {
    TempDir dir;
    std::string path = makeQueue(dir) + "/pid/master.pid";
    CHECK_TRUE(writePidFile(path, 4321).ok());
    auto pid = readPidFile(path);
    CHECK_TRUE(pid.ok());
    LONGS_EQUAL(4321, *pid);
    struct stat info = {};
    CHECK_EQUAL(0, stat(path.c_str(), &info));
    LONGS_EQUAL(0644, info.st_mode & 07777);
}

TEST(MasterLock, MalformedOrMissingPidFileIsAnError) {
    TempDir dir;
    std::string path = makeQueue(dir) + "/pid/master.pid";
    CHECK_FALSE(readPidFile(path).ok());
    for (const char* text : {"", "abc\n", "-5\n", "0\n", "99999999999\n"}) {
        std::ofstream(path) << text;
        CHECK_FALSE(readPidFile(path).ok());
    }
}

TEST(MasterLock, OnlyAProgramNamedMasterLooksLikeMaster) {
    CHECK_FALSE(runsMasterProgram(getpid()));  // the unit test binary
    CHECK_FALSE(runsMasterProgram(999999999));
    TempDir dir;
    std::string copy = dir.path + "/master";
    std::filesystem::copy_file("/bin/sleep", copy);
    CHECK_EQUAL(0, chmod(copy.c_str(), 0755));
    pid_t pid = testing::forkChild([&] {
        execl(copy.c_str(), "master", "5", (char*)nullptr);
        return 127;
    });
    // The exec has happened once /proc shows the new program (or its argv[0]).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!runsMasterProgram(pid) && std::chrono::steady_clock::now() < deadline)
        usleep(5000);
    CHECK_TRUE(runsMasterProgram(pid));
    kill(pid, SIGKILL);
    testing::waitForExit(pid);
}
