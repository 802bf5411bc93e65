// fuzz_config.cpp: libFuzzer target for the configuration loader, lib/config.h
// parseConfigText (libconfig's parser under it, then postern's typed loader and checks).
// The input is the text of a configuration file. Files with @include are skipped: the
// fuzzer would only be reading this machine's files.
// Properties: no crash and no exception out of the loader; an error names the file and
// holds no control character but the line breaks between errors; parsing is deterministic
// (the same text gives the same answer twice); an accepted configuration describes every
// parameter (what `postern config` prints) and keeps the loader's consistency rules.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"
#include "config_registry.h"
#include "fuzz_check.h"
#include "text_escape.h"

using namespace postern;

namespace {

const char kPath[] = "fuzz.conf";

void checkError(const std::string& error) {
    FUZZ_CHECK(!error.empty());
    size_t start = 0;
    while (start <= error.size()) {
        size_t end = error.find('\n', start);
        if (end == std::string::npos) end = error.size();
        const std::string_view line = std::string_view(error).substr(start, end - start);
        FUZZ_CHECK(line.substr(0, sizeof kPath - 1) == kPath);
        FUZZ_CHECK(isPrintable(line));
        start = end + 1;
    }
}

std::string describe(const Config& config) {
    std::string text;
    for (const ParameterInfo& info : describeParameters(config)) {
        FUZZ_CHECK(!info.name.empty());
        text += formatParameterLine(info.name, info.value) + "\n";
    }
    return text;
}

// The rules the loader promises for what it accepts (config_loader.cpp checkConsistency).
void checkAccepted(const Config& config) {
    FUZZ_CHECK(!config.myhostname.empty() && !config.myorigin.empty());
    FUZZ_CHECK(config.qmgr.minimal_backoff_time <= config.qmgr.maximal_backoff_time);
    const SmtpdTlsConfig& tls = config.smtpd.tls;
    FUZZ_CHECK(tls.cert_file.empty() == tls.key_file.empty());
    if (tls.security_level != SmtpdTlsConfig::Level::None) FUZZ_CHECK(!tls.cert_file.empty());
    for (const ServiceConfig& service : config.services)
        FUZZ_CHECK(service.name == "smtpd" || service.name == "qmgr" || service.name == "smtp");
}

}  // namespace

// libconfig 1.5 (Debian 12) leaks a string token its parser drops on a syntax error (fixed
// upstream in 1.7, hyperrealm/libconfig#155). Not ours and bounded by a file's size, so
// LeakSanitizer skips allocations made inside libconfig; our own leaks are still reported.
extern "C" const char* __lsan_default_suppressions() {
    return "leak:libconfig.so\nleak:libconfig++.so\n";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    if (text.find("@include") != std::string::npos) return 0;
    auto first = parseConfigText(text, kPath, "/nonexistent");
    auto second = parseConfigText(text, kPath, "/nonexistent");
    FUZZ_CHECK(first.ok() == second.ok());
    if (!first) {
        checkError(first.error());
        FUZZ_CHECK(first.error() == second.error());
        return 0;
    }
    checkAccepted(first.value());
    FUZZ_CHECK(describe(first.value()) == describe(second.value()));
    return 0;
}
