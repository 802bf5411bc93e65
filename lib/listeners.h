// listeners.h: which listening sockets each service owns, binding them, and handing them
// from master to a child through the environment (docs/IPC.md, "Start-up").
// Shared by master (binds everything, then starts children) and by a daemon started
// alone (binds its own). Names: "inet:127.0.0.1:2525", "inet:[::1]:25", "unix:public/submit"
// (UNIX paths relative to queue_directory).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "privileges.h"
#include "result.h"
#include "unique_fd.h"

namespace postern {

// The environment a child of master reads (docs/IPC.md).
constexpr const char* kStatusFdEnv = "POSTERN_STATUS_FD";
constexpr const char* kListenFdsEnv = "POSTERN_LISTEN_FDS";
constexpr const char* kGenerationEnv = "POSTERN_GENERATION";

enum class ListenerKind { Inet, Unix };

struct ListenerSpec {
    ListenerKind kind = ListenerKind::Inet;
    std::string address;  // inet: numeric "host:port" / "[v6]:port"; unix: "public/submit"
    mode_t mode = 0600;   // unix only

    // "inet:ADDRESS" or "unix:PATH": the name in POSTERN_LISTEN_FDS and in log lines.
    std::string name() const;
};

// The sockets SERVICE owns: smtpd: each smtpd.listen address (a host name gives one
// socket per address it resolves to) and public/submit (0666); qmgr: private/qmgr; smtp:
// private/smtp (0600). Other services own none.
Result<std::vector<ListenerSpec>> serviceListeners(const std::string& service,
                                                   const Config& config);
// Binds SPEC (UNIX paths under QUEUE_DIRECTORY). A missing private/ or public/ folder is
// created (0700 or 0755). With OWNER (master or a daemon started as root), the UNIX socket
// and a folder created here are given to that user, who must be able to connect later.
Result<UniqueFd> bindListener(const ListenerSpec& spec, const std::string& queueDirectory,
                              const std::optional<UserIds>& owner);

// One inherited listening socket: its name and descriptor number.
struct InheritedListener {
    std::string name;
    int fd = -1;
};

// "inet:127.0.0.1:2525=4,unix:public/submit=5", the value of POSTERN_LISTEN_FDS.
std::string formatListenFds(const std::vector<InheritedListener>& listeners);
// Parses POSTERN_LISTEN_FDS strictly: kinds inet/unix, decimal descriptors >= 0, no
// repeated name or descriptor. An empty text is no listeners.
Result<std::vector<InheritedListener>> parseListenFds(std::string_view text);

}  // namespace postern
