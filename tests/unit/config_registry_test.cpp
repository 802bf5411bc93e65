// config_registry_test.cpp: unit tests for lib/config_registry.h (parameters as text, for
// `postern config`), lib/config_check.h (files a configuration names) and lib/paths.h.
#include "config_registry.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "config_check.h"
#include "config_parse.h"  // last: it brings in CppUTest
#include "paths.h"

using namespace postern;
using postern::testing::parseOk;

namespace {

ParameterInfo info(const Config& config, const char* name) {
    auto found = describeParameter(config, name);
    CHECK_TEXT(found.has_value(), name);
    return *found;
}

// Every parameter DESIGN.md and README.md promise.
const std::vector<std::string> kExpectedNames = {"bounce_size_limit",
                                                 "dns_servers",
                                                 "header_size_limit",
                                                 "hopcount_limit",
                                                 "line_length_limit",
                                                 "log_file",
                                                 "mail_owner",
                                                 "message_size_limit",
                                                 "myhostname",
                                                 "mynetworks",
                                                 "myorigin",
                                                 "qmgr.active_limit",
                                                 "qmgr.bounce_queue_lifetime",
                                                 "qmgr.delay_warning_time",
                                                 "qmgr.destination_concurrency_limit",
                                                 "qmgr.destination_recipient_limit",
                                                 "qmgr.maximal_backoff_time",
                                                 "qmgr.maximal_queue_lifetime",
                                                 "qmgr.minimal_backoff_time",
                                                 "qmgr.queue_run_delay",
                                                 "qmgr.total_concurrency_limit",
                                                 "queue_directory",
                                                 "queue_file_recycle_limit",
                                                 "queue_minfree",
                                                 "relay_domains",
                                                 "routes",
                                                 "service_throttle_time",
                                                 "services",
                                                 "smtp.connect_timeout",
                                                 "smtp.connection_cache",
                                                 "smtp.connection_cache_time_limit",
                                                 "smtp.connection_reuse_count_limit",
                                                 "smtp.connection_reuse_time_limit",
                                                 "smtp.data_done_timeout",
                                                 "smtp.data_init_timeout",
                                                 "smtp.data_xfer_timeout",
                                                 "smtp.helo_name",
                                                 "smtp.helo_timeout",
                                                 "smtp.line_length_limit",
                                                 "smtp.mail_timeout",
                                                 "smtp.mx_address_limit",
                                                 "smtp.mx_session_limit",
                                                 "smtp.process_delivery_limit",
                                                 "smtp.quit_timeout",
                                                 "smtp.rcpt_timeout",
                                                 "smtp.rset_timeout",
                                                 "smtp.starttls_timeout",
                                                 "smtp.tls.ca_file",
                                                 "smtp.tls.ca_path",
                                                 "smtp.tls.match",
                                                 "smtp.tls.security_level",
                                                 "smtpd.banner",
                                                 "smtpd.client_connection_count_limit",
                                                 "smtpd.error_sleep_time",
                                                 "smtpd.forbid_bare_newline",
                                                 "smtpd.hard_error_limit",
                                                 "smtpd.helo_required",
                                                 "smtpd.listen",
                                                 "smtpd.process_connection_limit",
                                                 "smtpd.recipient_limit",
                                                 "smtpd.soft_error_limit",
                                                 "smtpd.timeout",
                                                 "smtpd.tls.ask_ccert",
                                                 "smtpd.tls.ca_file",
                                                 "smtpd.tls.cert_file",
                                                 "smtpd.tls.key_file",
                                                 "smtpd.tls.security_level",
                                                 "smtputf8_enable",
                                                 "soft_bounce"};

}  // namespace

TEST_GROUP(ConfigRegistry){};

TEST(ConfigRegistry, ListsEveryParameterSortedByName) {
    std::vector<std::string> names = parameterNames();
    CHECK(std::is_sorted(names.begin(), names.end()));
    LONGS_EQUAL(kExpectedNames.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i)
        STRCMP_EQUAL(kExpectedNames[i].c_str(), names[i].c_str());
    auto described = describeParameters(parseOk(""));
    LONGS_EQUAL(names.size(), described.size());
    for (const auto& parameter : described) CHECK_FALSE(parameter.type.empty());
}

TEST(ConfigRegistry, DefaultsPrintAsText) {
    Config config = parseOk("");
    STRCMP_EQUAL("127.0.0.0/8, ::1/128", info(config, "mynetworks").defaultValue.c_str());
    STRCMP_EQUAL("false", info(config, "smtpd.tls.ask_ccert").defaultValue.c_str());
    STRCMP_EQUAL("true", info(config, "smtputf8_enable").defaultValue.c_str());
    STRCMP_EQUAL("ESMTP postern", info(config, "smtpd.banner").defaultValue.c_str());
    STRCMP_EQUAL("", info(config, "relay_domains").defaultValue.c_str());
    STRCMP_EQUAL("none", info(config, "smtpd.tls.security_level").defaultValue.c_str());
    STRCMP_EQUAL("nexthop, dot-nexthop", info(config, "smtp.tls.match").defaultValue.c_str());
    STRCMP_EQUAL("0.0.0.0:25", info(config, "smtpd.listen").defaultValue.c_str());
    STRCMP_EQUAL("", info(config, "smtp.helo_name").defaultValue.c_str());
    STRCMP_EQUAL(machineHostName().c_str(), info(config, "myhostname").defaultValue.c_str());
    STRCMP_EQUAL("none|may|encrypt|verify|secure",
                 info(config, "smtp.tls.security_level").type.c_str());
    std::string services = info(config, "services").defaultValue;
    STRCMP_CONTAINS("qmgr (processes 1, max_use 0, max_idle 0)", services.c_str());
    STRCMP_CONTAINS("smtp (processes 2, max_use 0, max_idle 0)", services.c_str());
    CHECK_FALSE(describeParameter(config, "smtpd.recipient_limt").has_value());
}

TEST(ConfigRegistry, ValuesAndWhatTheFileSets) {
    Config config = parseOk(
        "message_size_limit = 5000;\n"
        "relay_domains = [ \"a.example\", \"b.example\" ];\n"
        "smtpd = { tls = { ask_ccert = true; }; };\n"
        "routes = ( { domain = \"partner.example\"; nexthop = \"[10.1.2.3]:25\";\n"
        "  tls = { security_level = \"verify\"; match = [ \"mx.partner.example\" ]; }; },\n"
        "  { domain = \"*\"; nexthop = \"mx\"; } );\n");
    auto size = info(config, "message_size_limit");
    STRCMP_EQUAL("5000", size.value.c_str());
    STRCMP_EQUAL("10240000", size.defaultValue.c_str());
    CHECK_TRUE(size.setInFile);
    STRCMP_EQUAL("a.example, b.example", info(config, "relay_domains").value.c_str());
    STRCMP_EQUAL("true", info(config, "smtpd.tls.ask_ccert").value.c_str());
    STRCMP_EQUAL("partner.example => [10.1.2.3]:25 (tls verify, match mx.partner.example); * => mx",
                 info(config, "routes").value.c_str());
    CHECK_FALSE(info(config, "smtpd.tls.security_level").setInFile);
    int set = 0;
    for (const auto& parameter : describeParameters(config)) set += parameter.setInFile;
    LONGS_EQUAL(4, set);
}

TEST(ConfigRegistry, FormatsLinesLikePostconf) {
    STRCMP_EQUAL("soft_bounce = false", formatParameterLine("soft_bounce", "false").c_str());
    STRCMP_EQUAL("relay_domains =", formatParameterLine("relay_domains", "").c_str());
}

TEST_GROUP(ConfigCheck){};

TEST(ConfigCheck, ReportsMissingFilesAtTheirLine) {
    Config config = parseOk(
        "smtpd = { tls = {\n security_level = \"may\";\n cert_file = \"/nonexistent/cert.pem\";\n"
        " key_file = \"/nonexistent/key.pem\"; }; };\n");
    auto problems = checkConfigFiles(config, "check.conf");
    LONGS_EQUAL(2, problems.size());
    STRCMP_EQUAL(
        "check.conf:3: smtpd.tls.cert_file: /nonexistent/cert.pem: No such file or directory",
        problems[0].c_str());
    STRCMP_CONTAINS("check.conf:4: smtpd.tls.key_file:", problems[1].c_str());
}

TEST(ConfigCheck, AcceptsFilesThatExist) {
    char folder[] = "/tmp/postern-check-test-XXXXXX";
    CHECK(mkdtemp(folder) != nullptr);
    std::string cert = std::string(folder) + "/cert.pem";
    std::ofstream(cert) << "not really a certificate\n";
    Config config = parseOk("smtp = { tls = { ca_file = \"" + cert + "\"; ca_path = \"" + folder +
                            "\"; }; };\nqueue_directory = \"" + folder + "\";\n");
    CHECK_TRUE(checkConfigFiles(config, "check.conf").empty());
    config.queue_directory = cert;  // a file where the queue directory should be
    auto problems = checkConfigFiles(config, "check.conf");
    LONGS_EQUAL(1, problems.size());
    STRCMP_CONTAINS(("queue_directory: " + cert + ": not a directory").c_str(),
                    problems[0].c_str());
    ::unlink(cert.c_str());
    ::rmdir(folder);
}

TEST_GROUP(Paths){};

TEST(Paths, EnvironmentNamesTheConfiguration) {
    const char* saved = getenv("POSTERN_CONF");
    std::string previous = saved ? saved : "";
    setenv("POSTERN_CONF", "/srv/mail/postern.conf", 1);
    STRCMP_EQUAL("/srv/mail/postern.conf", defaultConfigPath().c_str());
    unsetenv("POSTERN_CONF");
    CHECK(defaultConfigPath() != "/srv/mail/postern.conf");
    if (saved) setenv("POSTERN_CONF", previous.c_str(), 1);
}

TEST(Paths, LibexecIsBesideTheExecutablesFolder) {
    std::string dir = libexecDir();
    CHECK(dir.front() == '/');
    CHECK(dir.ends_with("/libexec/postern"));
    std::string parent = executableDir();
    STRCMP_EQUAL((parent.substr(0, parent.rfind('/')) + "/libexec/postern").c_str(), dir.c_str());
}
