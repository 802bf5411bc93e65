// daemon_startup_test.cpp: unit tests for lib/daemon.h's start-up: a daemon started alone
// binds its own sockets; bad arguments, a bad configuration, a failing hook and bad
// inherited descriptors end it with the documented exit codes and a logged reason.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#include <string>
#include <thread>
#include <vector>

#include "daemon_test_support.h"
#include "listeners.h"
#include "sockets.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::testing;
using namespace std::chrono_literals;

TEST_GROUP(DaemonStartup){};

TEST(DaemonStartup, StandaloneBindsItsOwnSockets) {
    ChildDaemon child;
    pid_t pid = forkChild([&] {
        return runEcho(echoSpec("qmgr"), {"-c", child.configPath});
    });
    std::string path = child.dir.path + "/queue/private/qmgr";
    auto deadline = std::chrono::steady_clock::now() + 5s;
    Result<UniqueFd> client = fail("not yet");
    while (!client.ok() && std::chrono::steady_clock::now() < deadline) {
        client = sockets::connectUnix(path);
        if (!client.ok()) std::this_thread::sleep_for(10ms);
    }
    CHECK_TRUE(client.ok());
    int fd = client->get();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    STRCMP_EQUAL("hello unix:private/qmgr", readLine(fd).c_str());
    struct stat info = {};
    CHECK_EQUAL(0, stat(path.c_str(), &info));
    LONGS_EQUAL(0600, info.st_mode & 0777);
    kill(pid, SIGTERM);
    say(fd, "quit");
    LONGS_EQUAL(0, exitCodeOf(waitForExit(pid)));
    STRCMP_CONTAINS("postern/qmgr[", child.log().c_str());
}

TEST(DaemonStartup, ArgumentAndStartupErrors) {
    ChildDaemon child;
    auto exitOf = [](std::vector<std::string> args, const DaemonSpec& spec) {
        pid_t pid = forkChild([&] {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            unsetenv(kStatusFdEnv);
            return runEcho(spec, args);
        });
        return exitCodeOf(waitForExit(pid));
    };
    DaemonSpec spec = echoSpec("smtpd");
    LONGS_EQUAL(0, exitOf({"--help"}, spec));
    LONGS_EQUAL(2, exitOf({"--bogus"}, spec));
    LONGS_EQUAL(2, exitOf({"-c"}, spec));
    LONGS_EQUAL(1, exitOf({"-c", child.dir.path + "/missing.conf"}, spec));
    DaemonSpec noKey = echoSpec("qmgr");
    noKey.beforePrivilegeDrop = [](DaemonContext&) -> Status { return fail("no TLS key"); };
    LONGS_EQUAL(1, exitOf({"-c", child.configPath}, noKey));
    STRCMP_CONTAINS("fatal: no TLS key", child.log().c_str());
}

TEST(DaemonStartup, BadInheritanceIsAStartupError) {
    ChildDaemon child;
    pid_t pid = forkChild([&] {
        setenv(kStatusFdEnv, "0", 1);  // stdin: not a socket
        return runEcho(echoSpec("smtpd"), {"-c", child.configPath});
    });
    LONGS_EQUAL(1, exitCodeOf(waitForExit(pid)));
    STRCMP_CONTAINS("fatal: POSTERN_STATUS_FD: descriptor 0 is not an open socket",
                    child.log().c_str());
}
