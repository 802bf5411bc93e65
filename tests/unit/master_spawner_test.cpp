// master_spawner_test.cpp: unit tests for master/spawner.h: the descriptor plan, a real
// child (/bin/sh) that reports which sockets it got at which numbers and what its
// environment says, descriptors that trade places, and the words for a wait status.
#include "master/spawner.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "test_support.h"
#include "unique_fd.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::master;
using postern::testing::TempDir;

namespace {

// "socket:[INODE]", as /proc/PID/fd/N shows a socket.
std::string socketName(int fd) {
    struct stat info = {};
    fstat(fd, &info);
    return "socket:[" + std::to_string(info.st_ino) + "]";
}

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Moves FD to a number of 100 or more, out of the way of the numbers children get.
UniqueFd high(int fd) {
    UniqueFd moved(fcntl(fd, F_DUPFD_CLOEXEC, 100));
    close(fd);
    return moved;
}

struct SocketPair {
    UniqueFd a, b;
    SocketPair() {
        int ends[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) == 0) {
            a = high(ends[0]);
            b = high(ends[1]);
        }
    }
};

// Runs /bin/sh -c SCRIPT with the plan; returns its wait status.
int runShell(const std::string& script, const DescriptorPlan& plan,
             std::vector<std::string> dropped = {}) {
    SpawnRequest request{"/bin/sh", {"-c", script}, plan.environment, std::move(dropped), plan.fds};
    auto pid = spawnProcess(request);
    if (!pid) return -1;
    return testing::waitForExit(*pid);
}

// The script line that prints what the shell's descriptors 3, 4, 5 are.
const char* kShowFds = "for n in 3 4 5; do readlink /proc/$$/fd/$n || echo none; done";

}  // namespace

TEST_GROUP(MasterSpawner) {};

TEST(MasterSpawner, PlanPutsStatusAtThreeAndListenersAfterIt) {
    DescriptorPlan plan = planDescriptors(17, {{"inet:127.0.0.1:25", 9}, {"unix:public/submit", 12}}, 7);
    LONGS_EQUAL(3, plan.fds.size());
    LONGS_EQUAL(17, plan.fds[0].source);
    LONGS_EQUAL(3, plan.fds[0].target);
    LONGS_EQUAL(9, plan.fds[1].source);
    LONGS_EQUAL(4, plan.fds[1].target);
    LONGS_EQUAL(12, plan.fds[2].source);
    LONGS_EQUAL(5, plan.fds[2].target);
    LONGS_EQUAL(3, plan.environment.size());
    STRCMP_EQUAL("POSTERN_STATUS_FD=3", plan.environment[0].c_str());
    STRCMP_EQUAL("POSTERN_LISTEN_FDS=inet:127.0.0.1:25=4,unix:public/submit=5",
                 plan.environment[1].c_str());
    STRCMP_EQUAL("POSTERN_GENERATION=7", plan.environment[2].c_str());
}

TEST(MasterSpawner, ChildGetsItsSocketsAtTheirNumbersAndNothingElse) {
    TempDir dir;
    SocketPair status, listener;
    UniqueFd other = high(open("/dev/null", O_RDONLY | O_CLOEXEC));  // must not reach the child
    DescriptorPlan plan = planDescriptors(status.b.get(), {{"inet:127.0.0.1:25", listener.b.get()}}, 2);
    std::string out = dir.path + "/out";
    std::string script = std::string("{ ") + kShowFds + "; echo $POSTERN_STATUS_FD $POSTERN_LISTEN_FDS " +
                         "$POSTERN_GENERATION; readlink /proc/$$/fd/" + std::to_string(other.get()) +
                         " || echo closed; } > " + out + " 2>/dev/null";
    int status_ = runShell(script, plan);
    LONGS_EQUAL(0, testing::exitCodeOf(status_));
    std::string expected = socketName(status.b.get()) + "\n" + socketName(listener.b.get()) +
                           "\nnone\n3 inet:127.0.0.1:25=4 2\nclosed\n";
    STRCMP_EQUAL(expected.c_str(), readFile(out).c_str());
}

TEST(MasterSpawner, DescriptorsThatTradePlacesArriveRight) {
    // Master's status end at 4 and listener at 3 must become 3 and 4 in the child: a
    // naive dup2 in order would overwrite one with the other.
    TempDir dir;
    SocketPair status, listener;
    UniqueFd saved3(fcntl(3, F_DUPFD_CLOEXEC, 200)), saved4(fcntl(4, F_DUPFD_CLOEXEC, 200));
    CHECK_EQUAL(4, dup3(status.b.get(), 4, O_CLOEXEC));
    CHECK_EQUAL(3, dup3(listener.b.get(), 3, O_CLOEXEC));
    DescriptorPlan plan = planDescriptors(4, {{"unix:private/smtp", 3}}, 1);
    std::string out = dir.path + "/out";
    int status_ = runShell(std::string("{ ") + kShowFds + "; } > " + out + " 2>/dev/null", plan);
    std::string expected =
        socketName(status.b.get()) + "\n" + socketName(listener.b.get()) + "\nnone\n";
    // Put back what the test process had at 3 and 4 before checking.
    for (auto [saved, number] : {std::pair{&saved3, 3}, std::pair{&saved4, 4}}) {
        if (saved->valid()) dup3(saved->get(), number, O_CLOEXEC);
        else close(number);
    }
    LONGS_EQUAL(0, testing::exitCodeOf(status_));
    STRCMP_EQUAL(expected.c_str(), readFile(out).c_str());
}

TEST(MasterSpawner, EnvironmentReplacesAndDropsNames) {
    TempDir dir;
    setenv("POSTERN_GENERATION", "99", 1);
    setenv("POSTERN_TEST_DROPPED", "secret", 1);
    SocketPair status;
    DescriptorPlan plan = planDescriptors(status.b.get(), {}, 5);
    std::string out = dir.path + "/out";
    int status_ = runShell("echo \"$POSTERN_GENERATION/${POSTERN_TEST_DROPPED-unset}/$POSTERN_LISTEN_FDS.\" > " + out,
                           plan, {"POSTERN_TEST_DROPPED"});
    unsetenv("POSTERN_GENERATION");
    unsetenv("POSTERN_TEST_DROPPED");
    LONGS_EQUAL(0, testing::exitCodeOf(status_));
    STRCMP_EQUAL("5/unset/.\n", readFile(out).c_str());
}

TEST(MasterSpawner, AFailedExecEndsTheChildWith127) {
    SocketPair status;
    DescriptorPlan plan = planDescriptors(status.b.get(), {}, 1);
    SpawnRequest request{"/nonexistent/smtpd", {}, plan.environment, {}, plan.fds};
    UniqueFd savedErr(fcntl(2, F_DUPFD_CLOEXEC, 200));
    UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
    dup2(null.get(), 2);  // the child's complaint is not for the test output
    auto pid = spawnProcess(request);
    dup2(savedErr.get(), 2);
    CHECK_TRUE(pid.ok());
    LONGS_EQUAL(127, testing::exitCodeOf(testing::waitForExit(*pid)));
}

TEST(MasterSpawner, WaitStatusesInWords) {
    pid_t exited = testing::forkChild([] { return 3; });
    int status = testing::waitForExit(exited);
    STRCMP_EQUAL("exit status 3", describeWaitStatus(status).c_str());
    CHECK_TRUE(endedAbnormally(status));

    pid_t clean = testing::forkChild([] { return 0; });
    status = testing::waitForExit(clean);
    STRCMP_EQUAL("exit status 0", describeWaitStatus(status).c_str());
    CHECK_FALSE(endedAbnormally(status));

    pid_t killed = testing::forkChild([] {
        pause();
        return 0;
    });
    kill(killed, SIGKILL);
    status = testing::waitForExit(killed);
    STRCMP_EQUAL("killed by signal 9", describeWaitStatus(status).c_str());
    CHECK_TRUE(endedAbnormally(status));
}
