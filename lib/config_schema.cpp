// config_schema.cpp: the helpers parameter loaders share: error collection with file and
// line, path resolution, integer reading, list printing (see config_schema.h).
#include "config_schema.h"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "text_escape.h"

namespace postern::config_schema {

void ConfigErrors::add(const libconfig::Setting& where, const std::string& message) {
    add(where.getSourceFile(), static_cast<int>(where.getSourceLine()), message);
}

void ConfigErrors::add(int line, const std::string& message) {
    add(nullptr, line, message);
}

void ConfigErrors::add(const char* file, int line, const std::string& message) {
    std::string where = displayPath_;
    if (file && *file && file != displayPath_) {
        // An @include'd file, which libconfig names relative to the main file's folder.
        where = file[0] == '/'
                    ? std::string(file)
                    : (std::filesystem::path(displayPath_).parent_path() / file).string();
    }
    errors_.push_back({where, line, message});
}

std::string ConfigErrors::joined() const {
    // Parameters loaded late (routes) report after the others: put them back in line order,
    // the main file's first.
    std::vector<Entry> sorted = errors_;
    std::stable_sort(sorted.begin(), sorted.end(), [&](const Entry& a, const Entry& b) {
        return std::tuple(a.file != displayPath_, a.file, a.line) <
               std::tuple(b.file != displayPath_, b.file, b.line);
    });
    std::string text;
    for (const auto& error : sorted) {
        if (!text.empty()) text += "\n";
        // A message may quote a value with any byte in it; it goes to a terminal or the log.
        text += printable(error.file) +
                (error.line > 0 ? ":" + std::to_string(error.line) : "") + ": " +
                printable(error.message);
    }
    return text;
}

std::string LoadContext::resolvePath(const std::string& path) const {
    if (path.empty() || path.front() == '/') return path;
    return (std::filesystem::path(baseDir) / path).lexically_normal().string();
}

std::optional<long long> readInteger(const libconfig::Setting& setting) {
    if (setting.getType() == libconfig::Setting::TypeInt) return static_cast<int>(setting);
    if (setting.getType() == libconfig::Setting::TypeInt64) return static_cast<long long>(setting);
    return std::nullopt;
}

std::optional<long long> readIntegerInRange(const libconfig::Setting& setting,
                                            std::string_view name, long long min, long long max,
                                            LoadContext& ctx) {
    auto value = readInteger(setting);
    if (!value) {
        ctx.fail(setting, name, "expected an integer");
    } else if (*value < min || *value > max) {
        ctx.fail(setting, name,
                 std::to_string(*value) + " is out of range (at least " + std::to_string(min) +
                     ", at most " + std::to_string(max) + ")");
        value.reset();
    }
    return value;
}

std::optional<std::string> readString(const libconfig::Setting& setting, std::string_view name,
                                      LoadContext& ctx) {
    if (setting.getType() != libconfig::Setting::TypeString) {
        ctx.fail(setting, name, "expected a string");
        return std::nullopt;
    }
    return std::string(setting.c_str());
}

std::string joinList(const std::vector<std::string>& texts) {
    std::string text;
    for (const auto& item : texts) {
        if (!text.empty()) text += ", ";
        text += item;
    }
    return text;
}

}  // namespace postern::config_schema
