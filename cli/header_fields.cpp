// header_fields.cpp: header line recognition (see header_fields.h).
#include "header_fields.h"

namespace postern::cli {

std::string_view headerFieldName(std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return {};
    for (char c : line.substr(0, colon)) {
        if (c <= ' ' || c > '~') return {};
    }
    return line.substr(0, colon);
}

}  // namespace postern::cli
