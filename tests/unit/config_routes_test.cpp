// config_routes_test.cpp: unit tests for the structured parameters of lib/config.h:
// `routes` (next hops, TLS policies, duplicates) and `services` (overriding the defaults).
#include <unistd.h>

#include <string>

#include "config.h"
#include "config_parse.h"  // last: it brings in CppUTest

using namespace postern;
using postern::testing::parseError;
using postern::testing::parseOk;

TEST_GROUP(ConfigRoutes){};

TEST(ConfigRoutes, ReadsRoutesInFileOrder) {
    Config config = parseOk(
        "routes = (\n"
        "  { domain = \"Partner.Example\"; nexthop = \"[10.1.2.3]:25\"; },\n"
        "  { domain = \".corp.example\"; nexthop = \"relay.corp.example:587\"; },\n"
        "  { domain = \"*\"; nexthop = \"mx\"; }\n"
        ");\n");
    LONGS_EQUAL(3, config.routes.size());
    STRCMP_EQUAL("partner.example", config.routes[0].domain.c_str());
    CHECK(config.routes[0].nexthop.kind == NextHop::Kind::Literal);
    LONGS_EQUAL(2, config.routes[0].sourceLine);
    STRCMP_EQUAL(".corp.example", config.routes[1].domain.c_str());
    LONGS_EQUAL(587, config.routes[1].nexthop.port);
    CHECK(config.routes[2].nexthop.kind == NextHop::Kind::RecipientMx);
    RouteTable table(config.routes);
    STRCMP_EQUAL("relay.corp.example:587",
                 table.lookup("a.corp.example")->nexthop.toString().c_str());
    STRCMP_EQUAL("mx", table.lookup("elsewhere.example")->nexthop.toString().c_str());
}

TEST(ConfigRoutes, RoutesInheritSmtpTlsUnlessTheySetTheirOwn) {
    // routes come before smtp in the file: the defaults still come from smtp.tls.
    Config config = parseOk(
        "routes = ( { domain = \"a.example\"; nexthop = \"mx\"; },\n"
        "  { domain = \"b.example\"; nexthop = \"[10.0.0.2]:25\";\n"
        "    tls = { security_level = \"verify\"; match = [ \"mx.b.example\" ];\n"
        "            cert_file = \"client.pem\"; key_file = \"client.key\"; }; } );\n"
        "smtp = { tls = { security_level = \"encrypt\"; ca_file = \"/etc/ca.pem\"; }; };\n");
    const Route& inherited = config.routes[0];
    CHECK_FALSE(inherited.hasOwnTls);
    CHECK(inherited.tls == config.smtp.tls);
    CHECK(inherited.tls.security_level == SmtpTlsPolicy::Level::Encrypt);
    const Route& own = config.routes[1];
    CHECK_TRUE(own.hasOwnTls);
    CHECK(own.tls.security_level == SmtpTlsPolicy::Level::Verify);
    LONGS_EQUAL(1, own.tls.match.size());
    STRCMP_EQUAL("mx.b.example", own.tls.match[0].c_str());
    STRCMP_EQUAL("/etc/ca.pem", own.tls.ca_file.c_str());
    STRCMP_EQUAL("/etc/postern/client.pem", own.tls.cert_file.c_str());
    STRCMP_EQUAL("/etc/postern/client.key", own.tls.key_file.c_str());
    // No client certificate anywhere unless a route names one.
    CHECK_TRUE(config.smtp.tls.cert_file.empty());
    CHECK_TRUE(inherited.tls.cert_file.empty());
}

TEST(ConfigRoutes, MalformedRoutesNameTheirLine) {
    STRCMP_EQUAL("test.conf:3: routes: next hop \"[10.1.2.3:25\": unbalanced brackets",
                 parseError("routes = (\n  { domain = \"a.example\"; nexthop = \"mx\"; },\n"
                            "  { domain = \"b.example\"; nexthop = \"[10.1.2.3:25\"; } );")
                     .c_str());
    STRCMP_EQUAL("test.conf:1: routes: a route needs a domain and a nexthop",
                 parseError("routes = ( { domain = \"a.example\"; } );").c_str());
    STRCMP_CONTAINS(
        "routes: \"*.example.com\" is not a domain name",
        parseError("routes = ( { domain = \"*.example.com\"; nexthop = \"mx\"; } );").c_str());
    STRCMP_CONTAINS(
        "routes: unknown setting \"next_hop\"",
        parseError("routes = ( { domain = \"a\"; nexthop = \"mx\"; next_hop = \"x\"; } );")
            .c_str());
    STRCMP_CONTAINS("routes: expected a list of groups",
                    parseError("routes = { domain = \"a\"; nexthop = \"mx\"; };").c_str());
    STRCMP_CONTAINS("routes: each entry is a group", parseError("routes = ( \"a\" );").c_str());
    STRCMP_CONTAINS("routes: tls: unknown TLS level \"dane\"",
                    parseError("routes = ( { domain = \"a\"; nexthop = \"mx\";\n"
                               "  tls = { security_level = \"dane\"; }; } );")
                        .c_str());
    STRCMP_EQUAL("test.conf:2: routes: tls: unknown setting \"ask_ccert\"",
                 parseError("routes = ( { domain = \"a\"; nexthop = \"mx\";\n"
                            "  tls = { ask_ccert = true; }; } );")
                     .c_str());
}

TEST(ConfigRoutes, DuplicateDomainsAreRefused) {
    STRCMP_EQUAL("test.conf:3: routes: duplicate route for \"a.example\" (first at line 2)",
                 parseError("routes = (\n  { domain = \"a.example\"; nexthop = \"mx\"; },\n"
                            "  { domain = \"A.Example.\"; nexthop = \"relay.example\"; } );")
                     .c_str());
}

TEST(ConfigRoutes, ClientCertificateNeedsBothFiles) {
    STRCMP_EQUAL("test.conf:1: routes: tls: a client certificate needs both cert_file and key_file",
                 parseError("routes = ( { domain = \"a\"; nexthop = \"mx\"; tls = { cert_file = "
                            "\"c.pem\"; }; } );")
                     .c_str());
}

TEST_GROUP(ConfigServices){};

TEST(ConfigServices, AnEntryOverridesOnlyTheServiceItNames) {
    Config config = parseOk("services = ( { name = \"smtp\"; processes = 5; max_use = 100; } );");
    LONGS_EQUAL(3, config.services.size());
    LONGS_EQUAL(5, config.service("smtp")->processes);
    LONGS_EQUAL(100, config.service("smtp")->max_use);
    LONGS_EQUAL(0, config.service("smtp")->max_idle);
    LONGS_EQUAL(sysconf(_SC_NPROCESSORS_ONLN), config.service("smtpd")->processes);
    LONGS_EQUAL(1, config.service("qmgr")->processes);
    STRCMP_EQUAL("smtpd", config.services[0].name.c_str());
    STRCMP_EQUAL("qmgr", config.services[1].name.c_str());
    STRCMP_EQUAL("smtp", config.services[2].name.c_str());
}

TEST(ConfigServices, KeepsTheDefaultsOfFieldsAnEntryLeavesOut) {
    Config config = parseOk(
        "services = ( { name = \"smtpd\"; max_idle = 60; },\n"
        "  { name = \"qmgr\"; processes = 1; } );");
    LONGS_EQUAL(sysconf(_SC_NPROCESSORS_ONLN), config.service("smtpd")->processes);
    LONGS_EQUAL(60, config.service("smtpd")->max_idle);
    LONGS_EQUAL(2, config.service("smtp")->processes);
}

TEST(ConfigServices, RefusesBadEntries) {
    STRCMP_EQUAL("test.conf:1: services: unknown service \"pickup\" (one of smtpd, qmgr, smtp)",
                 parseError("services = ( { name = \"pickup\"; } );").c_str());
    STRCMP_EQUAL("test.conf:2: services: qmgr runs exactly one process (processes = 1)",
                 parseError("services = (\n { name = \"qmgr\"; processes = 2; } );").c_str());
    STRCMP_CONTAINS(
        "test.conf:2: services: \"smtp\" is listed twice (first at line 1)",
        parseError("services = ( { name = \"smtp\"; },\n { name = \"smtp\"; } );").c_str());
    STRCMP_CONTAINS("services: smtp processes: 0 is out of range",
                    parseError("services = ( { name = \"smtp\"; processes = 0; } );").c_str());
    STRCMP_CONTAINS("services: smtpd max_use: -1 is out of range",
                    parseError("services = ( { name = \"smtpd\"; max_use = -1; } );").c_str());
    STRCMP_CONTAINS("services: a service entry needs a name",
                    parseError("services = ( { processes = 3; } );").c_str());
    STRCMP_CONTAINS("services: unknown setting \"procs\"",
                    parseError("services = ( { name = \"smtp\"; procs = 3; } );").c_str());
}
