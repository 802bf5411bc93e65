// qmgr_routing_test.cpp: unit tests for qmgr/routing.h (targets and grouping through the
// configuration's routes) and qmgr/settings.h (back-off, the configuration's values).
#include "config.h"
#include "qmgr/routing.h"
#include "qmgr/settings.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern;
using namespace postern::qmgr;

namespace {

Config configWith(const char* text) {
    auto config = parseConfigText(text, "test.conf", "/tmp");
    CHECK_TEXT(config.ok(), config.ok() ? "" : config.error().c_str());
    return config.value();
}

const char* kRoutes = R"(
myhostname = "mx.test.example";
routes = (
  { domain = "partner.example"; nexthop = "[10.1.2.3]:2525";
    tls = { security_level = "verify"; match = [ "mx.partner.example" ]; }; },
  { domain = ".corp.example"; nexthop = "relay.corp.example";
    tls = { security_level = "encrypt"; ca_path = "/etc/corp-cas"; }; },
  { domain = "*"; nexthop = "mx"; }
);
)";

}  // namespace

TEST_GROUP(QmgrRouting){};

TEST(QmgrRouting, ResolvesThroughTheRouteTable) {
    Config config = configWith(kRoutes);
    Router router(config);
    Target partner = router.resolve("a@Partner.Example");
    STRCMP_EQUAL("[10.1.2.3]:2525", partner.nexthop.c_str());
    STRCMP_EQUAL("partner.example", partner.domain.c_str());
    LONGS_EQUAL(int(SmtpTlsPolicy::Level::Verify), int(partner.tls->security_level));
    Target corp = router.resolve("b@dept.corp.example");
    STRCMP_EQUAL("relay.corp.example", corp.nexthop.c_str());
    Target other = router.resolve("c@elsewhere.example");
    STRCMP_EQUAL("mx", other.nexthop.c_str());
    STRCMP_EQUAL("elsewhere.example", other.domain.c_str());
    LONGS_EQUAL(int(SmtpTlsPolicy::Level::May), int(other.tls->security_level));
}

TEST(QmgrRouting, KeysShareARelayButNotAnMxLookup) {
    Config config = configWith(kRoutes);
    Router router(config);
    CHECK_TRUE(router.resolve("a@one.corp.example").key ==
               router.resolve("b@two.corp.example").key);
    CHECK_TRUE(router.resolve("a@one.example").key != router.resolve("b@two.example").key);
    CHECK_TRUE(router.resolve("a@one.example").key == router.resolve("b@ONE.example.").key);
}

TEST(QmgrRouting, WithoutRoutesEveryDomainGoesToItsMx) {
    Config config = configWith("myhostname = \"mx.test.example\";");
    Router router(config);
    Target target = router.resolve("user@example.net");
    STRCMP_EQUAL("mx", target.nexthop.c_str());
    STRCMP_EQUAL("example.net", target.domain.c_str());
    // A bare local part goes to myorigin (here myhostname).
    STRCMP_EQUAL("mx.test.example", router.resolve("postmaster").domain.c_str());
}

TEST(QmgrRouting, GroupsInOrderWithinTheLimit) {
    Config config = configWith(kRoutes);
    Router router(config);
    std::vector<std::string_view> addresses = {"a@x.corp.example", "b@partner.example",
                                               "c@y.corp.example", "d@z.corp.example"};
    auto groups = groupRecipients(router, addresses, {0, 1, 2, 3}, 2);
    LONGS_EQUAL(3, groups.size());
    LONGS_EQUAL(2, groups[0].recipients.size());
    LONGS_EQUAL(2, groups[0].recipients[1]);
    LONGS_EQUAL(1, groups[1].recipients[0]);
    LONGS_EQUAL(3, groups[2].recipients[0]);
    CHECK_TRUE(groupRecipients(router, addresses, {}, 2).empty());
}

TEST(QmgrRouting, TlsPolicyInWireForm) {
    Config config = configWith(kRoutes);
    Router router(config);
    auto tls = requestTls(*router.resolve("a@partner.example").tls);
    STRCMP_EQUAL("verify", tls.level.c_str());
    LONGS_EQUAL(1, tls.match.size());
    STRCMP_EQUAL("mx.partner.example", tls.match[0].c_str());
    auto corp = requestTls(*router.resolve("a@x.corp.example").tls);
    STRCMP_EQUAL("encrypt", corp.level.c_str());
    STRCMP_EQUAL("/etc/corp-cas", corp.caPath.c_str());
}

TEST_GROUP(QmgrSettings){};

TEST(QmgrSettings, BackoffDoublesUpToTheMaximum) {
    Settings settings;
    settings.minimalBackoff = 300;
    settings.maximalBackoff = 4000;
    LONGS_EQUAL(300, backoffAfter(settings, 0));
    LONGS_EQUAL(300, backoffAfter(settings, 1));
    LONGS_EQUAL(600, backoffAfter(settings, 2));
    LONGS_EQUAL(2400, backoffAfter(settings, 4));
    LONGS_EQUAL(4000, backoffAfter(settings, 5));
    LONGS_EQUAL(4000, backoffAfter(settings, 4000000000u));
}

TEST(QmgrSettings, ComeFromTheConfiguration) {
    Config config = configWith(R"(
myhostname = "mx.test.example";
soft_bounce = true;
bounce_size_limit = 1234;
qmgr = { minimal_backoff_time = 1; maximal_backoff_time = 7; delay_warning_time = 9;
         destination_recipient_limit = 3; };
smtp = { connect_timeout = 1; helo_timeout = 1; starttls_timeout = 1; mail_timeout = 1;
         rcpt_timeout = 1; data_init_timeout = 1; data_xfer_timeout = 1; data_done_timeout = 1;
         quit_timeout = 1; mx_session_limit = 2; };
)");
    Settings settings = Settings::from(config);
    STRCMP_EQUAL("mx.test.example", settings.myhostname.c_str());
    CHECK_TRUE(settings.softBounce);
    LONGS_EQUAL(1234, settings.bounceSizeLimit);
    CHECK_EQUAL(int64_t(1000000), settings.minimalBackoff);
    CHECK_EQUAL(int64_t(7000000), settings.maximalBackoff);
    CHECK_EQUAL(int64_t(9000000), settings.delayWarningTime);
    LONGS_EQUAL(3, settings.destinationRecipientLimit);
    LONGS_EQUAL((9 * 2 + 60) * 1000, settings.workerTimeout.count());
}
