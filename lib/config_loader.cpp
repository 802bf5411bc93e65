// config_loader.cpp: loadConfig() and parseConfigText(): libconfig text to a validated
// Config. Walks the libconfig tree against the parameter table (config_params.cpp),
// collects every error with its file and line, then checks the rules that involve
// several parameters. No libconfig exception leaves this file.
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "config_schema.h"
#include "unique_fd.h"

namespace postern {

namespace {

using config_schema::ConfigErrors;
using config_schema::LoadContext;
using config_schema::ParamSpec;
using libconfig::Setting;

// Levenshtein distance, to suggest the parameter a misspelt name meant.
size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknownParameterMessage(const std::string& name) {
    std::string message = "unknown parameter \"" + name + "\"";
    for (const auto& spec : config_schema::parameterSpecs()) {
        if (editDistance(name, spec.name) <= 2)
            return message + " (did you mean \"" + spec.name + "\"?)";
    }
    return message;
}

using Deferred = std::vector<std::pair<const ParamSpec*, const Setting*>>;

// Loads every setting of a group whose flat names start with prefix ("" or "smtpd.").
void loadGroup(const Setting& group, const std::string& prefix, Config& config, LoadContext& ctx,
               Deferred& loadLater) {
    for (const auto& setting : group) {
        std::string name = prefix + setting.getName();
        if (config_schema::isParameterGroup(name)) {
            if (!setting.isGroup()) {
                ctx.fail(setting, name, "expected a group { ... }");
            } else {
                loadGroup(setting, name + ".", config, ctx, loadLater);
            }
            continue;
        }
        const ParamSpec* spec = config_schema::findParameter(name);
        if (spec == nullptr) {
            ctx.errors.add(setting, unknownParameterMessage(name));
            continue;
        }
        config.setInFile[name] = static_cast<int>(setting.getSourceLine());
        if (spec->loadLast) {
            loadLater.emplace_back(spec, &setting);
        } else {
            spec->load(setting, config, ctx);
        }
    }
}

int lineOf(const Config& config, const std::string& name) {
    auto found = config.setInFile.find(name);
    return found == config.setInFile.end() ? 0 : found->second;
}

// The rules that involve more than one parameter.
void checkConsistency(const Config& config, ConfigErrors& errors) {
    const auto& tls = config.smtpd.tls;
    if (tls.security_level != SmtpdTlsConfig::Level::None &&
        (tls.cert_file.empty() || tls.key_file.empty())) {
        errors.add(lineOf(config, "smtpd.tls.security_level"),
                   std::string("smtpd.tls.security_level: \"") +
                       smtpdTlsLevelName(tls.security_level) +
                       "\" needs smtpd.tls.cert_file and smtpd.tls.key_file");
    } else if (tls.cert_file.empty() != tls.key_file.empty()) {
        std::string set = tls.cert_file.empty() ? "smtpd.tls.key_file" : "smtpd.tls.cert_file";
        errors.add(lineOf(config, set),
                   set + ": smtpd.tls.cert_file and smtpd.tls.key_file go together");
    }
    if (config.qmgr.minimal_backoff_time > config.qmgr.maximal_backoff_time) {
        std::string name = config.isSet("qmgr.maximal_backoff_time") ? "qmgr.maximal_backoff_time"
                                                                     : "qmgr.minimal_backoff_time";
        errors.add(lineOf(config, name), name + ": qmgr.minimal_backoff_time (" +
                                             std::to_string(config.qmgr.minimal_backoff_time) +
                                             ") is above qmgr.maximal_backoff_time (" +
                                             std::to_string(config.qmgr.maximal_backoff_time) +
                                             ")");
    }
}

// True for a decimal or hexadecimal integer literal without suffix above INT32_MAX.
bool isIntegerBeyond32Bits(std::string_view token) {
    int base = 10;
    if (token.size() > 2 && token[0] == '0' && (token[1] == 'x' || token[1] == 'X')) {
        token.remove_prefix(2);
        base = 16;
    }
    unsigned long long value = 0;
    auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value, base);
    if (end != token.data() + token.size()) return false;  // a float, or has a suffix
    return error == std::errc::result_out_of_range || value > 0x7fffffffULL;
}

// libconfig 1.5 wraps an integer literal that does not fit 32 bits unless it ends in
// "L" (message_size_limit = 4294967296 would read as 0), so such literals get the suffix.
// Strings and comments are copied untouched; no line moves.
std::string promoteLargeIntegers(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    auto isNameChar = [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '*' || c == '-';
    };
    size_t i = 0;
    while (i < text.size()) {
        size_t start = i;
        unsigned char c = text[i];
        char next = i + 1 < text.size() ? text[i + 1] : '\0';
        if (c == '"') {
            for (++i; i < text.size() && text[i] != '"'; ++i) i += text[i] == '\\';
            i = std::min(i + 1, text.size());
        } else if (c == '#' || (c == '/' && next == '/')) {
            i = std::min(text.find('\n', i), text.size());
        } else if (c == '/' && next == '*') {
            size_t end = text.find("*/", i + 2);
            i = end == std::string_view::npos ? text.size() : end + 2;
        } else if (std::isalpha(c) || c == '_' || c == '*') {
            while (i < text.size() && isNameChar(text[i])) ++i;
        } else if (std::isdigit(c)) {
            while (i < text.size() &&
                   (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
                ++i;
            }
            std::string_view token = text.substr(start, i - start);
            out.append(token);
            if (isIntegerBeyond32Bits(token)) out += 'L';
            continue;
        } else {
            ++i;
        }
        out.append(text.substr(start, i - start));
    }
    return out;
}

// Reads the text with libconfig and loads it into a Config over the defaults.
Result<Config> loadText(const std::string& text, const std::string& displayPath,
                        const std::string& baseDir) {
    libconfig::Config parsed;
    parsed.setIncludeDir(baseDir.c_str());
    ConfigErrors errors(displayPath);
    try {
        parsed.readString(promoteLargeIntegers(text));
    } catch (const libconfig::ParseException& e) {
        errors.add(e.getFile(), e.getLine(), e.getError());
        return fail(errors.joined());
    }
    Config config;
    LoadContext ctx{baseDir, errors};
    Deferred loadLater;
    loadGroup(parsed.getRoot(), "", config, ctx, loadLater);
    for (const auto& [spec, setting] : loadLater) spec->load(*setting, config, ctx);
    if (errors.empty()) checkConsistency(config, errors);
    if (!errors.empty()) return fail(errors.joined());
    if (!config.isSet("myhostname")) config.myhostname = machineHostName();
    if (config.smtp.helo_name.empty()) config.smtp.helo_name = config.myhostname;
    if (config.myorigin.empty()) config.myorigin = config.myhostname;
    return config;
}

// Reads a whole file; the error names the path and the system's reason.
Result<std::string> readWholeFile(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail(path + ": cannot open: " + std::strerror(errno));
    std::string text;
    char buffer[65536];
    for (;;) {
        ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return fail(path + ": cannot read: " + std::strerror(errno));
        if (got == 0) break;
        text.append(buffer, static_cast<size_t>(got));
    }
    return text;
}

}  // namespace

Result<Config> parseConfigText(const std::string& text, const std::string& displayPath,
                               const std::string& baseDir) {
    try {
        return loadText(text, displayPath, baseDir);
    } catch (const libconfig::ConfigException& e) {
        // A loader that asks libconfig for something the file lacks is a bug of ours, but
        // the file's author still deserves a message rather than a crash.
        return fail(displayPath + ": " + e.what());
    }
}

Result<Config> loadConfig(const std::string& path) {
    auto text = readWholeFile(path);
    if (!text) return text.failure();
    std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
    auto config = parseConfigText(*text, path, absolute.parent_path().string());
    if (config) config->path = absolute.string();
    return config;
}

}  // namespace postern
