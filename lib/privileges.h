// privileges.h: dropping root privileges to the mail_owner account after start-up.
// Started as root, a daemon binds its sockets and opens its files, then becomes
// mail_owner for good; started as any other user, it stays that user.
#pragma once

#include <string>

#include "result.h"

namespace postern {

// When the effective uid is 0: switches to USER (supplementary groups, gid, uid) and
// verifies that root cannot be regained. Otherwise does nothing. An unknown user is an error.
Status dropPrivileges(const std::string& user);

}  // namespace postern
