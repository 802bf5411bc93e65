// queue_show.h: `postern queue show ID`: one message in full, in the spirit of Postfix's
// postcat -q: the envelope (sender, arrival, size, client, DSN parameters, schedule), each
// recipient with its state and reason, then the header and the body of the content, each
// part under a "*** ... ***" line. Untrusted bytes are escaped as in the logs (tabs kept).
#pragma once

#include <cstdio>

#include "queue_message.h"
#include "queue_store.h"
#include "result.h"

namespace postern::cli {

struct ShowParts {
    bool envelope = true;
    bool headers = true;
    bool body = true;
};

// Writes the chosen parts of an open message (in `queue`) to `out`.
Status showMessage(queue::QueueName queue, queue::MessageHandle& message, const ShowParts& parts,
                   std::FILE* out);

}  // namespace postern::cli
