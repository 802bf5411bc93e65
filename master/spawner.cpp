// spawner.cpp: fork and exec of one child with its inherited descriptors (see spawner.h).
#include "spawner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "listeners.h"

extern char** environ;

namespace postern::master {
namespace {

std::string nameOf(const std::string& assignment) {
    return assignment.substr(0, assignment.find('='));
}

// Master's environment without the names REQUEST sets or drops, then REQUEST's settings.
std::vector<std::string> childEnvironment(const SpawnRequest& request) {
    std::vector<std::string> replaced = request.dropped;
    for (const auto& setting : request.environment) replaced.push_back(nameOf(setting));
    std::vector<std::string> result;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string setting = *entry;
        if (std::find(replaced.begin(), replaced.end(), nameOf(setting)) == replaced.end())
            result.push_back(std::move(setting));
    }
    result.insert(result.end(), request.environment.begin(), request.environment.end());
    return result;
}

std::vector<char*> pointersTo(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& text : strings) pointers.push_back(text.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Writes "PREFIX errno N\n" to stderr with async-signal-safe calls only.
void reportExecFailure(const std::string& prefix, int error) {
    char digits[16];
    int length = 0;
    do {
        digits[sizeof(digits) - 1 - length++] = char('0' + error % 10);
        error /= 10;
    } while (error > 0 && length < 15);
    (void)!write(STDERR_FILENO, prefix.data(), prefix.size());
    (void)!write(STDERR_FILENO, digits + sizeof(digits) - length, length);
    (void)!write(STDERR_FILENO, "\n", 1);
}

// In the forked child: async-signal-safe calls only, then exec.
[[noreturn]] void becomeChild(const SpawnRequest& request, char** argv, char** envp,
                              const std::string& failurePrefix) {
    struct sigaction byDefault = {};
    byDefault.sa_handler = SIG_DFL;
    for (int number = 1; number < NSIG; ++number) {
        struct sigaction current = {};
        if (sigaction(number, nullptr, &current) != 0) continue;
        if (current.sa_handler != SIG_IGN && current.sa_handler != SIG_DFL)
            sigaction(number, &byDefault, nullptr);  // master's (libevent's) handlers are not the child's
    }
    int firstFree = kChildStatusFd;
    for (const auto& fd : request.fds) firstFree = std::max(firstFree, fd.target + 1);
    // Copies above every target first, so no move overwrites a source still to be moved.
    std::vector<int> copies(request.fds.size(), -1);
    for (size_t i = 0; i < request.fds.size(); ++i) {
        copies[i] = fcntl(request.fds[i].source, F_DUPFD_CLOEXEC, firstFree);
        if (copies[i] < 0) _exit(126);
    }
    for (size_t i = 0; i < request.fds.size(); ++i) {
        if (dup2(copies[i], request.fds[i].target) < 0) _exit(126);  // dup2 clears CLOEXEC
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(argv[0], argv, envp);
    reportExecFailure(failurePrefix, errno);
    _exit(127);
}

}  // namespace

DescriptorPlan planDescriptors(int statusFd, const std::vector<ListenerFd>& listeners,
                               int64_t generation) {
    DescriptorPlan plan;
    plan.fds.push_back({statusFd, kChildStatusFd});
    std::vector<InheritedListener> inherited;
    int next = kChildStatusFd + 1;
    for (const auto& listener : listeners) {
        plan.fds.push_back({listener.fd, next});
        inherited.push_back({listener.name, next});
        ++next;
    }
    plan.environment = {
        std::string(kStatusFdEnv) + "=" + std::to_string(kChildStatusFd),
        std::string(kListenFdsEnv) + "=" + formatListenFds(inherited),
        std::string(kGenerationEnv) + "=" + std::to_string(generation),
    };
    return plan;
}

Result<pid_t> spawnProcess(const SpawnRequest& request) {
    // Everything the child needs is made before fork: after it, no allocation.
    std::vector<std::string> argvStrings = {request.program};
    argvStrings.insert(argvStrings.end(), request.arguments.begin(), request.arguments.end());
    std::vector<std::string> envStrings = childEnvironment(request);
    std::vector<char*> argv = pointersTo(argvStrings);
    std::vector<char*> envp = pointersTo(envStrings);
    std::string failurePrefix = "postern/master: cannot execute " + request.program + ": errno ";

    sigset_t all, previous;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) becomeChild(request, argv.data(), envp.data(), failurePrefix);
    int forkError = errno;
    sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) return fail("fork: " + std::string(std::strerror(forkError)));
    return pid;
}

std::string describeWaitStatus(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        return "killed by signal " + std::to_string(WTERMSIG(status)) +
               (WCOREDUMP(status) ? " (core dumped)" : "");
    }
    return "wait status " + std::to_string(status);
}

bool endedAbnormally(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

}  // namespace postern::master
