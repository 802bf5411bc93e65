// smtpd_notifier_test.cpp: unit tests for smtpd/qmgr_notifier.h: notices reach a listening
// "qmgr" as qmgr-notify frames over one connection; with nobody listening they are dropped
// without a connect attempt per message; a qmgr that went away is reconnected lazily.
#include <signal.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "ipc.h"
#include "qmgr_protocol.h"
#include "smtpd/qmgr_notifier.h"
#include "sockets.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtpd;
using postern::testing::runUntil;

namespace {

// Reads every whole frame available on fd into `ids` (the queue_id of each notice).
void readNotices(int fd, std::string& buffered, std::vector<std::string>& ids) {
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT)) > 0) buffered.append(chunk, size_t(n));
    for (;;) {
        auto decoded = ipc::decodeFrame(buffered, qmgr_protocol::qmgrEndRules());
        if (decoded.status != ipc::DecodeStatus::Message) return;
        buffered.erase(0, decoded.frameBytes);
        auto incoming = qmgr_protocol::decodeIncoming(decoded.message);
        CHECK_TRUE(incoming.ok());
        ids.push_back(std::get<qmgr_protocol::NewMessage>(incoming.value()).queueId);
    }
}

}  // namespace

TEST_GROUP(SmtpdNotifier) {
    // Writing to a qmgr that went away must be an error, not a death (the daemons ignore
    // SIGPIPE from the start; the test binary does it here).
    void setup() override {
        previousSigpipe = signal(SIGPIPE, SIG_IGN);
    }
    void teardown() override {
        signal(SIGPIPE, previousSigpipe);  // main() ignores it for the whole binary
    }
    sighandler_t previousSigpipe = SIG_DFL;
    EventBasePtr base{event_base_new()};
    postern::testing::TempDir dir;
    std::string path() const {
        return dir.path + "/qmgr";
    }
};

TEST(SmtpdNotifier, NoticesReachQmgrOverOneConnection) {
    auto listener = sockets::listenUnix(path(), 0600);
    CHECK_TRUE(listener.ok());
    QmgrNotifier notifier(base.get(), path());
    CHECK_TRUE(notifier.notify("08DxhjkM3601qw000"));
    CHECK_TRUE(notifier.notify("08DxhjkM3601qw001"));
    UniqueFd qmgr = sockets::acceptConnection(listener.value().get(), nullptr);
    CHECK_TRUE(qmgr.valid());
    std::string buffered;
    std::vector<std::string> ids;
    CHECK_TRUE(runUntil(base.get(), [&] {
        readNotices(qmgr.get(), buffered, ids);
        return ids.size() == 2;
    }));
    STRCMP_EQUAL("08DxhjkM3601qw000", ids[0].c_str());
    STRCMP_EQUAL("08DxhjkM3601qw001", ids[1].c_str());
    // Only one connection was made.
    CHECK_FALSE(sockets::acceptConnection(listener.value().get(), nullptr).valid());
}

TEST(SmtpdNotifier, NoQmgrDropsTheNoticeAndWaitsBeforeTryingAgain) {
    QmgrNotifier notifier(base.get(), path());
    CHECK_FALSE(notifier.notify("08DxhjkM3601qw000"));
    // qmgr comes up, but within the retry delay nobody tries to connect.
    auto listener = sockets::listenUnix(path(), 0600);
    CHECK_TRUE(listener.ok());
    CHECK_FALSE(notifier.notify("08DxhjkM3601qw001"));
    CHECK_FALSE(sockets::acceptConnection(listener.value().get(), nullptr).valid());
}

TEST(SmtpdNotifier, ReconnectsAfterQmgrWentAway) {
    auto listener = sockets::listenUnix(path(), 0600);
    CHECK_TRUE(listener.ok());
    QmgrNotifier notifier(base.get(), path());
    CHECK_TRUE(notifier.notify("08DxhjkM3601qw000"));
    {
        UniqueFd first = sockets::acceptConnection(listener.value().get(), nullptr);
        CHECK_TRUE(first.valid());
    }  // qmgr closes the connection
    // The channel sees the EOF on the loop; the next notice opens a new connection.
    runUntil(
        base.get(), [] { return false; }, std::chrono::milliseconds(50));
    CHECK_TRUE(notifier.notify("08DxhjkM3601qw002"));
    UniqueFd second = sockets::acceptConnection(listener.value().get(), nullptr);
    CHECK_TRUE(second.valid());
}
