// main.cpp: libexec/postern/master, started by `postern start` (see master.h).
#include <cstdio>

#include "master.h"

int main(int argc, char** argv) {
    auto options = postern::master::parseMasterOptions(argc, argv);
    if (!options) {
        std::fprintf(stderr, "postern/master: %s\n"
                             "usage: master [-c FILE] [--foreground] [--ready-fd N] [-v]\n",
                     options.error().c_str());
        return 2;
    }
    return postern::master::runMaster(*options);
}
