// privileges.cpp: the root to mail_owner switch (see privileges.h).
#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace postern {
namespace {

Error systemError(const std::string& what) { return fail(what + ": " + std::strerror(errno)); }

Status verifyDropped(const std::string& user, const UserIds& ids) {
    if (getuid() != ids.uid || geteuid() != ids.uid || getgid() != ids.gid ||
        getegid() != ids.gid) {
        return fail("privileges of " + user + " not fully taken");
    }
    if (ids.uid != 0 && setuid(0) == 0) return fail("could regain root after switching to " + user);
    return {};
}

}  // namespace

Result<UserIds> lookUpUser(const std::string& user) {
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? size : 16384);
    passwd entry = {};
    passwd* found = nullptr;
    int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0) return fail("cannot look up user " + user + ": " + std::strerror(rc));
    if (!found) return fail("unknown user " + user + " (mail_owner); create it or set mail_owner");
    return UserIds{entry.pw_uid, entry.pw_gid};
}

Status dropPrivileges(const std::string& user) {
    if (geteuid() != 0) return {};
    auto ids = lookUpUser(user);
    if (!ids) return ids.failure();
    if (initgroups(user.c_str(), ids->gid) != 0) return systemError("initgroups " + user);
    if (setgid(ids->gid) != 0) return systemError("setgid " + user);
    if (setuid(ids->uid) != 0) return systemError("setuid " + user);
    return verifyDropped(user, *ids);
}

}  // namespace postern
