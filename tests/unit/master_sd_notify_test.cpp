// master_sd_notify_test.cpp: unit tests for master/sd_notify.h: NOTIFY_SOCKET values, and
// real datagrams received on a path socket and on an abstract one.
#include "master/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdlib>

#include "test_support.h"
#include "unique_fd.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::master;

namespace {

// A datagram socket bound to the NOTIFY_SOCKET value NAME.
UniqueFd listenFor(const std::string& name) {
    auto where = parseNotifySocket(name);
    if (!where) return UniqueFd();
    UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&where->address), where->length) != 0)
        return UniqueFd();
    return fd;
}

std::string receive(int fd) {
    char buffer[512];
    ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    return n < 0 ? "(nothing)" : std::string(buffer, size_t(n));
}

}  // namespace

TEST_GROUP(MasterSdNotify) {
    void teardown() override { unsetenv("NOTIFY_SOCKET"); }
};

TEST(MasterSdNotify, PathAndAbstractAddresses) {
    auto path = parseNotifySocket("/run/systemd/notify");
    CHECK_TRUE(path.ok());
    STRCMP_EQUAL("/run/systemd/notify", path->address.sun_path);
    LONGS_EQUAL(offsetof(sockaddr_un, sun_path) + 20, path->length);

    auto abstract = parseNotifySocket("@postern/notify");
    CHECK_TRUE(abstract.ok());
    LONGS_EQUAL(0, abstract->address.sun_path[0]);
    MEMCMP_EQUAL("postern/notify", abstract->address.sun_path + 1, 14);
    LONGS_EQUAL(offsetof(sockaddr_un, sun_path) + 15, abstract->length);
}

TEST(MasterSdNotify, RefusesWhatIsNeitherPathNorAbstract) {
    CHECK_FALSE(parseNotifySocket("").ok());
    CHECK_FALSE(parseNotifySocket("@").ok());
    CHECK_FALSE(parseNotifySocket("relative/path").ok());
    CHECK_FALSE(parseNotifySocket("/" + std::string(107, 'x')).ok());  // no room for the NUL
    CHECK_TRUE(parseNotifySocket("/" + std::string(106, 'x')).ok());
    CHECK_TRUE(parseNotifySocket("@" + std::string(107, 'x')).ok());
}

TEST(MasterSdNotify, WithoutNotifySocketNothingIsSent) {
    unsetenv("NOTIFY_SOCKET");
    CHECK_TRUE(notifyServiceManager("READY=1").ok());
}

TEST(MasterSdNotify, SendsOneDatagramToAPathSocket) {
    testing::TempDir dir;
    std::string name = dir.path + "/notify";
    UniqueFd listener = listenFor(name);
    CHECK_TRUE(listener.valid());
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
    CHECK_TRUE(notifyServiceManager("READY=1\nSTATUS=accepting mail").ok());
    STRCMP_EQUAL("READY=1\nSTATUS=accepting mail", receive(listener.get()).c_str());
}

TEST(MasterSdNotify, SendsToAnAbstractSocket) {
    std::string name = "@postern-test-notify-" + std::to_string(getpid());
    UniqueFd listener = listenFor(name);
    CHECK_TRUE(listener.valid());
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
    CHECK_TRUE(notifyServiceManager("STOPPING=1").ok());
    STRCMP_EQUAL("STOPPING=1", receive(listener.get()).c_str());
}

TEST(MasterSdNotify, ReloadingCarriesTheMonotonicClock) {
    std::string state = reloadingState();
    CHECK_TRUE(state.starts_with("RELOADING=1\nMONOTONIC_USEC="));
    timespec now = {};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long sent = std::atoll(state.c_str() + state.find('=', 12) + 1);
    long long usec = (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    CHECK_TRUE(sent > 0 && sent <= usec && usec - sent < 5000000);
}

TEST(MasterSdNotify, ANotifySocketNobodyListensOnIsAnError) {
    setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
    CHECK_FALSE(notifyServiceManager("READY=1").ok());
}
