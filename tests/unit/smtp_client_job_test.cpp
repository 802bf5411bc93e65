// smtp_client_job_test.cpp: unit tests for smtp/job (request intake: the queue file path is
// exactly active/<ID>, the file is opened and its content range checked) and smtp/content
// (the content streamed from an offset of the file, encoded for DATA).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "queue_id.h"
#include "smtp/content.h"
#include "smtp/job.h"
#include "test_support.h"

// CppUTest last: its leak-detector macros redefine new.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::smtp;

namespace {

const std::string kId = queue::makeQueueId(1'700'000'000'000'000, 4242, 7);

delivery_protocol::DeliveryRequest validRequest() {
    delivery_protocol::DeliveryRequest request;
    request.requestId = 1;
    request.queueId = kId;
    request.queueFile = "active/" + kId;
    request.contentOffset = 4;
    request.contentLength = 6;
    request.nexthop = "mx";
    request.domain = "b.example";
    request.tls.level = "may";
    request.recipients.push_back({0, "a@b.example", "", 0});
    return request;
}

void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string drain(evbuffer* buffer) {
    std::string text(evbuffer_get_length(buffer), '\0');
    evbuffer_remove(buffer, text.data(), text.size());
    return text;
}

}  // namespace

TEST_GROUP(SmtpClientJob){};

TEST(SmtpClientJob, QueueFileMustBeActiveSlashTheId) {
    CHECK_TRUE(checkQueueFile("active/" + kId, kId).ok());
    for (const std::string& bad : {"deferred/" + kId, "active/../active/" + kId, "/active/" + kId,
                                   "active/" + kId + "x", "active/" + kId.substr(1), "active//" + kId}) {
        CHECK_FALSE_TEXT(checkQueueFile(bad, kId).ok(), bad.c_str());
    }
    CHECK_FALSE(checkQueueFile("active/../../etc/passwd", "../../etc/passwd").ok());
}

TEST(SmtpClientJob, RequestFieldsAreParsed) {
    DeliveryJob job;
    auto request = validRequest();
    request.nexthop = "[10.0.0.1]:2525";
    request.tls = {"verify", {"nexthop"}, "/ca.pem", "/c.pem", "/k.pem"};
    CHECK_TRUE(checkRequest(request, job).ok());
    CHECK(job.nexthop.kind == NextHop::Kind::Literal);
    LONGS_EQUAL(2525, job.nexthop.port);
    CHECK(job.tls.level == tls::TlsLevel::Verify);
    STRCMP_EQUAL("/c.pem", job.tls.certFile.c_str());
    STRCMP_EQUAL("/ca.pem", job.caFile.c_str());
    request.tls.certFile.clear();
    CHECK_FALSE(checkRequest(request, job).ok());  // a key without a certificate
    request = validRequest();
    request.nexthop = "[unbalanced";
    CHECK_FALSE(checkRequest(request, job).ok());
    request = validRequest();
    request.domain.clear();
    CHECK_FALSE(checkRequest(request, job).ok());  // mx needs the domain
}

TEST(SmtpClientJob, PreparedJobOpensTheFileAndChecksItsSize) {
    testing::TempDir dir;
    mkdir((dir.path + "/active").c_str(), 0700);
    auto request = validRequest();
    auto missing = prepareJob(request, dir.path, 99);
    CHECK_FALSE(missing.requestMalformed);
    CHECK_TRUE(missing.error.find("cannot open queue file active/" + kId) == 0);
    writeFile(dir.path + "/active/" + kId, "HEADhello!");
    auto ready = prepareJob(request, dir.path, 99);
    STRCMP_EQUAL("", ready.error.c_str());
    CHECK_TRUE(ready.job.content.valid());
    LONGS_EQUAL(99, ready.job.receivedMicros);
    request.contentLength = 7;  // one byte past the end
    auto shorter = prepareJob(request, dir.path, 99);
    CHECK_TRUE(shorter.error.find("shorter than its content") != std::string::npos);
    request = validRequest();
    request.queueFile = "active/../active/" + kId;
    CHECK_TRUE(prepareJob(request, dir.path, 99).requestMalformed);
}

TEST_GROUP(SmtpClientContent){};

TEST(SmtpClientContent, StreamsTheRangeEncodedForData) {
    testing::TempDir dir;
    const std::string path = dir.path + "/file";
    std::string content = "Subject: x\r\n\r\n.dot\r\n" + std::string(3000, 'y') + "\r\nlast";
    writeFile(path, "PREFIX" + content + "TRAILER");
    UniqueFd fd(open(path.c_str(), O_RDONLY));
    ContentStream stream(fd.get(), 6, content.size(), 998);
    EvBufferPtr out(evbuffer_new());
    std::string wire;
    for (int rounds = 0; !stream.finished() && rounds < 100; ++rounds) {
        CHECK_TRUE(stream.fill(out.get(), 1024).ok());
        wire += drain(out.get());
    }
    CHECK_TRUE(stream.finished());
    CHECK_TRUE(wire.starts_with("Subject: x\r\n\r\n..dot\r\n"));
    CHECK_TRUE(wire.ends_with("\r\nlast\r\n.\r\n"));
    CHECK_TRUE(wire.find("TRAILER") == std::string::npos);
    CHECK_TRUE(wire.find(std::string(998, 'y') + "\r\n ") != std::string::npos);
}

TEST(SmtpClientContent, AFileThatEndsEarlyIsAnError) {
    testing::TempDir dir;
    const std::string path = dir.path + "/file";
    writeFile(path, "short");
    UniqueFd fd(open(path.c_str(), O_RDONLY));
    ContentStream stream(fd.get(), 0, 100, 998);
    EvBufferPtr out(evbuffer_new());
    Status filled = stream.fill(out.get(), 1 << 20);
    CHECK_FALSE(filled.ok());
    STRCMP_EQUAL("the queue file ended before its content", filled.error().c_str());
    CHECK_FALSE(stream.finished());
}
