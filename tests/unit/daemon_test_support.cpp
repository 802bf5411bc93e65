// daemon_test_support.cpp: the echo daemon and the test's master side (see
// daemon_test_support.h).
#include "daemon_test_support.h"

#include <dirent.h>
#include <poll.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "ipc.h"
#include "listeners.h"
#include "sockets.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

namespace postern::testing {
namespace {

using namespace std::chrono_literals;
using master_protocol::ChildState;
using master_protocol::ChildStatus;

// ---- the echo daemon, run by the child -------------------------------------------------

struct EchoSession {
    UniqueFd fd;
    EventPtr event;
    WorkGuard work;
    std::string buffered;
};

std::map<EchoSession*, std::unique_ptr<EchoSession>> g_sessions;

void sayLine(int fd, const std::string& line) {
    std::string text = line + "\n";
    (void)!write(fd, text.data(), text.size());
}

void onSessionReadable(evutil_socket_t fd, short, void* arg) {
    auto* session = static_cast<EchoSession*>(arg);
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) {
        g_sessions.erase(session);
        return;
    }
    session->buffered.append(chunk, n);
    size_t newline;
    while ((newline = session->buffered.find('\n')) != std::string::npos) {
        std::string line = session->buffered.substr(0, newline);
        session->buffered.erase(0, newline + 1);
        if (line == "ping") sayLine(fd, "pong");
        if (line == "quit") {
            sayLine(fd, "bye");
            g_sessions.erase(session);
            return;
        }
    }
}

void acceptEcho(DaemonContext& context, AcceptedConnection&& connection) {
    auto session = std::make_unique<EchoSession>();
    session->work = context.beginWork();
    context.countUse();
    session->fd = std::move(connection.fd);
    session->event.reset(event_new(context.base(), session->fd.get(), EV_READ | EV_PERSIST,
                                   &onSessionReadable, session.get()));
    event_add(session->event.get(), nullptr);
    sayLine(session->fd.get(), "hello " + connection.listener);
    g_sessions[session.get()] = std::move(session);
}

std::string mailOwner() {
    if (geteuid() == 0) return "nobody";
    const passwd* me = getpwuid(geteuid());
    return me ? me->pw_name : "nobody";
}

}  // namespace

DaemonSpec echoSpec(const std::string& service) {
    DaemonSpec spec;
    spec.service = service;
    spec.onAccept = acceptEcho;
    spec.shutdown = [](DaemonContext&) { g_sessions.clear(); };
    spec.stopTimeout = 3s;
    spec.orphanTimeout = 3s;
    spec.acceptRetryDelay = 50ms;
    spec.statusInterval = 20ms;
    return spec;
}

int runEcho(const DaemonSpec& spec, std::vector<std::string> args) {
    args.insert(args.begin(), spec.service);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    return runDaemon(static_cast<int>(args.size()), argv.data(), spec);
}

Status limitDescriptors(int spare) {
    int open = 0;
    if (DIR* dir = opendir("/proc/self/fd")) {
        while (readdir(dir)) ++open;
        closedir(dir);
        open -= 3;  // ".", ".." and the directory's own descriptor
    }
    rlimit limit = {static_cast<rlim_t>(open + spare), static_cast<rlim_t>(open + spare)};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return fail("setrlimit");
    return {};
}

// ---- the test's side: playing master -----------------------------------------------------

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
}

ChildStatus StatusReader::next() {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
        ipc::DecodeResult result = ipc::decodeFrame(buffered, master_protocol::masterEndRules());
        if (result.status == ipc::DecodeStatus::Error) FAIL(result.error.c_str());
        if (result.status == ipc::DecodeStatus::Message) {
            buffered.erase(0, result.frameBytes);
            auto status = master_protocol::decodeStatus(result.message);
            if (!status.ok()) FAIL(status.error().c_str());
            return *status;
        }
        pollfd readable = {fd, POLLIN, 0};
        if (std::chrono::steady_clock::now() > deadline || poll(&readable, 1, 100) < 0) break;
        char chunk[4096];
        ssize_t n = readable.revents ? read(fd, chunk, sizeof chunk) : -1;
        if (n == 0) FAIL("status channel closed while waiting for a status");
        if (n > 0) buffered.append(chunk, n);
    }
    FAIL("no status frame in time");
    return {};
}

ChildStatus StatusReader::waitFor(ChildState state) {
    for (;;) {
        ChildStatus status = next();
        if (status.state == state) return status;
    }
}

std::string readLine(int fd) {
    std::string line;
    char c;
    for (;;) {
        pollfd readable = {fd, POLLIN, 0};
        if (poll(&readable, 1, 5000) != 1 || read(fd, &c, 1) != 1) return line + "<eof>";
        if (c == '\n') return line;
        line += c;
    }
}

UniqueFd dial(const std::string& endpoint) {
    auto parsed = sockets::parseInetEndpoint(endpoint);
    UniqueFd fd(socket(parsed->address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_EQUAL(0,
                connect(fd.get(), reinterpret_cast<sockaddr*>(&parsed->address), parsed->length));
    return fd;
}

void say(int fd, const std::string& line) {
    sayLine(fd, line);
}

void sendControl(int fd, master_protocol::ControlCommand command) {
    std::string frame = ipc::encodeFrame(master_protocol::encodeControl(command));
    CHECK_EQUAL(static_cast<ssize_t>(frame.size()), write(fd, frame.data(), frame.size()));
}

ChildDaemon::ChildDaemon(const std::string& services) {
    mkdir((dir.path + "/queue").c_str(), 0755);
    configPath = dir.path + "/postern.conf";
    std::ofstream(configPath) << "myhostname = \"test.example\";\n"
                              << "queue_directory = \"" << dir.path << "/queue\";\n"
                              << "log_file = \"" << dir.path << "/maillog\";\n"
                              << "mail_owner = \"" << mailOwner() << "\";\n"
                              << (services.empty() ? "" : "services = ( " + services + " );\n");
}

ChildDaemon::~ChildDaemon() {
    if (pid > 0) waitForExit(pid, 1ms);  // kills a child a failed test left behind
}

void ChildDaemon::start(const DaemonSpec& spec, std::function<Status(DaemonContext&)> init) {
    auto bound = sockets::listenInet("127.0.0.1:0");
    CHECK_TRUE(bound.ok());
    listener = std::move(bound.value());
    endpoint = *sockets::localEndpoint(listener.get());
    int pair[2];
    CHECK_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
    status.reset(pair[0]);
    reader.fd = status.get();
    int childEnd = pair[1];
    pid = forkChild([&] {
        status.reset();
        std::string fds = formatListenFds({{"inet:" + endpoint, listener.get()}});
        setenv(kStatusFdEnv, std::to_string(childEnd).c_str(), 1);
        setenv(kListenFdsEnv, fds.c_str(), 1);
        setenv(kGenerationEnv, "7", 1);
        DaemonSpec withInit = spec;
        withInit.init = init;
        return runEcho(withInit, {"-c", configPath});
    });
    close(childEnd);
}

int ChildDaemon::exitCode(std::chrono::milliseconds limit) {
    int code = exitCodeOf(waitForExit(pid, limit));
    pid = -1;
    return code;
}

}  // namespace postern::testing
