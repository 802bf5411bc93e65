// daemon_test_support.h: what the lib/daemon.h tests share. The child side: a tiny "echo"
// daemon run by the real skeleton (runDaemon) in a forked child. The test's side, playing
// master: the listening socket and the other end of the status channel, a status frame
// reader, line-oriented clients, and the child's exit code and log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "daemon.h"
#include "master_protocol.h"
#include "test_support.h"
#include "unique_fd.h"

namespace postern::testing {

// The echo daemon: greets with "hello LISTENER", answers "ping" with "pong", "quit" with
// "bye" and ends the session. Short timers, so the tests run fast.
DaemonSpec echoSpec(const std::string& service);
// Runs the daemon SPEC with ARGS (without the program name), as main() would.
int runEcho(const DaemonSpec& spec, std::vector<std::string> args);
// Lowers the descriptor limit to what is open now plus SPARE (for the EMFILE test).
Status limitDescriptors(int spare);

// Reads status frames from the child, one at a time, with a deadline.
struct StatusReader {
    int fd = -1;
    std::string buffered;

    // The next frame (fails the test after 5 s without one).
    master_protocol::ChildStatus next();
    // Reads frames until one in STATE arrives; returns it.
    master_protocol::ChildStatus waitFor(master_protocol::ChildState state);
};

// One line from FD without its newline, "...<eof>" when the peer closed or was silent 5 s.
std::string readLine(int fd);
// Connects to "127.0.0.1:PORT".
UniqueFd dial(const std::string& endpoint);
// Writes LINE and a newline.
void say(int fd, const std::string& line);
// Sends COMMAND on the status channel FD as master does.
void sendControl(int fd, master_protocol::ControlCommand command);
// The whole file at PATH ("" when missing).
std::string readFile(const std::string& path);

// A forked child running the echo daemon as master would start it (generation 7).
struct ChildDaemon {
    TempDir dir;
    std::string configPath;
    std::string endpoint;  // "127.0.0.1:PORT", the inherited listener
    UniqueFd listener;     // master's copy
    UniqueFd status;       // master's end of the status channel
    StatusReader reader;
    pid_t pid = -1;

    // SERVICES, when given, is the body of the configuration's services list.
    explicit ChildDaemon(const std::string& services = "");
    ~ChildDaemon();
    // Forks the child running SPEC, with INIT as its init hook.
    void start(const DaemonSpec& spec, std::function<Status(DaemonContext&)> init = nullptr);
    // Waits up to LIMIT for the child to exit; its exit code (-1: killed or crashed).
    int exitCode(std::chrono::milliseconds limit = std::chrono::seconds(10));
    // The child's log file.
    std::string log() const { return readFile(dir.path + "/maillog"); }
};

}  // namespace postern::testing
