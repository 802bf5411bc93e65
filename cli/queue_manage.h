// queue_manage.h: `postern queue delete|hold|release|requeue|flush` while postern is
// stopped: the same operations qmgr performs for a control request, done directly on the
// queue files, logged like Postfix's postsuper ("ID: removed", "ID: placed on hold",
// "ID: released from hold", "ID: requeued"). The caller holds the master lock (so no
// master starts meanwhile) and prints the reply as it prints qmgr's.
//
//   delete   incoming active deferred hold       removes the file
//   hold     incoming active deferred            moves to hold/
//   release  hold                                moves to deferred/, due now
//   requeue  incoming active deferred hold       moves to incoming/, deferred recipients
//                                                pending again, due now (re-routed)
//   flush    deferred                            due now
// Messages in corrupt/ are never touched. ALL means every message in those queues.
#pragma once

#include <string>
#include <vector>

#include "qmgr_protocol.h"
#include "queue_store.h"

namespace postern::cli {

// The queues an operation applies to, in the order they are searched.
std::vector<queue::QueueName> sourceQueues(qmgr_protocol::ControlOp op);

// Performs the request on the store and logs each message done (log.h). `done` lists the
// IDs acted on, `missing` those not found in a queue the operation applies to; ok is false
// (with the reasons in text) when an operation failed on a message that is there.
qmgr_protocol::ControlReply manageOffline(queue::QueueStore& store,
                                          const qmgr_protocol::ControlRequest& request);

// "removed", "placed on hold", "released from hold", "requeued", "flushed".
const char* doneVerb(qmgr_protocol::ControlOp op);

// "Deleted", "Placed on hold", "Released from hold", "Requeued", "Flushed".
const char* summaryVerb(qmgr_protocol::ControlOp op);

}  // namespace postern::cli
