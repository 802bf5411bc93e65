// privileges_test.cpp: unit tests for lib/privileges.h. Each drop runs in a forked child,
// since it cannot be undone; the child reports through its exit status.
#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;

static int exitCodeOfChild(const std::function<int()>& body) {
    return testing::exitCodeOf(testing::waitForExit(testing::forkChild(body)));
}

TEST_GROUP(Privileges){};

TEST(Privileges, RootBecomesTheUserForGood) {
    if (geteuid() != 0) {
        UT_PRINT("not root; the drop itself cannot be tested");
        return;
    }
    const passwd* nobody = getpwnam("nobody");
    CHECK(nobody != nullptr);
    uid_t uid = nobody->pw_uid;
    gid_t gid = nobody->pw_gid;
    int rc = exitCodeOfChild([&] {
        if (!dropPrivileges("nobody").ok()) return 1;
        if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) return 2;
        if (setuid(0) == 0 || seteuid(0) == 0) return 3;
        gid_t groups[64];
        int n = getgroups(64, groups);
        for (int i = 0; i < n; ++i) {
            if (groups[i] == 0) return 4;  // root's supplementary groups are gone
        }
        return 0;
    });
    LONGS_EQUAL(0, rc);
}

TEST(Privileges, UnknownUserIsAClearError) {
    if (geteuid() != 0) return;
    Status status = dropPrivileges("no-such-user-postern-test");
    CHECK_FALSE(status.ok());
    STRCMP_CONTAINS("unknown user no-such-user-postern-test", status.error().c_str());
    LONGS_EQUAL(0, geteuid());
}

TEST(Privileges, NonRootIsLeftAlone) {
    int rc = exitCodeOfChild([] {
        if (geteuid() == 0 && !dropPrivileges("nobody").ok()) return 1;
        uid_t before = geteuid();
        if (!dropPrivileges("no-such-user-postern-test").ok()) return 2;
        return geteuid() == before ? 0 : 3;
    });
    LONGS_EQUAL(0, rc);
}
