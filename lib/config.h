// config.h: postern's configuration (DESIGN.md "Configuration (contract)").
// loadConfig() reads a libconfig file into a typed Config: every parameter has a field
// named like the parameter (`smtpd.tls.ask_ccert` is config.smtpd.tls.ask_ccert), filled
// with Postfix's default where the file is silent. Times are seconds, sizes bytes, relative
// paths are resolved against the file's folder. Errors name the file and line.
// config_registry.h lists the parameters by flat dotted name, for `postern config`.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cidr.h"
#include "hostport.h"
#include "result.h"
#include "routes.h"

namespace postern {

struct SmtpdTlsConfig {
    enum class Level { None, May, Encrypt };
    Level security_level = Level::None;
    std::string cert_file;  // leaf then chain; absolute path or empty
    std::string key_file;
    std::string ca_file;  // CAs for client certificates (with ask_ccert)
    bool ask_ccert = false;
};

struct SmtpdConfig {
    enum class BareNewline { Normalize, Reject };
    std::vector<HostPort> listen = {{"0.0.0.0", 25}};
    std::string banner = "ESMTP postern";  // greeting: "220 <myhostname> <banner>"
    int recipient_limit = 1000;
    int timeout = 300;
    int hard_error_limit = 20;
    int soft_error_limit = 10;
    int error_sleep_time = 1;
    int client_connection_count_limit = 50;
    int process_connection_limit = 10000;  // sessions per smtpd process
    BareNewline forbid_bare_newline = BareNewline::Normalize;
    bool helo_required = false;
    SmtpdTlsConfig tls;
};

struct SmtpConfig {
    std::string helo_name;  // the loader puts myhostname here when the file sets none
    int connect_timeout = 30;
    int helo_timeout = 300;
    int mail_timeout = 300;
    int rcpt_timeout = 300;
    int data_init_timeout = 120;
    int data_xfer_timeout = 180;
    int data_done_timeout = 600;
    int quit_timeout = 300;
    int rset_timeout = 20;
    int starttls_timeout = 300;
    int line_length_limit = 998;
    int process_delivery_limit = 500;  // concurrent deliveries per smtp process
    int mx_address_limit = 5;          // addresses tried per delivery, all MX hosts; 0 = all
    int mx_session_limit = 2;          // connections that got a greeting, per delivery; 0 = all
    bool connection_cache = true;          // keep a connection open for the next delivery
    int connection_cache_time_limit = 2;   // seconds a cached connection may stay idle
    int connection_reuse_time_limit = 300; // seconds since connect during which it is reused
    int connection_reuse_count_limit = 0;  // deliveries per connection; 0 = no limit
    SmtpTlsPolicy tls;                 // the policy of mail that no route with tls covers
};

struct QmgrConfig {
    int minimal_backoff_time = 300;
    int maximal_backoff_time = 4000;
    int queue_run_delay = 300;
    int maximal_queue_lifetime = 432000;
    int bounce_queue_lifetime = 432000;
    int delay_warning_time = 0;  // 0: no delay warnings
    int destination_concurrency_limit = 20;
    int total_concurrency_limit = 100;     // deliveries in flight
    int destination_recipient_limit = 50;  // recipients per delivery request
    int active_limit = 20000;              // messages in active/
};

// One service of the master's table: how many processes, when to retire them.
struct ServiceConfig {
    std::string name;  // "smtpd", "qmgr" or "smtp"
    int processes = 1;
    int max_use = 0;   // requests (smtpd: connections) before retiring; 0 = never
    int max_idle = 0;  // seconds idle before retiring; 0 = never
    bool operator==(const ServiceConfig&) const = default;
};

// 127.0.0.0/8 and ::1/128, the default mynetworks.
std::vector<CidrNetwork> loopbackNetworks();

// The default service table: smtpd (one process per CPU), qmgr (1), smtp (2).
std::vector<ServiceConfig> defaultServices();

struct Config {
    std::string path;  // absolute path of the file it came from; empty for text

    std::string myhostname;  // default: this machine's FQDN
    std::string myorigin;    // domain for bare local addresses; the loader's default: myhostname
    std::string mail_owner = "postern";
    std::string queue_directory = "/var/spool/postern";
    std::string log_file = "syslog";  // "syslog", "-" (stderr) or an absolute path
    std::vector<CidrNetwork> mynetworks = loopbackNetworks();
    std::vector<std::string> relay_domains;  // normalized (lower case, no trailing dot)
    int64_t message_size_limit = 10240000;
    int line_length_limit = 2048;
    int64_t header_size_limit = 102400;
    int hopcount_limit = 50;
    int64_t queue_minfree = 0;
    int queue_file_recycle_limit = 1000;  // delivered files kept for reuse (0: none)
    std::vector<HostPort> dns_servers;  // empty: /etc/resolv.conf; port 53 by default
    bool smtputf8_enable = true;
    bool soft_bounce = false;
    int64_t bounce_size_limit = 50000;  // how much of the original a bounce carries
    int service_throttle_time = 60;     // master: wait before restarting a failing service

    SmtpdConfig smtpd;
    SmtpConfig smtp;
    QmgrConfig qmgr;
    std::vector<Route> routes;  // in file order; build a RouteTable to look them up
    std::vector<ServiceConfig> services = defaultServices();  // smtpd, qmgr, smtp, in that order

    // Flat dotted names the file set ("smtpd.tls.ask_ccert"), with their line numbers.
    std::map<std::string, int> setInFile;

    // The service entry by name; nullptr for an unknown name.
    const ServiceConfig* service(const std::string& name) const;
    // True when the file set this flat parameter name.
    bool isSet(const std::string& name) const { return setInFile.count(name) != 0; }
};

// The configuration with every default filled in, myhostname from this machine included
// (a default-constructed Config has every default but an empty myhostname).
Config defaultConfig();

// Reads and validates a configuration file. Errors (one or more lines, each
// "FILE:LINE: message") name the path as given.
Result<Config> loadConfig(const std::string& path);

// Same, from text: displayPath names it in errors, baseDir resolves relative paths.
Result<Config> parseConfigText(const std::string& text, const std::string& displayPath,
                               const std::string& baseDir);

// This machine's fully qualified name (gethostname, then getaddrinfo's canonical name).
std::string machineHostName();

// "none", "may", "encrypt".
const char* smtpdTlsLevelName(SmtpdTlsConfig::Level level);

}  // namespace postern
