// json_text.h: just enough JSON output for postqueue -j style listings: quoted strings
// (always valid UTF-8: invalid bytes and control characters are escaped first, as in the
// logs), numbers, booleans, arrays of ready-made values, objects written in insertion order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postern::cli {

// A JSON string literal for `bytes`, quotes included.
std::string jsonQuote(std::string_view bytes);

// "[a,b,...]" from values that are already JSON text.
std::string jsonArray(const std::vector<std::string>& values);

// An object built member by member, in order.
class JsonObject {
public:
    // A string member.
    void add(std::string_view name, std::string_view value);
    // A number member.
    void addNumber(std::string_view name, int64_t value);
    // A boolean member.
    void addBool(std::string_view name, bool value);
    // A member whose value is already JSON text.
    void addRaw(std::string_view name, std::string_view json);
    // The object: {"name": value, ...}
    std::string text() const { return "{" + members_ + "}"; }

private:
    std::string members_;
};

}  // namespace postern::cli
