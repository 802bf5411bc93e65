// master.h: the master process (DESIGN.md "Processes"): loads and checks the
// configuration, claims the queue (layout, lock, pid file, recovery), binds every
// listening socket, starts and supervises the services, reloads on SIGHUP and stops on
// SIGTERM or SIGINT. main.cpp parses the command line and calls runMaster().
#pragma once

#include <string>

#include "result.h"

namespace postern::master {

struct MasterOptions {
    std::string configPath;
    bool verbose = false;  // -v: debug lines, in master and its children
    // --ready-fd N (from `postern start`): master writes "ready PID" or "error TEXT" lines
    // there once started or failed, then closes it, and detaches from the terminal.
    int readyFd = -1;
};

// Parses "[-c FILE] [--foreground] [--ready-fd N] [-v]".
Result<MasterOptions> parseMasterOptions(int argc, char** argv);

// Runs master until it stops; returns the exit status (0 after a clean stop, 1 when it
// could not start).
int runMaster(const MasterOptions& options);

}  // namespace postern::master
