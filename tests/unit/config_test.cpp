// config_test.cpp: unit tests for lib/config.h: defaults, type and range errors with their
// file and line, the validators, relative paths, services and routes.
#include "config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config_parse.h"  // last: it brings in CppUTest

using namespace postern;
using postern::testing::parseError;
using postern::testing::parseOk;

TEST_GROUP(Config){};

TEST(Config, EmptyFileGivesTheDefaults) {
    Config config = parseOk("");
    STRCMP_EQUAL(machineHostName().c_str(), config.myhostname.c_str());
    STRCMP_EQUAL(config.myhostname.c_str(), config.smtp.helo_name.c_str());
    STRCMP_EQUAL(config.myhostname.c_str(), config.myorigin.c_str());
    LONGS_EQUAL(50000, config.bounce_size_limit);
    LONGS_EQUAL(60, config.service_throttle_time);
    LONGS_EQUAL(5, config.smtp.mx_address_limit);
    LONGS_EQUAL(2, config.smtp.mx_session_limit);
    CHECK_TRUE(config.smtp.connection_cache);
    LONGS_EQUAL(2, config.smtp.connection_cache_time_limit);
    LONGS_EQUAL(300, config.smtp.connection_reuse_time_limit);
    LONGS_EQUAL(0, config.smtp.connection_reuse_count_limit);
    STRCMP_EQUAL("postern", config.mail_owner.c_str());
    STRCMP_EQUAL("/var/spool/postern", config.queue_directory.c_str());
    STRCMP_EQUAL("syslog", config.log_file.c_str());
    LONGS_EQUAL(2, config.mynetworks.size());
    STRCMP_EQUAL("127.0.0.0/8", config.mynetworks[0].toString().c_str());
    STRCMP_EQUAL("::1/128", config.mynetworks[1].toString().c_str());
    CHECK_TRUE(config.relay_domains.empty());
    LONGS_EQUAL(10240000, config.message_size_limit);
    LONGS_EQUAL(50, config.hopcount_limit);
    CHECK_TRUE(config.smtputf8_enable);
    CHECK_FALSE(config.soft_bounce);
    LONGS_EQUAL(1, config.smtpd.listen.size());
    STRCMP_EQUAL("0.0.0.0:25", config.smtpd.listen[0].toString().c_str());
    LONGS_EQUAL(1000, config.smtpd.recipient_limit);
    CHECK(config.smtpd.forbid_bare_newline == SmtpdConfig::BareNewline::Normalize);
    CHECK(config.smtpd.tls.security_level == SmtpdTlsConfig::Level::None);
    CHECK(config.smtp.tls.security_level == SmtpTlsPolicy::Level::May);
    LONGS_EQUAL(2, config.smtp.tls.match.size());
    LONGS_EQUAL(600, config.smtp.data_done_timeout);
    LONGS_EQUAL(4000, config.qmgr.maximal_backoff_time);
    LONGS_EQUAL(432000, config.qmgr.maximal_queue_lifetime);
    CHECK_TRUE(config.routes.empty());
    CHECK_TRUE(config.setInFile.empty());
    CHECK_TRUE(config.path.empty());
}

TEST(Config, DefaultServiceTable) {
    Config config = parseOk("");
    LONGS_EQUAL(3, config.services.size());
    LONGS_EQUAL(sysconf(_SC_NPROCESSORS_ONLN), config.service("smtpd")->processes);
    LONGS_EQUAL(1, config.service("qmgr")->processes);
    LONGS_EQUAL(2, config.service("smtp")->processes);
    LONGS_EQUAL(0, config.service("smtp")->max_use);
    CHECK(config.service("pickup") == nullptr);
}

TEST(Config, ReadsEveryKindOfValue) {
    Config config = parseOk(
        "myhostname = \"MX1.Example.COM\";\n"
        "message_size_limit = 20480000;\n"
        "queue_minfree = 4294967296;\n"
        "soft_bounce = true;\n"
        "relay_domains = [ \"Example.ORG.\", \".sub.example\" ];\n"
        "dns_servers = [ \"127.0.0.1:5353\", \"::1\", \"[::1]:53\" ];\n"
        "smtpd = { listen = [ \"127.0.0.1:2525\", \"[::1]:2525\" ];\n"
        "  forbid_bare_newline = \"reject\"; banner = \"ESMTP ready\";\n"
        "  tls = { ask_ccert = true; }; };\n"
        "smtp = { helo_name = \"out.example.com\"; tls = { security_level = \"secure\";\n"
        "  match = [ \"nexthop\" ]; }; };\n"
        "qmgr = { delay_warning_time = 14400; };\n");
    STRCMP_EQUAL("mx1.example.com", config.myhostname.c_str());
    STRCMP_EQUAL("mx1.example.com", config.myorigin.c_str());
    LONGS_EQUAL(20480000, config.message_size_limit);
    CHECK(config.queue_minfree == 4294967296LL);
    CHECK_TRUE(config.soft_bounce);
    STRCMP_EQUAL("example.org", config.relay_domains[0].c_str());
    STRCMP_EQUAL(".sub.example", config.relay_domains[1].c_str());
    LONGS_EQUAL(5353, config.dns_servers[0].port);
    STRCMP_EQUAL("::1", config.dns_servers[1].host.c_str());
    LONGS_EQUAL(53, config.dns_servers[1].port);
    STRCMP_EQUAL("[::1]:2525", config.smtpd.listen[1].toString().c_str());
    CHECK(config.smtpd.forbid_bare_newline == SmtpdConfig::BareNewline::Reject);
    STRCMP_EQUAL("ESMTP ready", config.smtpd.banner.c_str());
    CHECK_TRUE(config.smtpd.tls.ask_ccert);
    STRCMP_EQUAL("out.example.com", config.smtp.helo_name.c_str());
    CHECK(config.smtp.tls.security_level == SmtpTlsPolicy::Level::Secure);
    LONGS_EQUAL(1, config.smtp.tls.match.size());
    LONGS_EQUAL(14400, config.qmgr.delay_warning_time);
    LONGS_EQUAL(2, config.setInFile.at("queue_minfree") - 1);
    CHECK_TRUE(config.isSet("smtpd.tls.ask_ccert"));
    CHECK_FALSE(config.isSet("smtpd.tls.security_level"));
}

TEST(Config, UnknownParametersNameFileAndLine) {
    STRCMP_EQUAL(
        "test.conf:3: unknown parameter \"smtpd.recipient_limt\" "
        "(did you mean \"smtpd.recipient_limit\"?)",
        parseError("# comment\nsmtpd = {\n  recipient_limt = 5;\n};\n").c_str());
    STRCMP_EQUAL("test.conf:2: unknown parameter \"frobnicate\"",
                 parseError("\nfrobnicate = 1;\n").c_str());
    STRCMP_EQUAL("test.conf:1: unknown parameter \"smtpd.tls.foo\"",
                 parseError("smtpd = { tls = { foo = 1; }; };").c_str());
    STRCMP_EQUAL("test.conf:1: smtpd: expected a group { ... }", parseError("smtpd = 5;").c_str());
}

TEST(Config, WrongTypes) {
    STRCMP_EQUAL("test.conf:1: message_size_limit: expected an integer",
                 parseError("message_size_limit = \"10M\";").c_str());
    STRCMP_EQUAL("test.conf:1: message_size_limit: expected an integer",
                 parseError("message_size_limit = 1.5;").c_str());
    STRCMP_EQUAL("test.conf:1: soft_bounce: expected a boolean (true or false)",
                 parseError("soft_bounce = \"yes\";").c_str());
    STRCMP_EQUAL("test.conf:1: myhostname: expected a string",
                 parseError("myhostname = 5;").c_str());
    STRCMP_CONTAINS("test.conf:1: mynetworks: expected a list of strings",
                    parseError("mynetworks = \"127.0.0.0/8\";").c_str());
    STRCMP_EQUAL("test.conf:2: relay_domains: expected a list of strings",
                 parseError("relay_domains = ( \"a.example\",\n 5 );").c_str());
    STRCMP_EQUAL("test.conf:1: smtpd.tls.security_level: expected a string",
                 parseError("smtpd = { tls = { security_level = true; }; };").c_str());
}

TEST(Config, OutOfRangeValues) {
    STRCMP_EQUAL(
        "test.conf:1: smtpd.recipient_limit: -5 is out of range (at least 1, at most "
        "2147483647)",
        parseError("smtpd = { recipient_limit = -5; };").c_str());
    STRCMP_CONTAINS("message_size_limit: -1 is out of range",
                    parseError("message_size_limit = -1;").c_str());
    STRCMP_CONTAINS("smtp.connect_timeout: 0 is out of range",
                    parseError("smtp = { connect_timeout = 0; };").c_str());
    // Beyond 32 bits without libconfig's "L": read right, then refused for an int field.
    STRCMP_CONTAINS("line_length_limit: 4294967296 is out of range",
                    parseError("line_length_limit = 4294967296;").c_str());
    LONGS_EQUAL(0, parseOk("smtpd = { error_sleep_time = 0; };").smtpd.error_sleep_time);
}

TEST(Config, ValidatesValues) {
    STRCMP_EQUAL("test.conf:3: mynetworks: \"10.0.0.0/33\" is not a valid CIDR network",
                 parseError("mynetworks = [\n  \"10.0.0.0/8\",\n  \"10.0.0.0/33\" ];").c_str());
    STRCMP_EQUAL(
        "test.conf:1: smtpd.tls.security_level: unknown TLS level \"verify\" (one of "
        "none, may, encrypt)",
        parseError("smtpd = { tls = { security_level = \"verify\"; }; };").c_str());
    STRCMP_CONTAINS("smtp.tls.security_level: unknown TLS level \"maybe\"",
                    parseError("smtp = { tls = { security_level = \"maybe\"; }; };").c_str());
    STRCMP_CONTAINS("smtpd.forbid_bare_newline: unknown value \"strip\"",
                    parseError("smtpd = { forbid_bare_newline = \"strip\"; };").c_str());
    STRCMP_CONTAINS("smtpd.listen: \"127.0.0.1\": missing port",
                    parseError("smtpd = { listen = [ \"127.0.0.1\" ]; };").c_str());
    STRCMP_CONTAINS("dns_servers: \"ns.example\": a DNS server is an IP address",
                    parseError("dns_servers = [ \"ns.example\" ];").c_str());
    STRCMP_CONTAINS("myhostname: \"bad name\" is not a valid host name",
                    parseError("myhostname = \"bad name\";").c_str());
    STRCMP_CONTAINS("relay_domains: \"*\" is not a domain name",
                    parseError("relay_domains = [ \"*\" ];").c_str());
    STRCMP_CONTAINS("smtpd.banner: control characters",
                    parseError("smtpd = { banner = \"a\\nb\"; };").c_str());
    STRCMP_CONTAINS("mail_owner: must not be empty", parseError("mail_owner = \"\";").c_str());
}

TEST(Config, ServerTlsNeedsCertificateAndKey) {
    STRCMP_EQUAL(
        "test.conf:2: smtpd.tls.security_level: \"may\" needs smtpd.tls.cert_file and "
        "smtpd.tls.key_file",
        parseError("smtpd = { tls = {\n security_level = \"may\";\n"
                   " cert_file = \"cert.pem\"; }; };")
            .c_str());
    STRCMP_CONTAINS("\"encrypt\" needs",
                    parseError("smtpd = { tls = { security_level = \"encrypt\"; }; };").c_str());
    STRCMP_EQUAL(
        "test.conf:1: smtpd.tls.key_file: smtpd.tls.cert_file and smtpd.tls.key_file go "
        "together",
        parseError("smtpd = { tls = { key_file = \"key.pem\"; }; };").c_str());
    Config config = parseOk(
        "smtpd = { tls = { security_level = \"encrypt\"; cert_file = \"cert.pem\";\n"
        "  key_file = \"/keys/key.pem\"; ca_file = \"../ca.pem\"; }; };");
    STRCMP_EQUAL("/etc/postern/cert.pem", config.smtpd.tls.cert_file.c_str());
    STRCMP_EQUAL("/keys/key.pem", config.smtpd.tls.key_file.c_str());
    STRCMP_EQUAL("/etc/ca.pem", config.smtpd.tls.ca_file.c_str());
}

TEST(Config, BackoffTimesMustBeOrdered) {
    STRCMP_EQUAL(
        "test.conf:1: qmgr.maximal_backoff_time: qmgr.minimal_backoff_time (300) is "
        "above qmgr.maximal_backoff_time (100)",
        parseError("qmgr = { maximal_backoff_time = 100; };").c_str());
    LONGS_EQUAL(10, parseOk("qmgr = { minimal_backoff_time = 10; maximal_backoff_time = 10; };")
                        .qmgr.maximal_backoff_time);
}

TEST(Config, LibconfigSyntaxErrorsKeepTheirLine) {
    STRCMP_CONTAINS("test.conf:3: ", parseError("a = 1;\n\nb = [ 1, \"x\" ];\n").c_str());
    STRCMP_CONTAINS("test.conf:2: ",
                    parseError("soft_bounce = true;\nsoft_bounce = false;\n").c_str());
    STRCMP_CONTAINS("test.conf:1: ", parseError("smtpd = { ").c_str());
}

TEST(Config, ReportsEveryErrorInLineOrder) {
    std::string errors = parseError(
        "routes = ( { domain = \"a.example\"; nexthop = \"[x\"; } );\n"
        "soft_bounce = 1;\n"
        "nonsense = 2;\n");
    STRCMP_CONTAINS("test.conf:1: routes:", errors.c_str());
    CHECK(errors.find("test.conf:1:") < errors.find("test.conf:2:"));
    CHECK(errors.find("test.conf:2:") < errors.find("test.conf:3:"));
}

TEST(Config, RelativePathsFollowTheFilesFolder) {
    Config config = parseOk(
        "queue_directory = \"../var/spool\";\nlog_file = \"log/postern.log\";\n"
        "smtp = { tls = { ca_file = \"ca.pem\"; ca_path = \"/etc/ssl/certs\"; }; };",
        "/srv/postern/conf");
    STRCMP_EQUAL("/srv/postern/var/spool", config.queue_directory.c_str());
    STRCMP_EQUAL("/srv/postern/conf/log/postern.log", config.log_file.c_str());
    STRCMP_EQUAL("/srv/postern/conf/ca.pem", config.smtp.tls.ca_file.c_str());
    STRCMP_EQUAL("/etc/ssl/certs", config.smtp.tls.ca_path.c_str());
    STRCMP_EQUAL("-", parseOk("log_file = \"-\";").log_file.c_str());
    STRCMP_EQUAL("syslog", parseOk("log_file = \"syslog\";").log_file.c_str());
}

TEST(Config, LoadsAFileAndRemembersItsAbsolutePath) {
    char folder[] = "/tmp/postern-config-test-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    std::string path = std::string(folder) + "/postern.conf";
    std::ofstream(path) << "queue_directory = \"spool\";\n";
    auto config = loadConfig(path);
    CHECK_TEXT(config.ok(), config.ok() ? "" : config.error().c_str());
    STRCMP_EQUAL(path.c_str(), config->path.c_str());
    STRCMP_EQUAL((std::string(folder) + "/spool").c_str(), config->queue_directory.c_str());
    std::ofstream(path) << "\nmessage_size_limit = true;\n";
    auto broken = loadConfig(path);
    CHECK_FALSE(broken.ok());
    STRCMP_EQUAL((path + ":2: message_size_limit: expected an integer").c_str(),
                 broken.error().c_str());
    std::remove(path.c_str());
    ::rmdir(folder);
    auto missing = loadConfig(path);
    CHECK_FALSE(missing.ok());
    STRCMP_EQUAL((path + ": cannot open: No such file or directory").c_str(),
                 missing.error().c_str());
}

TEST(Config, IncludedFilesAreNamedInErrors) {
    char folder[] = "/tmp/postern-include-test-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    std::string main = std::string(folder) + "/main.conf";
    std::string extra = std::string(folder) + "/extra.conf";
    std::ofstream(main) << "soft_bounce = true;\n@include \"extra.conf\"\n";
    std::ofstream(extra) << "\nhopcount_limit = 7;\n";
    auto config = loadConfig(main);
    CHECK_TEXT(config.ok(), config.ok() ? "" : config.error().c_str());
    LONGS_EQUAL(7, config->hopcount_limit);
    CHECK_TRUE(config->soft_bounce);
    std::ofstream(extra) << "\nhopcount_limit = \"x\";\n";
    auto broken = loadConfig(main);
    CHECK_FALSE(broken.ok());
    STRCMP_EQUAL((extra + ":2: hopcount_limit: expected an integer").c_str(),
                 broken.error().c_str());
    ::unlink(extra.c_str());
    ::unlink(main.c_str());
    ::rmdir(folder);
}
