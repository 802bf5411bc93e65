// config_check.h: checks of a loaded Config against the file system, for `postern check`
// and the master at start-up: the certificate, key and CA files it names exist and are
// readable, the queue directory is a directory, the log file's folder exists.
#pragma once

#include <string>
#include <vector>

#include "config.h"

namespace postern {

// Problems found, each "FILE:LINE: parameter: path: reason" (displayPath names the file).
std::vector<std::string> checkConfigFiles(const Config& config, const std::string& displayPath);

}  // namespace postern
