// bench_tool_test.cpp: unit tests for bench/bench_tool.h (the benchmark tools' SMTP reply
// reader, line reader and options).
// bench_tool.h first: CppUTest's leak detector redefines `new`, which breaks <map> after it.
#include "bench/bench_tool.h"

#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::bench;

TEST_GROUP(BenchReplyReader){};

TEST(BenchReplyReader, MultiLineReplyCompletesOnItsLastLine) {
    ReplyReader reader;
    CHECK_FALSE(reader.feed("250-mx.example").has_value());
    CHECK_FALSE(reader.feed("250-PIPELINING").has_value());
    auto code = reader.feed("250 STARTTLS");
    CHECK_TRUE(code.has_value());
    LONGS_EQUAL(250, *code);
    STRCMP_EQUAL("250-mx.example\n250-PIPELINING\n250 STARTTLS\n", reader.text().c_str());
    reader.clear();
    LONGS_EQUAL(354, *reader.feed("354"));
}

TEST(BenchReplyReader, NonReplyLineIsMinusOne) {
    ReplyReader reader;
    LONGS_EQUAL(-1, *reader.feed("hello"));
    STRCMP_EQUAL("hello\n", reader.text().c_str());
    reader.clear();
    LONGS_EQUAL(-1, *reader.feed("25"));
    LONGS_EQUAL(-1, *reader.feed("2x0 ok"));
}

TEST_GROUP(BenchReadLine){};

TEST(BenchReadLine, WholeLinesOnlyWithCrlfOrLf) {
    EvBufferPtr buffer(evbuffer_new());
    evbuffer_add(buffer.get(), "220 hi\r\n250 ok\npartial", 22);
    STRCMP_EQUAL("220 hi", readLine(buffer.get()).value().c_str());
    STRCMP_EQUAL("250 ok", readLine(buffer.get()).value().c_str());
    CHECK_FALSE(readLine(buffer.get()).has_value());
    LONGS_EQUAL(7, evbuffer_get_length(buffer.get()));
}

TEST_GROUP(BenchOptions){};

TEST(BenchOptions, ValuesFlagsAndFallbacks) {
    const char* argv[] = {"tool", "--connect", "127.0.0.1:25", "--starttls", "--sessions", "42"};
    Options options(6, const_cast<char**>(argv), {"starttls"});
    STRCMP_EQUAL("127.0.0.1:25", options.text("connect").c_str());
    CHECK_TRUE(options.has("starttls"));
    LONGS_EQUAL(42, options.number("sessions", 0));
    LONGS_EQUAL(7, options.number("parallel", 7));
    CHECK_FALSE(options.has("parallel"));
}

TEST(BenchOptions, Ipv4AddressFromHostPort) {
    sockaddr_in address = parseIpv4Address("127.0.0.2:2525");
    LONGS_EQUAL(2525, ntohs(address.sin_port));
    LONGS_EQUAL(0x7f000002, ntohl(address.sin_addr.s_addr));
}
