// privileges.h: dropping root privileges to the mail_owner account after start-up.
// Started as root, a daemon binds its sockets and opens its files, then becomes
// mail_owner for good; started as any other user, it stays that user.
#pragma once

#include <sys/types.h>

#include <string>

#include "result.h"

namespace postern {

// A user's numeric ids.
struct UserIds {
    uid_t uid = 0;
    gid_t gid = 0;
};

// Looks USER up in the password database; an unknown user is an error that says so.
Result<UserIds> lookUpUser(const std::string& user);

// When the effective uid is 0: switches to USER (supplementary groups, gid, uid) and
// verifies that root cannot be regained. Otherwise does nothing. An unknown user is an error.
Status dropPrivileges(const std::string& user);

}  // namespace postern
