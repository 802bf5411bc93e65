// listeners_test.cpp: unit tests for lib/listeners.h: the POSTERN_LISTEN_FDS text, which
// service owns which sockets, and binding UNIX sockets under the queue directory.
#include "listeners.h"

#include <sys/stat.h>

#include <vector>

#include "sockets.h"
#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

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
