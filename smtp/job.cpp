// job.cpp: request intake checks and opening the queue file (see job.h).
#include "job.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "queue_id.h"
#include "text_escape.h"

namespace postern::smtp {

namespace {

constexpr std::string_view kActivePrefix = "active/";

}  // namespace

Status checkQueueFile(const std::string& queueFile, const std::string& queueId) {
    if (!queue::isValidQueueId(queueId)) return fail("invalid queue_id \"" + printable(queueId) + "\"");
    if (queueFile.size() != kActivePrefix.size() + queueId.size() ||
        queueFile.compare(0, kActivePrefix.size(), kActivePrefix) != 0 ||
        queueFile.compare(kActivePrefix.size(), std::string::npos, queueId) != 0) {
        return fail("queue_file \"" + printable(queueFile) + "\" is not active/" + queueId);
    }
    return {};
}

Status checkRequest(const delivery_protocol::DeliveryRequest& request, DeliveryJob& job) {
    if (auto checked = checkQueueFile(request.queueFile, request.queueId); !checked) return checked;
    auto nexthop = parseNextHop(request.nexthop);
    if (!nexthop) return fail("bad nexthop: " + nexthop.error());
    if (nexthop->kind == NextHop::Kind::RecipientMx && request.domain.empty())
        return fail("nexthop mx without a domain");
    auto level = tls::parseLevel(request.tls.level);
    if (!level) return level.failure();
    if (request.tls.certFile.empty() && !request.tls.keyFile.empty())
        return fail("tls_key_file without tls_cert_file");
    job.nexthop = std::move(nexthop.value());
    job.tls.level = *level;
    job.tls.match = request.tls.match;
    job.tls.certFile = request.tls.certFile;
    job.tls.keyFile = request.tls.keyFile;
    job.caFile = request.tls.caFile;
    job.caPath = request.tls.caPath;
    return {};
}

PreparedJob prepareJob(delivery_protocol::DeliveryRequest request,
                       const std::string& queueDirectory, int64_t nowMicros) {
    PreparedJob prepared;
    DeliveryJob& job = prepared.job;
    job.receivedMicros = nowMicros;
    Status checked = checkRequest(request, job);
    job.request = std::move(request);
    if (!checked) {
        prepared.error = checked.error();
        prepared.requestMalformed = true;
        return prepared;
    }
    const std::string path = queueDirectory + "/" + job.request.queueFile;
    job.content.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!job.content) {
        prepared.error = "cannot open queue file " + job.request.queueFile + ": " + std::strerror(errno);
        return prepared;
    }
    struct stat info {};
    const auto end = static_cast<uint64_t>(job.request.contentOffset) +
                     static_cast<uint64_t>(job.request.contentLength);
    if (fstat(job.content.get(), &info) != 0 || !S_ISREG(info.st_mode) ||
        static_cast<uint64_t>(info.st_size) < end) {
        prepared.error = "queue file " + job.request.queueFile + " is shorter than its content";
        job.content.reset();
    }
    return prepared;
}

}  // namespace postern::smtp
