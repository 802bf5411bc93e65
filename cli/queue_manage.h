// queue_manage.h: `postern queue delete|hold|release|requeue|flush` while postern is
// stopped: what qmgr does for a control request (qmgr/queue_manager_control.cpp), done
// directly on the queue files and logged like Postfix's postsuper ("ID: removed", "ID:
// placed on hold", "ID: released from hold", "ID: requeued"). The caller holds the master
// lock (so no master starts meanwhile) and prints the reply as it prints qmgr's.
//
//   delete   any queue but corrupt/             removes the file
//   hold     incoming active deferred           moves to hold/ (on hold already: skipped)
//   release  hold                               moves to deferred/, due now (else skipped)
//   requeue  active deferred hold (incoming)    moves to incoming/, due now, deferred
//                                               recipients pending again (re-routed)
//   flush    deferred (others: nothing to do)   due now (on hold: skipped)
// ALL stands for every message of the queues named first in each row. Messages in
// corrupt/ are never touched.
#pragma once

#include <string>
#include <vector>

#include "qmgr_protocol.h"
#include "queue_store.h"

namespace postern::cli {

// Performs the request on the store and logs each message done (log.h). `done` lists the
// IDs acted on, `missing` those not in the queue; `text` sums up like qmgr's ("hold: 2
// done, 1 already on hold"); ok is false when an operation failed on a message that is
// there (the reasons then follow in text).
qmgr_protocol::ControlReply manageOffline(queue::QueueStore& store,
                                          const qmgr_protocol::ControlRequest& request);

// "removed", "placed on hold", "released from hold", "requeued", "flushed".
const char* doneVerb(qmgr_protocol::ControlOp op);

}  // namespace postern::cli
