// config_schema.h: the configuration's parameter table, shared by the loader
// (config_loader.cpp) and the registry that prints parameters (config_registry.cpp).
// Each ParamSpec knows one flat dotted name: how to read it from a libconfig setting into
// a Config, and how to print a Config's value as text. Internal to the config module.
#pragma once

#include <functional>
#include <libconfig.h++>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace postern::config_schema {

// Collects "FILE:LINE: message" lines; the loader reports all of them at once.
class ConfigErrors {
  public:
    explicit ConfigErrors(std::string displayPath) : displayPath_(std::move(displayPath)) {}

    // Records an error at a setting's line (and file, for an @include'd one).
    void add(const libconfig::Setting& where, const std::string& message);
    // Records an error at a line of the main file (0: no line).
    void add(int line, const std::string& message);
    // Same, in a named file (nullptr: the main file).
    void add(const char* file, int line, const std::string& message);

    bool empty() const { return errors_.empty(); }
    // Every error, one per line, in file and line order.
    std::string joined() const;

  private:
    struct Entry {
        std::string file;
        int line;
        std::string message;
    };
    std::string displayPath_;
    std::vector<Entry> errors_;
};

// What a parameter's loader needs beside the setting and the Config.
struct LoadContext {
    std::string baseDir;  // relative paths are resolved against it
    ConfigErrors& errors;

    // Records "name: message" at the setting's line.
    void fail(const libconfig::Setting& where, std::string_view name, const std::string& message) {
        errors.add(where, std::string(name) + ": " + message);
    }
    // Makes a relative path absolute against baseDir; leaves "" and absolute paths alone.
    std::string resolvePath(const std::string& path) const;
};

struct ParamSpec {
    std::string name;  // flat dotted name: "smtpd.tls.ask_ccert"
    std::string type;  // for people: "integer", "time", "bool", "none|may|encrypt", ...
    // Reads the setting into the Config, or records errors and leaves the Config alone.
    std::function<void(const libconfig::Setting&, Config&, LoadContext&)> load;
    // The Config's value as text: lists comma-separated, booleans true|false, no quotes.
    std::function<std::string(const Config&)> print;
    // Loaded after every other parameter, because its defaults come from them (routes).
    bool loadLast = false;
};

// Every parameter, sorted by name.
const std::vector<ParamSpec>& parameterSpecs();

// The parameter of that flat dotted name; nullptr when there is none.
const ParamSpec* findParameter(std::string_view name);

// True when name is a group of parameters ("smtpd", "smtpd.tls", "qmgr"...).
bool isParameterGroup(std::string_view name);

// Integer value of a setting (int or 64-bit int); nullopt for any other type.
std::optional<long long> readInteger(const libconfig::Setting& setting);

// An integer within [min, max]; records an error and returns nullopt otherwise.
std::optional<long long> readIntegerInRange(const libconfig::Setting& setting,
                                            std::string_view name, long long min, long long max,
                                            LoadContext& ctx);

// A string; records an error and returns nullopt for another type.
std::optional<std::string> readString(const libconfig::Setting& setting, std::string_view name,
                                      LoadContext& ctx);

// Parses each string of an array or list with parseItem. Records errors (at the element's
// line for a bad element) and returns nullopt when the setting is not a list of strings or
// an element does not parse.
template <typename Item, typename ParseItem>
std::optional<std::vector<Item>> parseList(const libconfig::Setting& setting, std::string_view name,
                                           LoadContext& ctx, ParseItem parseItem) {
    if (!setting.isArray() && !setting.isList()) {
        ctx.fail(setting, name, "expected a list of strings, as in [ \"a\", \"b\" ]");
        return std::nullopt;
    }
    std::vector<Item> items;
    bool good = true;
    for (const auto& element : setting) {
        if (element.getType() != libconfig::Setting::TypeString) {
            ctx.fail(element, name, "expected a list of strings");
            good = false;
            continue;
        }
        Result<Item> item = parseItem(element.c_str());
        if (!item) {
            ctx.fail(element, name, item.error());
            good = false;
            continue;
        }
        items.push_back(std::move(item.value()));
    }
    if (!good) return std::nullopt;
    return items;
}

// Joins texts with ", ", the printed form of a list.
std::string joinList(const std::vector<std::string>& texts);

// A domain, or ".domain" for its subdomains (relay_domains, route domains), normalized.
Result<std::string> parseDomainPattern(std::string_view text);

// A TLS certificate match name: "nexthop", "dot-nexthop", "hostname", a name or ".domain".
Result<std::string> parseMatchName(std::string_view text);

// The smtp TLS levels with their names, for choice parameters.
std::vector<std::pair<std::string, SmtpTlsPolicy::Level>> smtpTlsLevelChoices();

// Parameter tables of the structured parameters (config_routes.cpp).
ParamSpec routesParameter();
ParamSpec servicesParameter();

}  // namespace postern::config_schema
