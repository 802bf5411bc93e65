// sockets_test.cpp: unit tests for lib/sockets.h: endpoint parsing, inet listeners on
// 127.0.0.1 and ::1 (port 0), UNIX listeners (stale socket, mode), connects and accepts.
#include "sockets.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>

#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

namespace {

bool waitReadable(int fd) {
    pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 5000) == 1;
}

// Connects a client to LISTENER's endpoint, accepts it, and checks bytes flow.
void checkConnectAndAccept(int listener) {
    auto local = sockets::localEndpoint(listener);
    CHECK_TRUE(local.ok());
    auto endpoint = sockets::parseInetEndpoint(*local);
    CHECK_TRUE(endpoint.ok());
    CHECK(endpoint->port != 0);
    auto client = sockets::connectInet(reinterpret_cast<const sockaddr*>(&endpoint->address),
                                       endpoint->length);
    CHECK_TRUE(client.ok());
    CHECK_TRUE(waitReadable(listener));
    sockaddr_storage peer = {};
    UniqueFd accepted = sockets::acceptConnection(listener, &peer);
    CHECK_TRUE(accepted.valid());
    STRCMP_EQUAL(endpoint->host.c_str(),
                 sockets::formatAddress(reinterpret_cast<sockaddr*>(&peer)).c_str());
    CHECK(fcntl(accepted.get(), F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(accepted.get(), F_GETFD) & FD_CLOEXEC);
    CHECK_EQUAL(2, write(accepted.get(), "hi", 2));
    CHECK_TRUE(waitReadable(client->get()));
    char buffer[4] = {};
    CHECK_EQUAL(2, read(client->get(), buffer, sizeof buffer));
    STRCMP_EQUAL("hi", buffer);
}

}  // namespace

TEST_GROUP(Sockets){};

TEST(Sockets, ParsesEndpoints) {
    auto v4 = sockets::parseInetEndpoint("0.0.0.0:25");
    CHECK_TRUE(v4.ok());
    STRCMP_EQUAL("0.0.0.0", v4->host.c_str());
    LONGS_EQUAL(25, v4->port);
    LONGS_EQUAL(AF_INET, v4->address.ss_family);
    auto v6 = sockets::parseInetEndpoint("[::1]:2525");
    CHECK_TRUE(v6.ok());
    STRCMP_EQUAL("::1", v6->host.c_str());
    LONGS_EQUAL(2525, v6->port);
    LONGS_EQUAL(AF_INET6, v6->address.ss_family);
    for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                            "127.0.0.1:25x", "127.0.0.1:025", ":25", "::1:25", "[::1]25", "[::1",
                            "mail.example.com:25", "[]:25", "1.2.3:25", "[127.0.0.1]:25"}) {
        if (sockets::parseInetEndpoint(bad).ok()) FAIL(bad);
    }
}

TEST(Sockets, ListensOnIpv4PortZero) {
    auto listener = sockets::listenInet("127.0.0.1:0");
    CHECK_TRUE(listener.ok());
    CHECK_TRUE(sockets::isListeningSocket(listener->get()));
    checkConnectAndAccept(listener->get());
}

TEST(Sockets, ListensOnIpv6PortZeroV6Only) {
    auto listener = sockets::listenInet("[::1]:0");
    if (!listener.ok() && listener.error().find("Cannot assign") != std::string::npos) {
        UT_PRINT("no ::1 on this host; skipped");
        return;
    }
    CHECK_TRUE(listener.ok());
    int v6only = 0;
    socklen_t length = sizeof v6only;
    getsockopt(listener->get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &length);
    CHECK_EQUAL(1, v6only);
    checkConnectAndAccept(listener->get());
}

TEST(Sockets, BindingABusyPortFails) {
    auto first = sockets::listenInet("127.0.0.1:0");
    CHECK_TRUE(first.ok());
    auto second = sockets::listenInet(*sockets::localEndpoint(first->get()));
    CHECK_FALSE(second.ok());
    CHECK(second.error().find("bind 127.0.0.1:") == 0);
}

TEST(Sockets, UnixListenerReplacesStaleSocketAndSetsMode) {
    testing::TempDir dir;
    std::string path = dir.path + "/submit";
    {
        auto stale = sockets::listenUnix(path, 0600);
        CHECK_TRUE(stale.ok());
    }
    auto listener = sockets::listenUnix(path, 0666);
    CHECK_TRUE(listener.ok());
    struct stat info = {};
    CHECK_EQUAL(0, stat(path.c_str(), &info));
    CHECK_TRUE(S_ISSOCK(info.st_mode));
    LONGS_EQUAL(0666, info.st_mode & 07777);
    auto client = sockets::connectUnix(path);
    CHECK_TRUE(client.ok());
    CHECK_TRUE(waitReadable(listener->get()));
    CHECK_TRUE(sockets::acceptConnection(listener->get(), nullptr).valid());
}

TEST(Sockets, UnixListenerNeverReplacesARegularFile) {
    testing::TempDir dir;
    std::string path = dir.path + "/file";
    UniqueFd file(open(path.c_str(), O_CREAT | O_WRONLY, 0600));
    auto listener = sockets::listenUnix(path, 0600);
    CHECK_FALSE(listener.ok());
    CHECK(listener.error().find("not a socket") == 0);
}

TEST(Sockets, ConnectingToNobodyFails) {
    testing::TempDir dir;
    auto client = sockets::connectUnix(dir.path + "/nobody");
    CHECK_FALSE(client.ok());
    CHECK_FALSE(sockets::connectUnix(std::string(200, 'x')).ok());
}
