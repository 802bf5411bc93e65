// smtp_non_smtp_test.cpp: unit tests for isNonSmtpCommand (lib/smtp_command.h), the lines
// smtpd hangs up on: other protocols talking to the SMTP port.
#include <string>

#include "smtp_command.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern;

TEST_GROUP(NonSmtpCommand){};

TEST(NonSmtpCommand, HttpAndProxyRequestsInAnyCase) {
    CHECK_TRUE(isNonSmtpCommand("GET / HTTP/1.1"));
    CHECK_TRUE(isNonSmtpCommand("post /login HTTP/1.0"));
    CHECK_TRUE(isNonSmtpCommand("CONNECT mx.example.com:25 HTTP/1.1"));
    CHECK_TRUE(isNonSmtpCommand("  GET"));
    CHECK_FALSE(isNonSmtpCommand("GETTING there"));
}

TEST(NonSmtpCommand, HeaderLines) {
    CHECK_TRUE(isNonSmtpCommand("Host: mx.example.com"));
    CHECK_TRUE(isNonSmtpCommand("User-Agent:curl/8.0"));
    CHECK_TRUE(isNonSmtpCommand("Subject: hello"));
    CHECK_FALSE(isNonSmtpCommand("MAIL FROM:<a@b.example>"));
    CHECK_FALSE(isNonSmtpCommand("XFOO bar:baz"));
}

TEST(NonSmtpCommand, LinesNotStartingWithALetter) {
    CHECK_TRUE(isNonSmtpCommand(std::string("\x16\x03\x01\x02\x00\x01", 6)));
    CHECK_TRUE(isNonSmtpCommand("{\"jsonrpc\": \"2.0\"}"));
    CHECK_TRUE(isNonSmtpCommand("<html>"));
    CHECK_TRUE(isNonSmtpCommand("123"));
}

TEST(NonSmtpCommand, CommandsAndMistypedCommandsAreNot) {
    for (const char* line : {"EHLO client.example", "noop", "QUIT", "XCLIENT NAME=x", "BOGUS",
                             "MAIL", "HELO\x7f"}) {
        CHECK_FALSE_TEXT(isNonSmtpCommand(line), line);
    }
    CHECK_FALSE(isNonSmtpCommand(""));
    CHECK_FALSE(isNonSmtpCommand("   "));
}
