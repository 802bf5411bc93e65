// log_test.cpp: unit tests for lib/log.h: line format, escaping, capping, files, capture.
#include "log.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

namespace {

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
}

}  // namespace

TEST_GROUP(Log){void teardown() override{CHECK_TRUE(log::init("", "-").ok());
}
}
;

TEST(Log, EscapesEveryControlCharacter) {
    std::string text("a\rb\nc\td");
    text += '\0';
    text += "\x1b[31m\x7f\x01z\xc3\xa9\xff\xc2\x85";
    STRCMP_EQUAL("a\\rb\\nc\\td\\x00\\x1B[31m\\x7F\\x01z\xc3\xa9\\xFF\\xC2\\x85",
                 log::sanitize(text).c_str());
}

TEST(Log, CapsLongTextWithMarkerWithoutSplittingAnEscape) {
    std::string text(log::kMaxTextBytes - 4, 'a');
    text += "\n";  // its escape would end 2 bytes past the cap with the marker
    text += "bbb";
    std::string out = log::sanitize(text);
    std::string expected(log::kMaxTextBytes - 4, 'a');
    expected += log::kTruncatedMarker;
    STRCMP_EQUAL(expected.c_str(), out.c_str());
    STRCMP_EQUAL("short", log::sanitize("short").c_str());
}

TEST(Log, FormatsPostfixLine) {
    setenv("TZ", "UTC", 1);
    tzset();
    std::string line = log::formatLine(1700000000, "mx1", "postern/smtpd", 42, "connect from x");
    STRCMP_EQUAL("Nov 14 22:13:20 mx1 postern/smtpd[42]: connect from x", line.c_str());
    line = log::formatLine(1699000000, "mx1", "postern/qmgr", 7, "t");
    STRCMP_EQUAL("Nov  3 08:26:40 mx1 postern/qmgr[7]: t", line.c_str());
}

TEST(Log, CaptureGetsPrefixedSanitizedText) {
    log::Capture capture;
    log::info("connect from %s", "evil\r\nfake line");
    log::warning("disk %d%% full", 99);
    log::error("bad");
    log::debug("not shown unless verbose");
    LONGS_EQUAL(3, capture.lines().size());
    STRCMP_EQUAL("connect from evil\\r\\nfake line", capture.lines()[0].c_str());
    STRCMP_EQUAL("warning: disk 99% full", capture.lines()[1].c_str());
    STRCMP_EQUAL("error: bad", capture.lines()[2].c_str());
    CHECK_TRUE(capture.contains("disk 99"));
    CHECK_FALSE(capture.contains("verbose"));
}

TEST(Log, VerboseShowsDebug) {
    log::Capture capture;
    log::setVerbose(true);
    log::debug("detail %d", 1);
    log::setVerbose(false);
    log::debug("hidden");
    LONGS_EQUAL(1, capture.lines().size());
    STRCMP_EQUAL("detail 1", capture.lines()[0].c_str());
}

TEST(Log, HugeFormattedTextIsCapped) {
    log::Capture capture;
    std::string big(3 * log::kMaxTextBytes, 'x');
    log::info("%s", big.c_str());
    LONGS_EQUAL(1, capture.lines().size());
    LONGS_EQUAL(log::kMaxTextBytes, capture.lines()[0].size());
    CHECK(capture.lines()[0].ends_with(log::kTruncatedMarker));
}

TEST(Log, WritesOneLinePerMessageToFileAndReopens) {
    testing::TempDir dir;
    std::string path = dir.path + "/maillog";
    CHECK_TRUE(log::init("smtpd", path).ok());
    STRCMP_EQUAL("postern/smtpd", log::programName().c_str());
    log::info("first %s", "line\nwith newline");
    std::string content = readFile(path);
    // "Mon DD HH:MM:SS host postern/smtpd[pid]: text\n", time and host as they come
    CHECK(content.size() > 16 && content[3] == ' ' && content[6] == ' ' && content[9] == ':' &&
          content[12] == ':' && content[15] == ' ');
    size_t program = content.find(" postern/smtpd[", 16);
    CHECK(program != std::string::npos && content.find(' ', 16) == program);
    size_t pid = program + 15;
    size_t close = content.find("]: ", pid);
    CHECK(close != std::string::npos && close > pid);
    CHECK(content.find_first_not_of("0123456789", pid) == close);
    STRCMP_EQUAL("first line\\nwith newline\n", content.substr(close + 3).c_str());
    CHECK_EQUAL(0, rename(path.c_str(), (path + ".1").c_str()));
    CHECK_TRUE(log::reopen().ok());
    log::warning("second");
    CHECK_TRUE(readFile(path).find("postern/smtpd[") != std::string::npos);
    CHECK_TRUE(readFile(path).find(": warning: second\n") != std::string::npos);
    CHECK_TRUE(readFile(path + ".1").find("second") == std::string::npos);
}

TEST(Log, UnopenableFileIsAnError) {
    auto status = log::init("smtpd", "/nonexistent-dir/maillog");
    CHECK_FALSE(status.ok());
    CHECK_TRUE(status.error().find("/nonexistent-dir/maillog") != std::string::npos);
}

TEST(Log, FatalExitsButMessageAtFatalReturns) {
    pid_t child = testing::forkChild([] {
        log::Capture capture;
        log::message(log::Level::Fatal, "still here");
        if (capture.lines().size() != 1 || capture.lines()[0] != "fatal: still here") return 3;
        log::fatal("going %s", "away");
        return 4;  // not reached
    });
    LONGS_EQUAL(1, testing::exitCodeOf(testing::waitForExit(child)));
}
