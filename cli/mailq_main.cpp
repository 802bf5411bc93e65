// mailq_main.cpp: the `mailq` compatibility program (build/bin/mailq): `postern queue`
// with sendmail's -C FILE for the configuration.
#include "sendmail_command.h"

int main(int argc, char** argv) {
    return postern::cli::runMailq(std::vector<std::string>(argv + 1, argv + argc));
}
