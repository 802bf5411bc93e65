// config_routes.cpp: the two structured parameters, `routes` (domain => next hop, with an
// optional TLS policy) and `services` (the master's process table), as ParamSpecs.
#include <map>

#include "config_schema.h"

namespace postern::config_schema {

namespace {

using libconfig::Setting;

constexpr std::string_view kRoutes = "routes";
constexpr std::string_view kServices = "services";

// Checks that the setting is a list of groups; records an error otherwise.
bool isListOfGroups(const Setting& setting, std::string_view name, LoadContext& ctx) {
    if (!setting.isList()) {
        ctx.fail(setting, name, "expected a list of groups, as in ( { ... }, { ... } )");
        return false;
    }
    bool good = true;
    for (const auto& entry : setting) {
        if (!entry.isGroup()) {
            ctx.fail(entry, name, "each entry is a group { ... }");
            good = false;
        }
    }
    return good;
}

// Records an error for every field of a group that is not among the known ones.
bool onlyKnownFields(const Setting& group, std::string_view name,
                     std::initializer_list<std::string_view> known, LoadContext& ctx) {
    bool good = true;
    for (const auto& field : group) {
        if (std::find(known.begin(), known.end(), field.getName()) == known.end()) {
            ctx.fail(field, name, std::string("unknown setting \"") + field.getName() + "\"");
            good = false;
        }
    }
    return good;
}

// The path fields of a route's tls group.
constexpr std::pair<const char*, std::string SmtpTlsPolicy::*> kTlsPathFields[] = {
    {"ca_file", &SmtpTlsPolicy::ca_file},
    {"ca_path", &SmtpTlsPolicy::ca_path},
    {"cert_file", &SmtpTlsPolicy::cert_file},
    {"key_file", &SmtpTlsPolicy::key_file},
};

// Reads one field of a route's tls group into the policy; false (error recorded) if bad.
bool loadRouteTlsField(const Setting& field, SmtpTlsPolicy& policy, LoadContext& ctx) {
    const std::string name = "routes: tls";
    std::string fieldName = field.getName();
    if (fieldName == "match") {
        auto names = parseList<std::string>(field, name + ".match", ctx, parseMatchName);
        if (names) policy.match = std::move(*names);
        return names.has_value();
    }
    for (const auto& [pathName, member] : kTlsPathFields) {
        if (fieldName != pathName) continue;
        auto text = readString(field, name + "." + fieldName, ctx);
        if (text) policy.*member = ctx.resolvePath(*text);
        return text.has_value();
    }
    if (fieldName != "security_level") {
        ctx.fail(field, name, "unknown setting \"" + fieldName + "\"");
        return false;
    }
    auto text = readString(field, name + ".security_level", ctx);
    if (!text) return false;
    auto level = parseSmtpTlsLevel(*text);
    if (!level) {
        ctx.fail(field, name,
                 "unknown TLS level \"" + *text + "\" (one of none, may, encrypt, verify, secure)");
        return false;
    }
    policy.security_level = *level;
    return true;
}

// Reads a route's `tls` group over a copy of the smtp.tls defaults.
std::optional<SmtpTlsPolicy> loadRouteTls(const Setting& group, SmtpTlsPolicy policy,
                                          LoadContext& ctx) {
    const std::string name = "routes: tls";
    if (!group.isGroup()) {
        ctx.fail(group, kRoutes, "tls: expected a group { security_level = ...; }");
        return std::nullopt;
    }
    bool good = true;
    for (const auto& field : group) good = loadRouteTlsField(field, policy, ctx) && good;
    if (good && policy.cert_file.empty() != policy.key_file.empty()) {
        ctx.fail(group, name, "a client certificate needs both cert_file and key_file");
        good = false;
    }
    if (!good) return std::nullopt;
    return policy;
}

// Reads the domain of a route: "*", ".parent.example" or "example.com".
std::optional<std::string> loadRouteDomain(const Setting& field, LoadContext& ctx) {
    auto text = readString(field, "routes: domain", ctx);
    if (!text) return std::nullopt;
    if (*text == "*") return *text;
    auto domain = parseDomainPattern(*text);
    if (!domain) {
        ctx.fail(field, kRoutes,
                 domain.error() + " (use \"example.com\", \".example.com\" or \"*\")");
        return std::nullopt;
    }
    return *domain;
}

// Reads one route group; nullopt (with errors recorded) when it is not valid.
std::optional<Route> loadRoute(const Setting& group, const Config& config, LoadContext& ctx) {
    bool good = onlyKnownFields(group, kRoutes, {"domain", "nexthop", "tls"}, ctx);
    Route route;
    route.sourceLine = static_cast<int>(group.getSourceLine());
    route.tls = config.smtp.tls;
    if (!group.exists("domain") || !group.exists("nexthop")) {
        ctx.fail(group, kRoutes, "a route needs a domain and a nexthop");
        return std::nullopt;
    }
    auto domain = loadRouteDomain(group["domain"], ctx);
    good = good && domain;
    if (domain) route.domain = *domain;
    if (auto text = readString(group["nexthop"], "routes: nexthop", ctx); !text) {
        good = false;
    } else if (auto hop = parseNextHop(*text); !hop) {
        ctx.fail(group["nexthop"], kRoutes, "next hop " + hop.error());
        good = false;
    } else {
        route.nexthop = *hop;
    }
    if (group.exists("tls")) {
        auto tls = loadRouteTls(group["tls"], route.tls, ctx);
        good = good && tls;
        if (tls) route.tls = *tls;
        route.hasOwnTls = true;
    }
    if (!good) return std::nullopt;
    return route;
}

void loadRoutes(const Setting& setting, Config& config, LoadContext& ctx) {
    if (!isListOfGroups(setting, kRoutes, ctx)) return;
    std::vector<Route> routes;
    std::map<std::string, int> lineOfDomain;
    bool good = true;
    for (const auto& group : setting) {
        auto route = loadRoute(group, config, ctx);
        if (!route) {
            good = false;
            continue;
        }
        auto [first, inserted] = lineOfDomain.emplace(route->domain, route->sourceLine);
        if (!inserted) {
            ctx.fail(group["domain"], kRoutes,
                     "duplicate route for \"" + route->domain + "\" (first at line " +
                         std::to_string(first->second) + ")");
            good = false;
        }
        routes.push_back(std::move(*route));
    }
    if (good) config.routes = std::move(routes);
}

std::string printRoutes(const Config& config) {
    std::string text;
    for (const auto& route : config.routes) {
        if (!text.empty()) text += "; ";
        text += route.toString();
    }
    return text;
}

// Applies one services entry over the defaults of the service it names.
bool loadService(const Setting& group, std::vector<ServiceConfig>& services,
                 std::map<std::string, int>& seen, LoadContext& ctx) {
    bool good =
        onlyKnownFields(group, kServices, {"name", "processes", "max_use", "max_idle"}, ctx);
    if (!group.exists("name")) {
        ctx.fail(group, kServices, "a service entry needs a name");
        return false;
    }
    auto name = readString(group["name"], "services: name", ctx);
    if (!name) return false;
    auto service = std::find_if(services.begin(), services.end(),
                                [&](const ServiceConfig& s) { return s.name == *name; });
    if (service == services.end()) {
        ctx.fail(group["name"], kServices,
                 "unknown service \"" + *name + "\" (one of smtpd, qmgr, smtp)");
        return false;
    }
    int line = static_cast<int>(group.getSourceLine());
    if (auto [first, inserted] = seen.emplace(*name, line); !inserted) {
        ctx.fail(group["name"], kServices,
                 "\"" + *name + "\" is listed twice (first at line " +
                     std::to_string(first->second) + ")");
        return false;
    }
    struct Field {
        const char* name;
        int* value;
        long long min;
    };
    for (Field field :
         {Field{"processes", &service->processes, 1}, Field{"max_use", &service->max_use, 0},
          Field{"max_idle", &service->max_idle, 0}}) {
        if (!group.exists(field.name)) continue;
        std::string fieldName = std::string("services: ") + *name + " " + field.name;
        auto value = readIntegerInRange(group[field.name], fieldName, field.min, 100000000, ctx);
        good = good && value;
        if (value) *field.value = static_cast<int>(*value);
    }
    if (good && service->name == "qmgr" && service->processes != 1) {
        ctx.fail(group, kServices, "qmgr runs exactly one process (processes = 1)");
        good = false;
    }
    return good;
}

void loadServices(const Setting& setting, Config& config, LoadContext& ctx) {
    if (!isListOfGroups(setting, kServices, ctx)) return;
    std::vector<ServiceConfig> services = config.services;
    std::map<std::string, int> seen;
    bool good = true;
    for (const auto& group : setting) good = loadService(group, services, seen, ctx) && good;
    if (good) config.services = std::move(services);
}

std::string printServices(const Config& config) {
    std::string text;
    for (const auto& service : config.services) {
        if (!text.empty()) text += "; ";
        text += service.name + " (processes " + std::to_string(service.processes) + ", max_use " +
                std::to_string(service.max_use) + ", max_idle " + std::to_string(service.max_idle) +
                ")";
    }
    return text;
}

}  // namespace

ParamSpec routesParameter() {
    return {std::string(kRoutes), "routes", loadRoutes, printRoutes, true};
}

ParamSpec servicesParameter() {
    return {std::string(kServices), "services", loadServices, printServices, false};
}

}  // namespace postern::config_schema
