// sendmail_command.h: the `sendmail` and `mailq` programs (cli/sendmail_main.cpp,
// cli/mailq_main.cpp), kept in the cli archive so the tests can reach them.
#pragma once

#include <string>
#include <vector>

namespace postern::cli {

// sendmail's whole run on its arguments (without the program name); returns the exit
// status (sysexits).
int runSendmail(const std::vector<std::string>& args);

// mailq: `postern queue` with -C FILE for the configuration.
int runMailq(const std::vector<std::string>& args);

}  // namespace postern::cli
