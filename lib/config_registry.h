// config_registry.h: the parameters by flat dotted name ("smtpd.tls.ask_ccert"), with
// type, default and current value as text, and whether the file set them. This is what
// `postern config` prints; values print as `name = value` (lists comma-separated, booleans
// true|false, strings unquoted, routes and services as one readable line each).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"

namespace postern {

struct ParameterInfo {
    std::string name;          // flat dotted name
    std::string type;          // "integer", "time (seconds)", "bool", "none|may|encrypt", ...
    std::string defaultValue;  // as text
    std::string value;         // as text, in the Config described
    bool setInFile = false;    // the Config's file sets it
};

// Every parameter, sorted by name, described against `config`.
std::vector<ParameterInfo> describeParameters(const Config& config);

// One parameter; nullopt when no parameter has that name.
std::optional<ParameterInfo> describeParameter(const Config& config, std::string_view name);

// Every parameter name, sorted.
std::vector<std::string> parameterNames();

// "name = value", or Postfix's "name =" when the value is empty.
std::string formatParameterLine(const std::string& name, const std::string& value);

}  // namespace postern
