// paths.h: where postern finds its files: the configuration (-c FILE otherwise) and the
// daemons. Both work from the build tree (build/sbin/postern) and from an installed PREFIX.
#pragma once

#include <string>

namespace postern {

// $POSTERN_CONF if set; else ./conf/postern.conf if it exists; else
// <dir of this executable>/../../conf/postern.conf if it exists (build/sbin/ in the source
// tree); else <dir>/../etc/postern/postern.conf or <dir>/../../etc/postern/postern.conf if
// one exists (an install under PREFIX: sbin/, bin/, lib/postern/); else
// /etc/postern/postern.conf.
std::string defaultConfigPath();

// <dir of this executable>/../libexec/postern: where master, smtpd, qmgr and smtp live.
std::string libexecDir();

// The folder holding this process's executable (from /proc/self/exe); "." if unknown.
std::string executableDir();

}  // namespace postern
