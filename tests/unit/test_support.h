// test_support.h: small helpers shared by the unit tests: temporary folders, running an
// event loop until a condition holds (with a deadline, never a fixed sleep), forked
// children and waiting for them.
#pragma once

#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

#include "event.h"

namespace postern::testing {

// A fresh folder under /tmp, removed with everything in it when the object goes. The one
// TempDir of the unit tests (every test file shares this definition).
struct TempDir {
    std::string path;
    TempDir() {
        char pattern[] = "/tmp/postern-test-XXXXXX";
        if (!mkdtemp(pattern)) {
            std::perror("mkdtemp /tmp/postern-test-XXXXXX");
            std::abort();  // no test can go on without its folder
        }
        path = pattern;
    }
    ~TempDir() { removeTree(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    // The path of NAME inside the folder.
    std::string file(const std::string& name) const { return path + "/" + name; }

    // Removes PATH and everything below it, without following links.
    static void removeTree(const std::string& path) {
        nftw(
            path.c_str(),
            [](const char* entry, const struct stat*, int, FTW*) { return ::remove(entry); }, 8,
            FTW_DEPTH | FTW_PHYS);
    }
};

// Runs BASE until DONE() holds or LIMIT passes; returns DONE().
inline bool runUntil(event_base* base, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        timeval tick = {0, 10000};  // wake up now and then to look at the clock
        event_base_loopexit(base, &tick);
        event_base_loop(base, EVLOOP_ONCE);
    }
    return done();
}

// Forks; the child runs BODY and _exits with its result, never returning into the tests.
inline pid_t forkChild(const std::function<int()>& body) {
    pid_t pid = fork();
    if (pid == 0) _exit(body());
    return pid;
}

// Waits up to LIMIT for PID to end; returns its wait status, or -1 (after killing it).
inline int waitForExit(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling with a deadline
    }
    return status;
}

// The exit code of a wait status, or -1 when the process did not exit normally.
inline int exitCodeOf(int status) {
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace postern::testing
