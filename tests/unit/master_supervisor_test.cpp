// master_supervisor_test.cpp: unit tests for master/supervisor.h with real children:
// /bin/sh scripts stand in for the daemons (the script is what `-c` names), so a test can
// make a child crash at once, live long, record master's control frames from descriptor 3,
// or write status frames there that the test prepared once it knew the child's pid.
#include "master/supervisor.h"

#include <signal.h>

#include <cstdio>
#include <fstream>

#include "ipc.h"
#include "log.h"
#include "master_protocol.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::master;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using master_protocol::ChildState;

namespace {

// Reads the child's stop frame (any byte on descriptor 3), then exits 0.
constexpr const char* kStopOnFrame = "head -c 1 <&3 >/dev/null; exit 0";

ThrottleSettings fastThrottle() {
    ThrottleSettings settings;
    settings.firstDelay = 50ms;
    settings.maxDelay = 400ms;
    settings.quickDeath = 10s;
    return settings;
}

// Writes the status frame of CHILD (with GENERATION) atomically to PATH.
void writeStatusFile(const std::string& path, ChildState state, pid_t pid, int64_t generation) {
    master_protocol::ChildStatus status;
    status.state = state;
    status.pid = pid;
    status.generation = generation;
    std::ofstream(path + ".tmp", std::ios::binary)
        << ipc::encodeFrame(master_protocol::encodeStatus(status));
    std::rename((path + ".tmp").c_str(), path.c_str());
}

// A script that waits for each file in turn (10 s at most) and copies it to descriptor 3,
// then sleeps.
std::string sendFilesThenSleep(const std::vector<std::string>& files) {
    std::string script;
    for (const auto& file : files) {
        script += "n=0; while [ ! -e " + file + " ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; " +
                  "cat " + file + " >&3; ";
    }
    return script + "exec sleep 30";
}

size_t controlFrameSize(master_protocol::ControlCommand command) {
    return ipc::encodeFrame(master_protocol::encodeControl(command)).size();
}

// A script that copies the first BYTES master sends on descriptor 3 to DIR/PID.frames
// (complete once the child has been reaped), then runs THEN.
std::string recordFrames(const std::string& dir, size_t bytes, const std::string& then) {
    return "head -c " + std::to_string(bytes) + " <&3 >" + dir + "/$$.frames; " + then;
}

// The control commands in the file the script above wrote for PID ("?" for a bad frame).
std::string commandsReceived(const std::string& dir, pid_t pid) {
    std::ifstream in(dir + "/" + std::to_string(pid) + ".frames", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string commands;
    for (;;) {
        ipc::DecodeResult result = ipc::decodeFrame(bytes, master_protocol::childEndRules());
        if (result.status != ipc::DecodeStatus::Message) break;
        bytes.erase(0, result.frameBytes);
        auto command = master_protocol::decodeControl(result.message);
        commands += commands.empty() ? "" : " ";
        commands += command ? master_protocol::commandName(*command) : "?";
    }
    return commands;
}

struct LoggedLine {
    Clock::time_point when;
    std::string text;
};

}  // namespace

TEST_GROUP(MasterSupervisor) {
    EventBasePtr base;
    EventPtr reaper;
    ListenerSet listeners;  // the scripts listen on nothing
    std::unique_ptr<Supervisor> supervisor;
    std::vector<LoggedLine> logged;
    log::Sink previousSink;
    testing::TempDir frames;  // recordFrames() output; outlives the children (teardown)

    void setup() override {
        base.reset(event_base_new());
        // SIGCHLD would do this in master; a timer keeps the test free of signal handlers.
        reaper.reset(event_new(base.get(), -1, EV_PERSIST, onReapTick, this));
        timeval tick = {0, 10000};
        event_add(reaper.get(), &tick);
        previousSink = log::setSink([this](log::Level, const std::string& text) {
            logged.push_back({Clock::now(), text});
        });
    }
    void teardown() override {
        if (supervisor) {
            supervisor->stopAll();  // first, or the killed would be replaced
            supervisor->killAll();
            testing::runUntil(base.get(), [&] { return supervisor->childCount() == 0; });
        }
        supervisor.reset();
        reaper.reset();
        base.reset();
        log::setSink(previousSink);
    }
    static void onReapTick(evutil_socket_t, short, void* self) {
        auto* test = static_cast<TEST_GROUP_CppUTestGroupMasterSupervisor*>(self);
        if (test->supervisor) test->supervisor->reapChildren();
    }

    void start(const std::string& script, int processes, bool exclusive = false,
               ThrottleSettings throttle = fastThrottle()) {
        supervisor = std::make_unique<Supervisor>(base.get(), std::vector<std::string>{"-c", script});
        supervisor->runGeneration({plan(processes, exclusive)}, &listeners, 1, throttle);
    }
    ServicePlan plan(int processes, bool exclusive) {
        ServicePlan plan;
        plan.name = "svc";
        plan.program = "/bin/sh";
        plan.processes = processes;
        plan.exclusive = exclusive;
        return plan;
    }
    bool runUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
        return testing::runUntil(base.get(), done, limit);
    }
    std::vector<LoggedLine> linesWith(const std::string& needle) {
        std::vector<LoggedLine> found;
        for (const auto& line : logged) {
            if (line.text.find(needle) != std::string::npos) found.push_back(line);
        }
        return found;
    }
    const ChildRecord& child(pid_t pid) { return *supervisor->children().at(pid); }
};

TEST(MasterSupervisor, StartsTheConfiguredNumberOfProcesses) {
    start("exec sleep 30", 3);
    LONGS_EQUAL(3, supervisor->pidsOf("svc").size());
    for (pid_t pid : supervisor->pidsOf("svc")) LONGS_EQUAL(1, child(pid).generation);
}

TEST(MasterSupervisor, ACrashLoopIsRestartedWithGrowingDelays) {
    start("exit 3", 1);
    runUntil([] { return false; }, 1200ms);
    auto exits = linesWith("process /bin/sh pid ");
    // 50, 100, 200, 400, 400 ms between starts: about six in 1.2 s, never hundreds.
    CHECK_TRUE(exits.size() >= 4 && exits.size() <= 8);
    for (const auto& line : exits) CHECK_TRUE(line.text.ends_with(" exit status 3"));
    long expected[] = {50, 100, 200, 400, 400, 400, 400};
    for (size_t i = 1; i < exits.size(); ++i) {
        auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(exits[i].when -
                                                                         exits[i - 1].when);
        CHECK_TRUE(gap.count() >= expected[i - 1]);
    }
    CHECK_TRUE(linesWith("warning: /bin/sh: service throttled: next start in 0.1s (2 failures in a row)").size() == 1);
    LONGS_EQUAL(exits.size(), supervisor->failuresOf("svc"));
}

TEST(MasterSupervisor, AKilledChildIsRestartedAndItsDeathLogged) {
    start("exec sleep 30", 2);
    pid_t victim = supervisor->pidsOf("svc")[0];
    kill(victim, SIGKILL);
    CHECK_TRUE(runUntil([&] {
        auto pids = supervisor->pidsOf("svc");
        return pids.size() == 2 && std::find(pids.begin(), pids.end(), victim) == pids.end();
    }));
    std::string expected = "warning: process /bin/sh pid " + std::to_string(victim) + " killed by signal 9";
    LONGS_EQUAL(1, linesWith(expected).size());
}

TEST(MasterSupervisor, StaleStatusIsIgnoredAndCurrentStatusTaken) {
    testing::TempDir dir;
    std::string stale = dir.path + "/stale", ready = dir.path + "/ready";
    start(sendFilesThenSleep({stale, ready}), 1);
    pid_t pid = supervisor->pidsOf("svc")[0];
    writeStatusFile(stale, ChildState::Ready, pid, 99);  // another generation's
    CHECK_TRUE(runUntil([&] { return !linesWith("(stale)").empty(); }));
    CHECK_FALSE(child(pid).ready);
    writeStatusFile(ready, ChildState::Ready, pid, 1);
    CHECK_TRUE(runUntil([&] { return child(pid).ready; }));
}

TEST(MasterSupervisor, StatusNamingAnotherPidIsIgnored) {
    testing::TempDir dir;
    std::string other = dir.path + "/other";
    start(sendFilesThenSleep({other}), 1);
    pid_t pid = supervisor->pidsOf("svc")[0];
    writeStatusFile(other, ChildState::Ready, pid + 1, 1);
    CHECK_TRUE(runUntil([&] { return !linesWith("(stale)").empty(); }));
    CHECK_FALSE(child(pid).ready);
}

TEST(MasterSupervisor, ARetiringChildGetsItsReplacementAtOnce) {
    testing::TempDir dir;
    std::string retiring = dir.path + "/retiring";
    start(sendFilesThenSleep({retiring}), 1);
    pid_t old = supervisor->pidsOf("svc")[0];
    writeStatusFile(retiring, ChildState::Retiring, old, 1);
    CHECK_TRUE(runUntil([&] { return supervisor->pidsOf("svc").size() == 2; }));
    CHECK_TRUE(child(old).retiring);
}

TEST(MasterSupervisor, ANewGenerationRetiresTheOldChildrenAndStartsNewOnes) {
    start(recordFrames(frames.path, controlFrameSize(master_protocol::ControlCommand::Retire),
                       "exit 0"),
          2);
    auto old = supervisor->pidsOf("svc");
    supervisor->runGeneration({plan(2, false)}, &listeners, 2, fastThrottle());
    // The new ones start at once, beside the old ones still finishing their work.
    int generation2 = 0;
    for (const auto& [pid, record] : supervisor->children()) generation2 += record->generation == 2;
    LONGS_EQUAL(2, generation2);
    CHECK_TRUE(runUntil([&] { return supervisor->childCount() == 2; }));
    for (pid_t pid : old) STRCMP_EQUAL("retire", commandsReceived(frames.path, pid).c_str());
    CHECK_TRUE(linesWith("warning").empty());  // the old ones ended cleanly when told
}

TEST(MasterSupervisor, StopAllStopsRetiringChildrenToo) {
    size_t bytes = controlFrameSize(master_protocol::ControlCommand::Retire) +
                   controlFrameSize(master_protocol::ControlCommand::Stop);
    start(recordFrames(frames.path, bytes, "exit 0"), 1);
    pid_t old = supervisor->pidsOf("svc")[0];
    // No process in the new generation: only the old one hears the frames.
    supervisor->runGeneration({plan(0, false)}, &listeners, 2, fastThrottle());
    CHECK_TRUE(child(old).retireRequested);
    supervisor->stopAll();
    CHECK_TRUE(runUntil([&] { return supervisor->childCount() == 0; }));
    STRCMP_EQUAL("retire stop", commandsReceived(frames.path, old).c_str());
}

TEST(MasterSupervisor, AnExclusiveServiceIsStoppedAndItsSuccessorStartsAfterItExited) {
    start(recordFrames(frames.path, controlFrameSize(master_protocol::ControlCommand::Stop),
                       "sleep 0.3; exit 0"),
          1, true);
    pid_t old = supervisor->pidsOf("svc")[0];
    supervisor->runGeneration({plan(1, true)}, &listeners, 2, fastThrottle());
    auto pids = supervisor->pidsOf("svc");
    LONGS_EQUAL(1, pids.size());
    LONGS_EQUAL(old, pids[0]);
    bool overlapped = false;
    CHECK_TRUE(runUntil([&] {
        auto now = supervisor->pidsOf("svc");
        overlapped = overlapped || now.size() > 1;
        return now.size() == 1 && now[0] != old;
    }));
    CHECK_FALSE(overlapped);
    STRCMP_EQUAL("stop", commandsReceived(frames.path, old).c_str());
}

TEST(MasterSupervisor, StopAllStartsNothingMore) {
    start(kStopOnFrame, 2);
    supervisor->stopAll();
    CHECK_TRUE(runUntil([&] { return supervisor->childCount() == 0; }));
    runUntil([] { return false; }, 100ms);
    LONGS_EQUAL(0, supervisor->childCount());
}
