// daemon_test.cpp: unit tests for lib/daemon.h. Each test forks a child that runs the real
// skeleton (runDaemon) with a tiny "echo" daemon, while the test plays master: it holds
// the other end of the status channel and the listening socket, reads status frames, talks
// to sessions, sends signals and control frames, and checks how the child exits.
#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ipc.h"
#include "listeners.h"
#include "master_protocol.h"
#include "sockets.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace std::chrono_literals;
using master_protocol::ChildState;
using master_protocol::ChildStatus;

namespace {

// ---- the echo daemon, run by the child -------------------------------------------------

// One session: greets with "hello", answers "ping" with "pong", "quit" with "bye" and ends.
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

// Lowers the descriptor limit to what is open now plus SPARE (for the EMFILE test).
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

// ---- the test's side: playing master -----------------------------------------------------

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
}

std::string mailOwner() {
    if (geteuid() == 0) return "nobody";
    const passwd* me = getpwuid(geteuid());
    return me ? me->pw_name : "nobody";
}

// Reads status frames from the child, one at a time, with a deadline.
struct StatusReader {
    int fd = -1;
    std::string buffered;

    ChildStatus next() {
        auto deadline = std::chrono::steady_clock::now() + 5s;
        for (;;) {
            ipc::DecodeResult result =
                ipc::decodeFrame(buffered, master_protocol::masterEndRules());
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

    // Reads frames until one in STATE arrives; returns it.
    ChildStatus waitFor(ChildState state) {
        for (;;) {
            ChildStatus status = next();
            if (status.state == state) return status;
        }
    }
};

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

// A forked child running the echo daemon as master would start it.
struct ChildDaemon {
    testing::TempDir dir;
    std::string configPath;
    std::string endpoint;  // "127.0.0.1:PORT", the inherited listener
    UniqueFd listener;     // master's copy
    UniqueFd status;       // master's end of the status channel
    StatusReader reader;
    pid_t pid = -1;

    explicit ChildDaemon(const std::string& services = "") {
        mkdir((dir.path + "/queue").c_str(), 0755);
        configPath = dir.path + "/postern.conf";
        std::ofstream(configPath) << "myhostname = \"test.example\";\n"
                                  << "queue_directory = \"" << dir.path << "/queue\";\n"
                                  << "log_file = \"" << dir.path << "/maillog\";\n"
                                  << "mail_owner = \"" << mailOwner() << "\";\n"
                                  << (services.empty() ? "" : "services = ( " + services + " );\n");
    }

    ~ChildDaemon() {
        if (pid > 0) testing::waitForExit(pid, 1ms);  // kills a child a failed test left behind
    }

    void start(const DaemonSpec& spec, std::function<Status(DaemonContext&)> init = nullptr) {
        auto bound = sockets::listenInet("127.0.0.1:0");
        CHECK_TRUE(bound.ok());
        listener = std::move(bound.value());
        endpoint = *sockets::localEndpoint(listener.get());
        int pair[2];
        CHECK_EQUAL(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair));
        status.reset(pair[0]);
        reader.fd = status.get();
        int childEnd = pair[1];
        pid = testing::forkChild([&] {
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

    int exitCode(std::chrono::milliseconds limit = 10s) {
        int code = testing::exitCodeOf(testing::waitForExit(pid, limit));
        pid = -1;
        return code;
    }

    std::string log() const { return readFile(dir.path + "/maillog"); }
};

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
    ChildDaemon child;
    DaemonSpec spec = echoSpec("smtpd");
    spec.stopTimeout = 200ms;
    child.start(spec);
    child.reader.waitFor(ChildState::Ready);
    UniqueFd client = dial(child.endpoint);
    readLine(client.get());
    kill(child.pid, SIGTERM);
    LONGS_EQUAL(0, child.exitCode(5s));
    STRCMP_EQUAL("<eof>", readLine(client.get()).c_str());
    STRCMP_CONTAINS("warning: stop deadline passed with 1 in flight", child.log().c_str());
}

TEST(Daemon, StopFrameFromMaster) {
    ChildDaemon child;
    child.start(echoSpec("smtpd"));
    child.reader.waitFor(ChildState::Ready);
    std::string frame =
        ipc::encodeFrame(master_protocol::encodeControl(master_protocol::ControlCommand::Stop));
    CHECK_EQUAL(static_cast<ssize_t>(frame.size()),
                write(child.status.get(), frame.data(), frame.size()));
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

TEST(Daemon, RetiresAfterMaxUse) {
    ChildDaemon child("{ name = \"smtpd\"; max_use = 2; }");
    child.start(echoSpec("smtpd"));
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

TEST(Daemon, StandaloneBindsItsOwnSockets) {
    ChildDaemon child;
    pid_t pid = testing::forkChild([&] {
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
    LONGS_EQUAL(0, testing::exitCodeOf(testing::waitForExit(pid)));
    STRCMP_CONTAINS("postern/qmgr[", child.log().c_str());
}

TEST(Daemon, ArgumentAndStartupErrors) {
    ChildDaemon child;
    auto exitOf = [](std::vector<std::string> args, const DaemonSpec& spec) {
        pid_t pid = testing::forkChild([&] {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            unsetenv(kStatusFdEnv);
            return runEcho(spec, args);
        });
        return testing::exitCodeOf(testing::waitForExit(pid));
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

TEST(Daemon, BadInheritanceIsAStartupError) {
    ChildDaemon child;
    pid_t pid = testing::forkChild([&] {
        setenv(kStatusFdEnv, "0", 1);  // stdin: not a socket
        return runEcho(echoSpec("smtpd"), {"-c", child.configPath});
    });
    LONGS_EQUAL(1, testing::exitCodeOf(testing::waitForExit(pid)));
    STRCMP_CONTAINS("fatal: POSTERN_STATUS_FD: descriptor 0 is not an open socket",
                    child.log().c_str());
}

TEST_GROUP(Listeners){};

TEST(Listeners, ListenFdsRoundTripAndStrictParsing) {
    std::vector<InheritedListener> listeners = {
        {"inet:127.0.0.1:2525", 4}, {"inet:[::1]:25", 5}, {"unix:public/submit", 6}};
    std::string text = formatListenFds(listeners);
    STRCMP_EQUAL("inet:127.0.0.1:2525=4,inet:[::1]:25=5,unix:public/submit=6", text.c_str());
    auto parsed = parseListenFds(text);
    CHECK_TRUE(parsed.ok());
    LONGS_EQUAL(3, parsed->size());
    STRCMP_EQUAL("inet:[::1]:25", (*parsed)[1].name.c_str());
    LONGS_EQUAL(5, (*parsed)[1].fd);
    CHECK_TRUE(parseListenFds("")->empty());
    for (const char* bad :
         {"inet:1.2.3.4:25", "inet:1.2.3.4:25=", "inet:1.2.3.4:25=x", "inet:1.2.3.4:25=-1",
          "tcp:1.2.3.4:25=4", "inet:=4", "unix:a=4,unix:a=5", "unix:a=4,unix:b=4", "unix:a=4,",
          ",unix:a=4", "unix:a=04"}) {
        if (parseListenFds(bad).ok()) FAIL(bad);
    }
}

TEST(Listeners, EachServiceOwnsItsSockets) {
    Config config;
    config.smtpd.listen = {{"127.0.0.1", 2525}, {"::1", 25}};
    auto smtpd = serviceListeners("smtpd", config);
    CHECK_TRUE(smtpd.ok());
    LONGS_EQUAL(3, smtpd->size());
    STRCMP_EQUAL("inet:127.0.0.1:2525", (*smtpd)[0].name().c_str());
    STRCMP_EQUAL("inet:[::1]:25", (*smtpd)[1].name().c_str());
    STRCMP_EQUAL("unix:public/submit", (*smtpd)[2].name().c_str());
    LONGS_EQUAL(0666, (*smtpd)[2].mode);
    STRCMP_EQUAL("unix:private/qmgr", (*serviceListeners("qmgr", config))[0].name().c_str());
    STRCMP_EQUAL("unix:private/smtp", (*serviceListeners("smtp", config))[0].name().c_str());
    LONGS_EQUAL(0600, (*serviceListeners("smtp", config))[0].mode);
    CHECK_TRUE(serviceListeners("master", config)->empty());
}

TEST(Listeners, BindsUnixSocketsUnderTheQueueDirectory) {
    testing::TempDir dir;
    ListenerSpec spec{ListenerKind::Unix, "public/submit", 0666};
    auto fd = bindListener(spec, dir.path, std::nullopt);
    CHECK_TRUE(fd.ok());
    struct stat info = {};
    CHECK_EQUAL(0, stat((dir.path + "/public").c_str(), &info));
    LONGS_EQUAL(0755, info.st_mode & 0777);
    CHECK_EQUAL(0, stat((dir.path + "/public/submit").c_str(), &info));
    LONGS_EQUAL(0666, info.st_mode & 0777);
    CHECK_TRUE(sockets::isListeningSocket(fd->get()));
}
