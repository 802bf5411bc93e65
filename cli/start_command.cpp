// start_command.cpp: `postern start [--foreground]`. With --foreground, postern becomes
// master (exec), for `make run` and systemd (Type=notify: master is the main process).
// Without, it starts master detached (double fork, new session) and waits until master
// reports over a pipe that it runs (its lock held, its sockets bound, its services
// started) or why it could not start; then says so and exits.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "commands.h"
#include "master_control.h"
#include "paths.h"

namespace postern::cli {
namespace {

constexpr int kReportTimeoutMs = 60000;

std::vector<char*> pointersTo(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

int execMasterInForeground(std::vector<std::string> argv) {
    std::vector<char*> pointers = pointersTo(argv);
    execv(pointers[0], pointers.data());
    printError("cannot execute " + argv[0] + ": " + std::strerror(errno));
    return kExitFailure;
}

// Reads master's report from FD until a "ready" line, EOF or the time limit.
std::string readReport(int fd) {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReportTimeoutMs);
    while (text.find("ready ") == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd wait = {fd, POLLIN, 0};
        int ready = poll(&wait, 1, int(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        char buffer[4096];
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buffer, size_t(n));
    }
    return text;
}

// Prints what master reported; returns the exit status.
int reportOutcome(const std::string& report, const Config& config) {
    std::istringstream lines(report);
    bool failed = false;
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("ready ")) {
            std::printf("postern: started the mail system: PID %s\n", line.c_str() + 6);
            return kExitOk;
        }
        if (line.starts_with("error ")) {
            printError(line.substr(6));
            failed = true;
        }
    }
    if (!failed) {
        printError("master did not report that it started; see the log (" + config.log_file + ")");
    }
    return kExitFailure;
}

// Runs master detached from us: a new session, and a middle process that exits at once,
// so master is not our child and can never get a controlling terminal.
int startDetached(std::vector<std::string> argv, const Config& config) {
    int pipeEnds[2];
    if (pipe2(pipeEnds, O_CLOEXEC) != 0) {
        printError(std::string("pipe: ") + std::strerror(errno));
        return kExitFailure;
    }
    argv.push_back("--ready-fd");
    argv.push_back(std::to_string(pipeEnds[1]));
    std::vector<char*> pointers = pointersTo(argv);
    pid_t middle = fork();
    if (middle == 0) {
        setsid();
        if (fork() != 0) _exit(0);
        fcntl(pipeEnds[1], F_SETFD, 0);  // master inherits the write end, and only that
        execv(pointers[0], pointers.data());
        dprintf(pipeEnds[1], "error cannot execute %s: %s\n", pointers[0], std::strerror(errno));
        _exit(127);
    }
    close(pipeEnds[1]);
    if (middle < 0) {
        close(pipeEnds[0]);
        printError(std::string("fork: ") + std::strerror(errno));
        return kExitFailure;
    }
    waitpid(middle, nullptr, 0);
    std::string report = readReport(pipeEnds[0]);
    close(pipeEnds[0]);
    return reportOutcome(report, config);
}

}  // namespace

int runStartCommand(const CommandContext& context, const CommandArgs& args) {
    bool foreground = false;
    for (const auto& arg : args) {
        if (arg != "--foreground") {
            printCommandUsage(*findCommand("start"), stderr);
            return kExitUsage;
        }
        foreground = true;
    }
    auto config = loadRunnableConfigOrReport(context);
    if (!config) return kExitFailure;
    std::vector<std::string> argv = {libexecDir() + "/master", "-c", config->path};
    if (foreground) {
        argv.push_back("--foreground");
        return execMasterInForeground(std::move(argv));
    }
    if (config->log_file == "-") {
        printError("warning: log_file is \"-\" (standard error), which a detached master "
                   "does not have: nothing will be logged; use start --foreground or set log_file");
    }
    return startDetached(std::move(argv), *config);
}

}  // namespace postern::cli
