// config_parse.h: helpers for the configuration's unit tests: parse text that must load,
// or text that must fail, with the test failing (and saying why) otherwise.
// Include it after every standard header: it brings in CppUTest, whose leak-detecting
// `new` macro breaks standard headers included after it.
#pragma once

#include <CppUTest/TestHarness.h>

#include <string>

#include "config.h"

namespace postern::testing {

// Parses text that must be valid; errors name "test.conf", relative paths use baseDir.
inline Config parseOk(const std::string& text, const std::string& baseDir = "/etc/postern") {
    auto config = parseConfigText(text, "test.conf", baseDir);
    CHECK_TEXT(config.ok(), config.ok() ? "" : config.error().c_str());
    return config.value();
}

// Parses text that must be refused; returns the error lines.
inline std::string parseError(const std::string& text) {
    auto config = parseConfigText(text, "test.conf", "/etc/postern");
    CHECK_TEXT(!config.ok(), ("expected an error for: " + text).c_str());
    return config.ok() ? "" : config.error();
}

}  // namespace postern::testing
