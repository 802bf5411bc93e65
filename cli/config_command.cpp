// config_command.cpp: `postern config [-n | -d] [NAME...]`: prints parameters as
// `name = value` lines sorted by name: effective values, only those the file sets (-n),
// or the defaults (-d, without reading the file).
#include <algorithm>

#include "commands.h"
#include "config_registry.h"

namespace postern::cli {

namespace {

enum class Show { Effective, SetInFile, Defaults };

struct ConfigOptions {
    Show show = Show::Effective;
    std::vector<std::string> names;  // sorted, without repeats; empty: every parameter
};

std::optional<ConfigOptions> parseOptions(const CommandArgs& args) {
    ConfigOptions options;
    bool optionsDone = false;
    for (const auto& arg : args) {
        if (!optionsDone && arg == "--") {
            optionsDone = true;
        } else if (!optionsDone && (arg == "-n" || arg == "-d")) {
            Show wanted = arg == "-n" ? Show::SetInFile : Show::Defaults;
            if (options.show != Show::Effective && options.show != wanted) {
                printError("config: -n and -d exclude each other");
                return std::nullopt;
            }
            options.show = wanted;
        } else if (!optionsDone && arg.size() > 1 && arg[0] == '-') {
            printError("config: unknown option \"" + arg + "\"");
            return std::nullopt;
        } else {
            options.names.push_back(arg);
        }
    }
    std::sort(options.names.begin(), options.names.end());
    options.names.erase(std::unique(options.names.begin(), options.names.end()),
                        options.names.end());
    return options;
}

void printParameter(const ParameterInfo& info, Show show) {
    if (show == Show::SetInFile && !info.setInFile) return;
    const std::string& value = show == Show::Defaults ? info.defaultValue : info.value;
    std::printf("%s\n", formatParameterLine(info.name, value).c_str());
}

}  // namespace

int runConfigCommand(const CommandContext& context, const CommandArgs& args) {
    auto options = parseOptions(args);
    if (!options) {
        printCommandUsage(*findCommand("config"), stderr);
        return kExitUsage;
    }
    std::optional<Config> config = Config{};
    if (options->show != Show::Defaults) {
        config = loadConfigOrReport(context);
        if (!config) return kExitFailure;
    }
    if (options->names.empty()) {
        for (const auto& info : describeParameters(*config)) printParameter(info, options->show);
        return kExitOk;
    }
    int status = kExitOk;
    for (const auto& name : options->names) {
        auto info = describeParameter(*config, name);
        if (!info) {
            printError("config: unknown parameter \"" + name + "\"");
            status = kExitFailure;
            continue;
        }
        printParameter(*info, options->show);
    }
    return status;
}

}  // namespace postern::cli
