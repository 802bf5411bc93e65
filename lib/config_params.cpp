// config_params.cpp: the parameter table (config_schema.h): one line per parameter, made
// with typed builders (boolean, integer, string, path, list, choice) that read a libconfig
// setting into the Config field of the same name and print it back.
#include <algorithm>
#include <cctype>
#include <limits>
#include <type_traits>

#include "config_schema.h"

namespace postern::config_schema {

namespace {

// The parameter name and an accessor of the Config field of the same name, from one
// token sequence, so a name cannot drift from its field: PARAM(smtpd.timeout).
// clang-format off
#define PARAM(member) #member, [](auto& c) -> auto& { return c.member; }
// clang-format on

using libconfig::Setting;
using StringCheck = Status (*)(const std::string&);

template <typename Access>
ParamSpec boolParam(const char* name, Access access) {
    return {name, "bool",
            [=](const Setting& s, Config& c, LoadContext& ctx) {
                if (s.getType() != Setting::TypeBoolean) {
                    return ctx.fail(s, name, "expected a boolean (true or false)");
                }
                access(c) = static_cast<bool>(s);
            },
            [=](const Config& c) { return std::string(access(c) ? "true" : "false"); }};
}

// An integer at least `min`; the field's type gives the maximum.
template <typename Access>
ParamSpec intParam(const char* name, Access access, long long min, const char* type = "integer") {
    using Field = std::remove_cvref_t<decltype(access(std::declval<Config&>()))>;
    long long max = std::numeric_limits<Field>::max();
    return {name, type,
            [=](const Setting& s, Config& c, LoadContext& ctx) {
                auto value = readIntegerInRange(s, name, min, max, ctx);
                if (value) access(c) = static_cast<Field>(*value);
            },
            [=](const Config& c) { return std::to_string(access(c)); }};
}

template <typename Access>
ParamSpec timeParam(const char* name, Access access, long long min) {
    return intParam(name, access, min, "time (seconds)");
}

template <typename Access>
ParamSpec sizeParam(const char* name, Access access, long long min) {
    return intParam(name, access, min, "size (bytes)");
}

// A string; `check` rejects bad values with a message; `transform` rewrites good ones.
template <typename Access>
ParamSpec stringParam(const char* name, Access access, StringCheck check,
                      std::string (*transform)(const std::string&, const LoadContext&) = nullptr,
                      const char* type = "string") {
    return {name, type,
            [=](const Setting& s, Config& c, LoadContext& ctx) {
                auto text = readString(s, name, ctx);
                if (!text) return;
                if (auto status = check(*text); !status) return ctx.fail(s, name, status.error());
                access(c) = transform ? transform(*text, ctx) : *text;
            },
            [=](const Config& c) { return std::string(access(c)); }};
}

template <typename Item, typename Access, typename ParseItem, typename PrintItem>
ParamSpec listParam(const char* name, Access access, ParseItem parseItem, PrintItem printItem) {
    return {name, "list",
            [=](const Setting& s, Config& c, LoadContext& ctx) {
                auto items = parseList<Item>(s, name, ctx, parseItem);
                if (items) access(c) = std::move(*items);
            },
            [=](const Config& c) {
                std::vector<std::string> texts;
                for (const auto& item : access(c)) texts.push_back(printItem(item));
                return joinList(texts);
            }};
}

// One of a few words, each standing for an enum value.
template <typename Enum, typename Access>
ParamSpec choiceParam(const char* name, Access access,
                      std::vector<std::pair<std::string, Enum>> choices, const char* what) {
    std::vector<std::string> words;
    for (const auto& choice : choices) words.push_back(choice.first);
    std::string type = words.front();
    for (size_t i = 1; i < words.size(); ++i) type += "|" + words[i];
    return {name, type,
            [=](const Setting& s, Config& c, LoadContext& ctx) {
                auto text = readString(s, name, ctx);
                if (!text) return;
                for (const auto& [word, value] : choices) {
                    if (word == *text) {
                        access(c) = value;
                        return;
                    }
                }
                ctx.fail(s, name,
                         std::string("unknown ") + what + " \"" + *text + "\" (one of " +
                             joinList(words) + ")");
            },
            [=](const Config& c) {
                for (const auto& [word, value] : choices) {
                    if (access(c) == value) return word;
                }
                return std::string("?");
            }};
}

Status anyString(const std::string&) {
    return {};
}

Status nonEmpty(const std::string& text) {
    if (text.empty()) return fail("must not be empty");
    return {};
}

Status printable(const std::string& text) {
    for (unsigned char c : text) {
        if (c < ' ' || c == 0x7f) return fail("control characters are not allowed");
    }
    return {};
}

Status hostName(const std::string& text) {
    if (!isValidHostName(text)) return fail("\"" + text + "\" is not a valid host name");
    return {};
}

Status hostNameOrEmpty(const std::string& text) {
    return text.empty() ? Status{} : hostName(text);
}

Status userName(const std::string& text) {
    if (text.empty()) return fail("must not be empty");
    for (unsigned char c : text) {
        if (!std::isalnum(c) && c != '_' && c != '-' && c != '.') {
            return fail("\"" + text + "\" is not a user name");
        }
    }
    return {};
}

// log_file: "syslog", "-" (stderr), or a path.
Status logDestination(const std::string& text) {
    return nonEmpty(text);
}

std::string lowerCase(const std::string& text, const LoadContext&) {
    return normalizeDomain(text);
}

std::string pathValue(const std::string& text, const LoadContext& ctx) {
    return ctx.resolvePath(text);
}

std::string logFileValue(const std::string& text, const LoadContext& ctx) {
    if (text == "syslog" || text == "-") return text;
    return ctx.resolvePath(text);
}

template <typename Access>
ParamSpec pathParam(const char* name, Access access, StringCheck check = anyString) {
    return stringParam(name, access, check, pathValue, "path");
}

Result<HostPort> listenAddress(std::string_view text) {
    return parseHostPort(text, std::nullopt);
}

Result<HostPort> dnsServer(std::string_view text) {
    auto server = parseHostPort(text, 53);
    if (server && !isIpAddress(server->host)) {
        return fail("\"" + std::string(text) + "\": a DNS server is an IP address");
    }
    return server;
}

std::string hostPortText(const HostPort& address) {
    return address.toString();
}
std::string networkText(const CidrNetwork& network) {
    return network.toString();
}
std::string sameText(const std::string& text) {
    return text;
}

std::vector<ParamSpec> globalParameters() {
    return {
        stringParam(PARAM(myhostname), hostName, lowerCase),
        stringParam(PARAM(myorigin), hostNameOrEmpty, lowerCase),
        stringParam(PARAM(mail_owner), userName),
        pathParam(PARAM(queue_directory), nonEmpty),
        stringParam(PARAM(log_file), logDestination, logFileValue),
        listParam<CidrNetwork>(PARAM(mynetworks), CidrNetwork::parse, networkText),
        listParam<std::string>(PARAM(relay_domains), parseDomainPattern, sameText),
        sizeParam(PARAM(message_size_limit), 0),
        intParam(PARAM(line_length_limit), 1),
        sizeParam(PARAM(header_size_limit), 1),
        intParam(PARAM(hopcount_limit), 1),
        sizeParam(PARAM(queue_minfree), 0),
        intParam(PARAM(queue_file_recycle_limit), 0),
        listParam<HostPort>(PARAM(dns_servers), dnsServer, hostPortText),
        boolParam(PARAM(smtputf8_enable)),
        boolParam(PARAM(soft_bounce)),
        sizeParam(PARAM(bounce_size_limit), 0),
        timeParam(PARAM(service_throttle_time), 1),
    };
}

std::vector<ParamSpec> smtpdParameters() {
    using BareNewline = SmtpdConfig::BareNewline;
    using Level = SmtpdTlsConfig::Level;
    return {
        listParam<HostPort>(PARAM(smtpd.listen), listenAddress, hostPortText),
        stringParam(PARAM(smtpd.banner), printable),
        intParam(PARAM(smtpd.recipient_limit), 1),
        timeParam(PARAM(smtpd.timeout), 1),
        intParam(PARAM(smtpd.hard_error_limit), 1),
        intParam(PARAM(smtpd.soft_error_limit), 1),
        timeParam(PARAM(smtpd.error_sleep_time), 0),
        intParam(PARAM(smtpd.client_connection_count_limit), 0),
        intParam(PARAM(smtpd.process_connection_limit), 1),
        choiceParam<BareNewline>(
            PARAM(smtpd.forbid_bare_newline),
            {{"normalize", BareNewline::Normalize}, {"reject", BareNewline::Reject}}, "value"),
        boolParam(PARAM(smtpd.helo_required)),
        choiceParam<Level>(
            PARAM(smtpd.tls.security_level),
            {{"none", Level::None}, {"may", Level::May}, {"encrypt", Level::Encrypt}}, "TLS level"),
        pathParam(PARAM(smtpd.tls.cert_file)),
        pathParam(PARAM(smtpd.tls.key_file)),
        pathParam(PARAM(smtpd.tls.ca_file)),
        boolParam(PARAM(smtpd.tls.ask_ccert)),
    };
}

std::vector<ParamSpec> smtpParameters() {
    return {
        stringParam(PARAM(smtp.helo_name), hostNameOrEmpty, lowerCase),
        timeParam(PARAM(smtp.connect_timeout), 1),
        timeParam(PARAM(smtp.helo_timeout), 1),
        timeParam(PARAM(smtp.mail_timeout), 1),
        timeParam(PARAM(smtp.rcpt_timeout), 1),
        timeParam(PARAM(smtp.data_init_timeout), 1),
        timeParam(PARAM(smtp.data_xfer_timeout), 1),
        timeParam(PARAM(smtp.data_done_timeout), 1),
        timeParam(PARAM(smtp.quit_timeout), 1),
        timeParam(PARAM(smtp.rset_timeout), 1),
        timeParam(PARAM(smtp.starttls_timeout), 1),
        intParam(PARAM(smtp.line_length_limit), 0),
        intParam(PARAM(smtp.process_delivery_limit), 1),
        intParam(PARAM(smtp.mx_address_limit), 0),
        intParam(PARAM(smtp.mx_session_limit), 0),
        boolParam(PARAM(smtp.connection_cache)),
        timeParam(PARAM(smtp.connection_cache_time_limit), 1),
        timeParam(PARAM(smtp.connection_reuse_time_limit), 1),
        intParam(PARAM(smtp.connection_reuse_count_limit), 0),
        choiceParam(PARAM(smtp.tls.security_level), smtpTlsLevelChoices(), "TLS level"),
        pathParam(PARAM(smtp.tls.ca_file)),
        pathParam(PARAM(smtp.tls.ca_path)),
        listParam<std::string>(PARAM(smtp.tls.match), parseMatchName, sameText),
    };
}

std::vector<ParamSpec> qmgrParameters() {
    return {
        timeParam(PARAM(qmgr.minimal_backoff_time), 1),
        timeParam(PARAM(qmgr.maximal_backoff_time), 1),
        timeParam(PARAM(qmgr.queue_run_delay), 1),
        timeParam(PARAM(qmgr.maximal_queue_lifetime), 0),
        timeParam(PARAM(qmgr.bounce_queue_lifetime), 0),
        timeParam(PARAM(qmgr.delay_warning_time), 0),
        intParam(PARAM(qmgr.destination_concurrency_limit), 1),
        intParam(PARAM(qmgr.total_concurrency_limit), 1),
        intParam(PARAM(qmgr.destination_recipient_limit), 1),
        intParam(PARAM(qmgr.active_limit), 1),
    };
}

std::vector<ParamSpec> buildParameterSpecs() {
    std::vector<ParamSpec> specs;
    for (auto group : {globalParameters, smtpdParameters, smtpParameters, qmgrParameters}) {
        for (auto& spec : group()) specs.push_back(std::move(spec));
    }
    specs.push_back(routesParameter());
    specs.push_back(servicesParameter());
    std::sort(specs.begin(), specs.end(),
              [](const ParamSpec& a, const ParamSpec& b) { return a.name < b.name; });
    return specs;
}

#undef PARAM

}  // namespace

std::vector<std::pair<std::string, SmtpTlsPolicy::Level>> smtpTlsLevelChoices() {
    using Level = SmtpTlsPolicy::Level;
    std::vector<std::pair<std::string, Level>> choices;
    for (Level level : {Level::None, Level::May, Level::Encrypt, Level::Verify, Level::Secure}) {
        choices.emplace_back(smtpTlsLevelName(level), level);
    }
    return choices;
}

Result<std::string> parseDomainPattern(std::string_view text) {
    std::string_view name = text;
    if (!name.empty() && name.front() == '.') name.remove_prefix(1);
    if (!isValidHostName(name)) {
        return fail("\"" + std::string(text) + "\" is not a domain name");
    }
    return normalizeDomain(text);
}

Result<std::string> parseMatchName(std::string_view text) {
    return parseDomainPattern(text);
}

const std::vector<ParamSpec>& parameterSpecs() {
    static const std::vector<ParamSpec> specs = buildParameterSpecs();
    return specs;
}

namespace {
// Built before main(): the table is then never allocated in the middle of some later work
// (or of a unit test, whose leak detector would count it).
[[maybe_unused]] const auto& kBuiltAtStartup = parameterSpecs();
}  // namespace

const ParamSpec* findParameter(std::string_view name) {
    for (const auto& spec : parameterSpecs()) {
        if (spec.name == name) return &spec;
    }
    return nullptr;
}

bool isParameterGroup(std::string_view name) {
    std::string prefix = std::string(name) + ".";
    for (const auto& spec : parameterSpecs()) {
        if (spec.name.starts_with(prefix)) return true;
    }
    return false;
}

}  // namespace postern::config_schema
