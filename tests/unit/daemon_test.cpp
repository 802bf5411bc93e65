// daemon_test.cpp: unit tests for lib/daemon.h, the running daemon: status frames, stopping
// (SIGTERM, a "stop" frame, master gone), retiring (a "retire" frame, max_use, max_idle)
// and accepting. Each
// test forks a child running the real skeleton with the echo daemon while the test plays
// master (daemon_test_support.h).
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "daemon_test_support.h"
#include "log.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::testing;
using namespace std::chrono_literals;
using master_protocol::ChildState;
using master_protocol::ChildStatus;

namespace {

// The echo daemon, its onStop and onRetire hooks saying in the log that they ran.
DaemonSpec hookedSpec() {
    DaemonSpec spec = echoSpec("smtpd");
    spec.onStop = [](DaemonContext&) { log::info("hook: onStop"); };
    spec.onRetire = [](DaemonContext&) { log::info("hook: onRetire"); };
    return spec;
}

// Runs SPEC with a session that never ends, has LEAVE tell the daemon to go, and checks
// that the deadline cut the session, the daemon exited 0 and logged WARNING.
void checkDeadlineEndsAStuckSession(const DaemonSpec& spec,
                                    const std::function<void(ChildDaemon&)>& leave,
                                    const char* warning) {
    ChildDaemon child;
    child.start(spec);
    child.reader.waitFor(ChildState::Ready);
    UniqueFd client = dial(child.endpoint);
    readLine(client.get());
    leave(child);
    LONGS_EQUAL(0, child.exitCode(5s));
    STRCMP_EQUAL("<eof>", readLine(client.get()).c_str());
    STRCMP_CONTAINS(warning, child.log().c_str());
}

}  // namespace

TEST_GROUP(Daemon){};

TEST(Daemon, UsesInheritedSocketReportsStatusAndExitsWhenMasterGoes) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"));
    ChildStatus ready = child.reader.next();
    CHECK(ready.state == ChildState::Ready);
    LONGS_EQUAL(7, ready.generation);
    LONGS_EQUAL(child.pid, ready.pid);

    UniqueFd client = dial(child.endpoint);
    STRCMP_EQUAL(("hello inet:" + child.endpoint).c_str(), readLine(client.get()).c_str());
    ChildStatus busy = child.reader.next();
    CHECK(busy.state == ChildState::Busy);
    LONGS_EQUAL(1, busy.inFlight);
    say(client.get(), "quit");
    STRCMP_EQUAL("bye", readLine(client.get()).c_str());
    ChildStatus idle = child.reader.waitFor(ChildState::Idle);
    LONGS_EQUAL(0, idle.inFlight);
    LONGS_EQUAL(1, idle.uses);

    child.status.reset();  // master dies
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("postern/smtpd[", child.log().c_str());
    STRCMP_CONTAINS("master went away, stopping", child.log().c_str());
}

TEST(Daemon, SigtermDrainsSessionsThenExits) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"));
    child.reader.waitFor(ChildState::Ready);
    UniqueFd client = dial(child.endpoint);
    readLine(client.get());
    child.reader.waitFor(ChildState::Busy);

    kill(child.pid, SIGTERM);
    ChildStatus stopping = child.reader.waitFor(ChildState::Stopping);
    LONGS_EQUAL(1, stopping.inFlight);
    say(client.get(), "ping");  // the session in flight is still served
    STRCMP_EQUAL("pong", readLine(client.get()).c_str());
    say(client.get(), "quit");
    STRCMP_EQUAL("bye", readLine(client.get()).c_str());
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("SIGTERM received, stopping; 1 in flight", child.log().c_str());
}

TEST(Daemon, StopDeadlineEndsAStuckSession) {
    DaemonSpec spec = echoSpec("smtpd");
    spec.stopTimeout = 200ms;
    checkDeadlineEndsAStuckSession(
        spec, [](ChildDaemon& child) { kill(child.pid, SIGTERM); },
        "warning: stop deadline passed with 1 in flight");
}

TEST(Daemon, StopFrameFromMaster) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"));
    child.reader.waitFor(ChildState::Ready);
    sendControl(child.status.get(), master_protocol::ControlCommand::Stop);
    child.reader.waitFor(ChildState::Stopping);
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("stop requested by master", child.log().c_str());
}

TEST(Daemon, GarbageFromMasterIsAWarningNotACrash) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"));
    child.reader.waitFor(ChildState::Ready);
    CHECK_EQUAL(9, write(child.status.get(), "GARBAGE\r\n", 9));
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("warning: master: not a postern IPC frame (bad magic); disconnecting",
                    child.log().c_str());
}

TEST(Daemon, RetireFrameLetsSessionsEndAtTheirOwnPace) {
    ChildDaemon child;
    DaemonSpec spec = hookedSpec();
    spec.stopTimeout = 100ms;  // a retire taken for a stop would cut the session below
    child.start(spec);
    child.reader.waitFor(ChildState::Ready);
    UniqueFd client = dial(child.endpoint);
    readLine(client.get());
    child.reader.waitFor(ChildState::Busy);

    sendControl(child.status.get(), master_protocol::ControlCommand::Retire);
    ChildStatus retiring = child.reader.waitFor(ChildState::Retiring);
    LONGS_EQUAL(1, retiring.inFlight);
    std::this_thread::sleep_for(300ms);  // past the stop deadline
    say(client.get(), "ping");           // served on, not hurried along
    STRCMP_EQUAL("pong", readLine(client.get()).c_str());
    say(client.get(), "quit");
    STRCMP_EQUAL("bye", readLine(client.get()).c_str());
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("retire requested by master; 1 in flight", child.log().c_str());
    STRCMP_CONTAINS("hook: onRetire", child.log().c_str());
    CHECK_TRUE(child.log().find("hook: onStop") == std::string::npos);
}

TEST(Daemon, RetireDeadlineEndsAStuckSession) {
    DaemonSpec spec = echoSpec("smtpd");
    spec.retireTimeout = 200ms;
    checkDeadlineEndsAStuckSession(
        spec,
        [](ChildDaemon& child) {
            sendControl(child.status.get(), master_protocol::ControlCommand::Retire);
        },
        "warning: retire deadline passed with 1 in flight");
}

TEST(Daemon, StopWhileRetiringHurriesAlong) {
    ChildDaemon child;
    DaemonSpec spec = hookedSpec();
    spec.stopTimeout = 200ms;
    child.start(spec);
    child.reader.waitFor(ChildState::Ready);
    UniqueFd client = dial(child.endpoint);
    readLine(client.get());
    sendControl(child.status.get(), master_protocol::ControlCommand::Retire);
    child.reader.waitFor(ChildState::Retiring);
    sendControl(child.status.get(), master_protocol::ControlCommand::Stop);
    ChildStatus stopping = child.reader.waitFor(ChildState::Stopping);
    LONGS_EQUAL(1, stopping.inFlight);
    LONGS_EQUAL(0, child.exitCode(5s));  // the stop deadline, not the retire one (an hour)
    STRCMP_CONTAINS("stop requested by master; 1 in flight", child.log().c_str());
    STRCMP_CONTAINS("hook: onStop", child.log().c_str());
    STRCMP_CONTAINS("warning: stop deadline passed with 1 in flight", child.log().c_str());
}

TEST(Daemon, RetiresAfterMaxUse) {
    ChildDaemon child("{ name = \"smtpd\"; max_use = 2; }");
    child.start(hookedSpec());
    child.reader.waitFor(ChildState::Ready);
    UniqueFd first = dial(child.endpoint);
    readLine(first.get());
    say(first.get(), "quit");
    readLine(first.get());
    child.reader.waitFor(ChildState::Idle);

    UniqueFd second = dial(child.endpoint);
    readLine(second.get());
    ChildStatus retiring = child.reader.waitFor(ChildState::Retiring);
    LONGS_EQUAL(2, retiring.uses);
    LONGS_EQUAL(1, retiring.inFlight);
    say(second.get(), "ping");
    STRCMP_EQUAL("pong", readLine(second.get()).c_str());
    say(second.get(), "quit");
    LONGS_EQUAL(0, child.exitCode());
    STRCMP_CONTAINS("retiring after max_use uses", child.log().c_str());
    STRCMP_CONTAINS("hook: onRetire", child.log().c_str());
    CHECK_TRUE(child.log().find("hook: onStop") == std::string::npos);
}

TEST(Daemon, RetiresAfterMaxIdle) {
    ChildDaemon child("{ name = \"smtpd\"; max_idle = 1; }");
    child.start(echoSpec("smtpd"));
    child.reader.waitFor(ChildState::Ready);
    ChildStatus retiring = child.reader.waitFor(ChildState::Retiring);
    LONGS_EQUAL(0, retiring.inFlight);
    LONGS_EQUAL(0, child.exitCode());
}

TEST(Daemon, OutOfDescriptorsPausesAcceptingAndRetries) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"), [](DaemonContext& context) {
        // UBSan checks a virtual call's target type through a pipe when its cache misses; a
        // process with no descriptor left then reports a false "invalid vptr". Warm it up.
        context.beginWork().release();
        return limitDescriptors(1);
    });
    child.reader.waitFor(ChildState::Ready);
    UniqueFd first = dial(child.endpoint);
    STRCMP_CONTAINS("hello", readLine(first.get()).c_str());
    UniqueFd second = dial(child.endpoint);  // waits in the backlog: no descriptor left
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (child.log().find("Too many open files; pausing") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    STRCMP_CONTAINS("accept on inet:127.0.0.1:", child.log().c_str());
    STRCMP_CONTAINS("Too many open files; pausing for 50 ms", child.log().c_str());
    say(first.get(), "quit");
    STRCMP_EQUAL("bye", readLine(first.get()).c_str());
    STRCMP_CONTAINS("hello", readLine(second.get()).c_str());  // accepted after the pause
    child.status.reset();
    say(second.get(), "quit");
    LONGS_EQUAL(0, child.exitCode());
}
