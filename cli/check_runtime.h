// check_runtime.h: the checks `postern check` makes beyond the configuration file itself:
// the queue directory's permissions (modes and owner, of the folders and message files),
// each configured certificate against its key, and certificates that have expired or
// expire within kExpiryWarningDays.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "config.h"

namespace postern::cli {

inline constexpr int kExpiryWarningDays = 30;

struct CheckReport {
    std::vector<std::string> problems;  // make `postern check` fail
    std::vector<std::string> warnings;  // said, but not a failure
};

// Checks the folders under queue_directory (when it exists) for their modes (0700; public/
// and pid/ 0755) and for `owner` (all but pid/), and the message files for 0600 and owner.
// Missing folders are no problem: the master creates them.
CheckReport checkQueuePermissions(const Config& config, uid_t owner);

// Checks smtpd.tls's certificate and each route's client certificate: readable, the key
// matches the first certificate, none expired (a problem) or expiring soon (a warning).
// Messages start "DISPLAYPATH:LINE: parameter: file: ".
CheckReport checkCertificates(const Config& config, const std::string& displayPath);

// The owner the queue should have: mail_owner when this runs as root (the daemons drop to
// it), otherwise this user (the daemons stay this user). Fails for an unknown mail_owner.
Result<uid_t> expectedQueueOwner(const Config& config);

}  // namespace postern::cli
