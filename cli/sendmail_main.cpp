// sendmail_main.cpp: the `sendmail` compatibility program (build/bin/sendmail); see
// sendmail_command.cpp. Invoked under the name mailq it lists the queue, as Sendmail does.
#include <signal.h>

#include <cstring>

#include "sendmail_command.h"

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);  // a peer gone is an error to report, not a reason to die
    std::vector<std::string> args(argv + 1, argv + argc);
    const char* name = std::strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (std::strcmp(name, "mailq") == 0) return postern::cli::runMailq(args);
    return postern::cli::runSendmail(args);
}
