// config_registry.cpp: describing parameters as text for `postern config` (see
// config_registry.h), from the parameter table in config_params.cpp.
#include "config_registry.h"

#include "config_schema.h"

namespace postern {

namespace {

ParameterInfo describe(const config_schema::ParamSpec& spec, const Config& config,
                       const Config& defaults) {
    return {spec.name, spec.type, spec.print(defaults), spec.print(config),
            config.isSet(spec.name)};
}

}  // namespace

std::vector<ParameterInfo> describeParameters(const Config& config) {
    Config defaults = defaultConfig();
    std::vector<ParameterInfo> described;
    for (const auto& spec : config_schema::parameterSpecs()) {
        described.push_back(describe(spec, config, defaults));
    }
    return described;
}

std::optional<ParameterInfo> describeParameter(const Config& config, std::string_view name) {
    const auto* spec = config_schema::findParameter(name);
    if (spec == nullptr) return std::nullopt;
    return describe(*spec, config, defaultConfig());
}

std::vector<std::string> parameterNames() {
    std::vector<std::string> names;
    for (const auto& spec : config_schema::parameterSpecs()) names.push_back(spec.name);
    return names;
}

std::string formatParameterLine(const std::string& name, const std::string& value) {
    return value.empty() ? name + " =" : name + " = " + value;
}

}  // namespace postern
