// version.h: postern's version, for the master's start and reload log lines and for
// `postern --version`-style output.
#pragma once

namespace postern {

inline constexpr const char* kPosternVersion = "0.1.0";

}  // namespace postern
