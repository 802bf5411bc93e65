// job.h: request intake. Turns a decoded delivery request from qmgr into a DeliveryJob the
// worker can act on: the queue file path checked (exactly "active/<queue ID>", never a path
// taken on trust), the file opened read-only, the content range checked against its size,
// the next hop and the TLS policy parsed. A request that fails these checks is qmgr's bug
// or an impostor's: the worker logs it and hangs up without results.
#pragma once

#include <cstdint>
#include <string>

#include "delivery_protocol.h"
#include "result.h"
#include "routes.h"
#include "tls.h"
#include "unique_fd.h"

namespace postern::smtp {

struct DeliveryJob {
    delivery_protocol::DeliveryRequest request;
    NextHop nexthop;
    tls::ClientTlsPolicy tls;  // level, match names, client certificate (only if named)
    std::string caFile;        // the route's CA file and directory; both empty: the
    std::string caPath;        // process's trust store
    UniqueFd content;          // the queue file, open for reading
    int64_t receivedMicros = 0;  // when the request arrived (delays= "b" ends here)
};

// Checks that queueFile is "active/" followed by queueId, and queueId a valid queue ID.
Status checkQueueFile(const std::string& queueFile, const std::string& queueId);

// Everything about the request but the file: the queue file name, the next hop, the TLS
// level and certificate/key pairing. Fills job.nexthop and job.tls.
Status checkRequest(const delivery_protocol::DeliveryRequest& request, DeliveryJob& job);

// A job for REQUEST: the checks above, then the queue file opened under queueDirectory.
// A file that cannot be opened, or is shorter than the content range, is an error too:
// the caller defers the recipients with it (the message may have been deleted meanwhile).
struct PreparedJob {
    DeliveryJob job;
    std::string error;              // empty when the job is ready
    bool requestMalformed = false;  // with error: the request itself is bad
};
PreparedJob prepareJob(delivery_protocol::DeliveryRequest request,
                       const std::string& queueDirectory, int64_t nowMicros);

}  // namespace postern::smtp
