// spawner.h: starting one child process the way docs/IPC.md says children are started:
// fork, the descriptors it inherits moved to fixed numbers (status channel at 3, listening
// sockets from 4 on, everything else left close-on-exec), POSTERN_* in its environment,
// exec of libexec/postern/SERVICE -c CONFIG. Also the words for how a child ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "result.h"

namespace postern::master {

// The status channel's number in the child; listeners follow it.
constexpr int kChildStatusFd = 3;

// One descriptor of master's that the child gets as TARGET.
struct InheritedFd {
    int source = -1;
    int target = -1;
};

// A listening socket a child inherits: its name ("inet:127.0.0.1:25") and master's fd.
struct ListenerFd {
    std::string name;
    int fd = -1;
};

// Which descriptors a child gets and the environment that describes them.
struct DescriptorPlan {
    std::vector<InheritedFd> fds;
    std::vector<std::string> environment;  // "POSTERN_STATUS_FD=3", ...
};

// The plan for a child with its status channel end STATUS_FD, LISTENERS in order, and
// master's GENERATION.
DescriptorPlan planDescriptors(int statusFd, const std::vector<ListenerFd>& listeners,
                               int64_t generation);

// What to run.
struct SpawnRequest {
    std::string program;                 // absolute path; also argv[0]
    std::vector<std::string> arguments;  // after argv[0]
    // Added to (and replacing the same names in) master's environment. DROPPED names are
    // removed from it (NOTIFY_SOCKET is master's alone).
    std::vector<std::string> environment;
    std::vector<std::string> dropped;
    std::vector<InheritedFd> fds;
};

// Forks and execs REQUEST; returns the child's pid. A failed exec ends the child with
// exit status 127 after a line on its stderr. Signals that arrive between fork and exec
// are not taken for master's (they are blocked around the fork, reset in the child).
Result<pid_t> spawnProcess(const SpawnRequest& request);

// "exit status 1", "killed by signal 9" (with " (core dumped)" when it did).
std::string describeWaitStatus(int status);
// True when the wait status is anything but exit status 0.
bool endedAbnormally(int status);

}  // namespace postern::master
