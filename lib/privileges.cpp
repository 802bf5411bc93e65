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

Error systemError(const std::string& what) {
    return fail(what + ": " + std::strerror(errno));
}

struct Account {
    uid_t uid;
    gid_t gid;
};

Result<Account> lookUpAccount(const std::string& user) {
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buffer(size > 0 ? size : 16384);
    passwd entry = {};
    passwd* found = nullptr;
    int rc = getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (rc != 0) return fail("cannot look up user " + user + ": " + std::strerror(rc));
    if (!found) return fail("unknown user " + user + " (mail_owner); create it or set mail_owner");
    return Account{entry.pw_uid, entry.pw_gid};
}

Status verifyDropped(const std::string& user, const Account& account) {
    if (getuid() != account.uid || geteuid() != account.uid || getgid() != account.gid ||
        getegid() != account.gid) {
        return fail("privileges of " + user + " not fully taken");
    }
    if (account.uid != 0 && setuid(0) == 0)
        return fail("could regain root after switching to " + user);
    return {};
}

}  // namespace

Status dropPrivileges(const std::string& user) {
    if (geteuid() != 0) return {};
    auto account = lookUpAccount(user);
    if (!account) return account.failure();
    if (initgroups(user.c_str(), account->gid) != 0) return systemError("initgroups " + user);
    if (setgid(account->gid) != 0) return systemError("setgid " + user);
    if (setuid(account->uid) != 0) return systemError("setuid " + user);
    return verifyDropped(user, *account);
}

}  // namespace postern
