// ipc_channel_test.cpp: unit tests for lib/ipc_channel.h on socket pairs: messages both
// ways, garbage and truncated input closing the channel (never a crash), timeouts, send
// bounds, a handler destroying its channel, and two processes talking.
#include "ipc_channel.h"

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "log.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::ipc;
using postern::testing::runUntil;

namespace {

struct Pair {
    UniqueFd a, b;
    Pair() {
        int fds[2];
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
};

ChannelOptions testOptions(const std::string& peer) {
    ChannelOptions options;
    options.peer = peer;
    options.rules.accepted = {{"test", 1}};
    return options;
}

// A channel that records what it receives and how it closed.
struct Recorder {
    std::vector<Message> received;
    bool closed = false;
    CloseReason reason = CloseReason::Eof;
    std::string detail;
    std::unique_ptr<Channel> channel;

    Recorder(event_base* base, UniqueFd fd, ChannelOptions options = testOptions("peer")) {
        auto opened = Channel::open(
            base, std::move(fd), std::move(options),
            [this](Message&& m) { received.push_back(std::move(m)); },
            [this](CloseReason r, const std::string& d) {
                closed = true;
                reason = r;
                detail = d;
            });
        CHECK_TRUE(opened.ok());
        channel = std::move(opened.value());
    }
};

Message numbered(int n) {
    Message message("test", 1);
    message.addInt("n", n);
    return message;
}

void writeAll(int fd, const std::string& bytes) {
    CHECK_EQUAL(static_cast<ssize_t>(bytes.size()), write(fd, bytes.data(), bytes.size()));
}

}  // namespace

TEST_GROUP(IpcChannel) {
    EventBasePtr base;
    void setup() override {
        base.reset(event_base_new());
    }
    void teardown() override {
        base.reset();
    }
};

TEST(IpcChannel, MessagesFlowBothWaysInOrder) {
    Pair pair;
    Recorder left(base.get(), std::move(pair.a));
    Recorder right(base.get(), std::move(pair.b));
    for (int i = 0; i < 100; ++i) CHECK_TRUE(left.channel->send(numbered(i)).ok());
    CHECK_TRUE(right.channel->send(numbered(-1)).ok());
    CHECK_TRUE(runUntil(base.get(),
                        [&] { return right.received.size() == 100 && left.received.size() == 1; }));
    for (int i = 0; i < 100; ++i) {
        AttributeReader reader(right.received[i]);
        LONGS_EQUAL(i, reader.int64("n", 0, 1000));
        CHECK_TRUE(reader.finish().ok());
    }
    STRCMP_EQUAL("-1", left.received[0].find("n")->c_str());
}

TEST(IpcChannel, GarbageIsLoggedAndDisconnected) {
    Pair pair;
    log::Capture capture;
    Recorder right(base.get(), std::move(pair.b));
    writeAll(pair.a.get(), encodeFrame(numbered(1)) + "GARBAGE\r\nmore garbage");
    CHECK_TRUE(runUntil(base.get(), [&] { return right.closed; }));
    LONGS_EQUAL(1, right.received.size());  // the good frame before the garbage still counts
    LONGS_EQUAL(static_cast<int>(CloseReason::Malformed), static_cast<int>(right.reason));
    CHECK_FALSE(right.channel->isOpen());
    CHECK_TRUE(
        capture.contains("warning: peer: not a postern IPC frame (bad magic); disconnecting"));
    char byte;
    CHECK_EQUAL(0, read(pair.a.get(), &byte, 1));  // the peer sees the connection closed
}

TEST(IpcChannel, UnexpectedProtocolIsGarbage) {
    Pair pair;
    log::Capture capture;
    Recorder right(base.get(), std::move(pair.b));
    writeAll(pair.a.get(), encodeFrame(Message("status", 1)));
    CHECK_TRUE(runUntil(base.get(), [&] { return right.closed; }));
    LONGS_EQUAL(static_cast<int>(CloseReason::Malformed), static_cast<int>(right.reason));
    STRCMP_EQUAL("unexpected protocol status version 1", right.detail.c_str());
}

TEST(IpcChannel, FrameSplitAcrossWritesIsReassembled) {
    Pair pair;
    Recorder right(base.get(), std::move(pair.b));
    Message big("test", 1);
    big.addString("blob", std::string(200000, 'z'));
    std::string frame = encodeFrame(big);
    for (size_t at = 0; at < frame.size(); at += 65536) {
        writeAll(pair.a.get(), frame.substr(at, 65536));
        event_base_loop(base.get(), EVLOOP_NONBLOCK);
    }
    CHECK_TRUE(runUntil(base.get(), [&] { return right.received.size() == 1; }));
    LONGS_EQUAL(200000, right.received[0].find("blob")->size());
}

TEST(IpcChannel, EofAndEofInsideAFrame) {
    Pair clean;
    Recorder quiet(base.get(), std::move(clean.b));
    clean.a.reset();
    CHECK_TRUE(runUntil(base.get(), [&] { return quiet.closed; }));
    LONGS_EQUAL(static_cast<int>(CloseReason::Eof), static_cast<int>(quiet.reason));

    Pair cut;
    log::Capture capture;
    Recorder truncated(base.get(), std::move(cut.b));
    std::string frame = encodeFrame(numbered(5));
    writeAll(cut.a.get(), frame.substr(0, frame.size() - 1));
    cut.a.reset();
    CHECK_TRUE(runUntil(base.get(), [&] { return truncated.closed; }));
    LONGS_EQUAL(static_cast<int>(CloseReason::Malformed), static_cast<int>(truncated.reason));
    LONGS_EQUAL(0, truncated.received.size());
}

TEST(IpcChannel, OversizedFramesAreRefusedBothWays) {
    Pair pair;
    log::Capture capture;
    ChannelOptions small = testOptions("small");
    small.rules.maxFrameBytes = 100;
    Recorder right(base.get(), std::move(pair.b), small);
    Message big("test", 1);
    big.addString("blob", std::string(100, 'x'));
    CHECK_FALSE(right.channel->send(big).ok());
    writeAll(pair.a.get(), encodeFrame(big).substr(0, kFrameHeaderBytes));
    CHECK_TRUE(runUntil(base.get(), [&] { return right.closed; }));
    STRCMP_CONTAINS("exceeds the limit of 100", right.detail.c_str());
}

TEST(IpcChannel, ReadTimeoutCloses) {
    Pair pair;
    ChannelOptions options = testOptions("slow");
    options.readTimeout = std::chrono::milliseconds(30);
    Recorder right(base.get(), std::move(pair.b), options);
    CHECK_TRUE(runUntil(base.get(), [&] { return right.closed; }));
    LONGS_EQUAL(static_cast<int>(CloseReason::Timeout), static_cast<int>(right.reason));
}

TEST(IpcChannel, HandlerMayDestroyItsChannel) {
    Pair pair;
    int seen = 0;
    std::unique_ptr<Channel> channel;
    auto opened = Channel::open(
        base.get(), std::move(pair.b), testOptions("x"),
        [&](Message&&) {
            ++seen;
            channel.reset();
        },
        [](CloseReason, const std::string&) { FAIL("no close callback after destruction"); });
    channel = std::move(opened.value());
    writeAll(pair.a.get(), encodeFrame(numbered(1)) + encodeFrame(numbered(2)));
    CHECK_TRUE(runUntil(base.get(), [&] { return !channel; }));
    event_base_loop(base.get(), EVLOOP_NONBLOCK);
    LONGS_EQUAL(1, seen);
}

TEST(IpcChannel, FlushAndCloseWritesEverythingNow) {
    Pair pair;
    Recorder left(base.get(), std::move(pair.a));
    Message big("test", 1);
    big.addString("blob", std::string(100000, 'b'));  // more than one write's worth
    CHECK_TRUE(left.channel->send(numbered(7)).ok());
    CHECK_TRUE(left.channel->send(big).ok());
    CHECK(left.channel->pendingOutputBytes() > 0);
    std::string expected = encodeFrame(numbered(7)) + encodeFrame(big);
    std::string got;
    std::thread drain([&] {
        char buffer[65536];
        ssize_t n;
        while ((n = read(pair.b.get(), buffer, sizeof buffer)) > 0) got.append(buffer, n);
    });
    Status flushed = left.channel->flushAndClose(std::chrono::seconds(5));
    drain.join();
    STRCMP_EQUAL("", flushed.error().c_str());
    CHECK_FALSE(left.channel->isOpen());
    CHECK_FALSE(left.closed);
    CHECK(expected == got);
}

// The child echoes every message back with "echo" = 1 until EOF, on its own event loop.
static int echoServer(UniqueFd fd) {
    EventBasePtr base(event_base_new());
    std::unique_ptr<Channel> channel;
    bool done = false;
    auto opened = Channel::open(
        base.get(), std::move(fd), testOptions("parent"),
        [&](Message&& m) {
            Message reply("test", 1);
            reply.addString("n", *m.find("n")).addBool("echo", true);
            if (!channel->send(reply).ok()) done = true;
        },
        [&](CloseReason, const std::string&) { done = true; });
    if (!opened) return 2;
    channel = std::move(opened.value());
    while (!done) event_base_loop(base.get(), EVLOOP_ONCE);
    return 0;
}

TEST(IpcChannel, TwoProcessesExchangeMessages) {
    Pair pair;
    int childFd = pair.b.release();
    pid_t child = testing::forkChild([&] {
        pair.a.reset();
        return echoServer(UniqueFd(childFd));
    });
    close(childFd);
    Recorder parent(base.get(), std::move(pair.a));
    for (int i = 0; i < 50; ++i) CHECK_TRUE(parent.channel->send(numbered(i)).ok());
    CHECK_TRUE(runUntil(base.get(), [&] { return parent.received.size() == 50; }));
    for (int i = 0; i < 50; ++i) {
        AttributeReader reader(parent.received[i]);
        LONGS_EQUAL(i, reader.int64("n", 0, 100));
        CHECK_TRUE(reader.boolean("echo"));
        CHECK_TRUE(reader.finish().ok());
    }
    parent.channel->close();
    LONGS_EQUAL(0, testing::exitCodeOf(testing::waitForExit(child)));
}
