// json_text.cpp: JSON output helpers (see json_text.h).
#include "json_text.h"

#include "text_escape.h"

namespace postern::cli {

std::string jsonQuote(std::string_view bytes) {
    // printable() leaves valid UTF-8 and turns everything else into \xHH text, so the
    // result is valid UTF-8 whatever the input; only '"' and '\' remain to escape.
    std::string safe = printable(bytes);
    std::string out = "\"";
    for (char c : safe) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string jsonArray(const std::vector<std::string>& values) {
    std::string out = "[";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + values[i];
    return out + "]";
}

void JsonObject::add(std::string_view name, std::string_view value) {
    addRaw(name, jsonQuote(value));
}

void JsonObject::addNumber(std::string_view name, int64_t value) {
    addRaw(name, std::to_string(value));
}

void JsonObject::addBool(std::string_view name, bool value) {
    addRaw(name, value ? "true" : "false");
}

void JsonObject::addRaw(std::string_view name, std::string_view json) {
    if (!members_.empty()) members_ += ", ";
    members_ += jsonQuote(name);
    members_ += ": ";
    members_ += json;
}

}  // namespace postern::cli
