// service_table.h: what master runs, from the configuration's `services` table: each
// service's program, process count and listening sockets (docs/IPC.md, "Start-up"); and
// master's own copies of those sockets, kept open across reloads so that no connection is
// refused while children are replaced: a reload binds only what is new and closes only
// what is gone.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "listeners.h"
#include "privileges.h"
#include "result.h"
#include "spawner.h"
#include "unique_fd.h"

namespace postern::master {

// One service as master runs it.
struct ServicePlan {
    std::string name;                    // "smtpd"
    std::string program;                 // PROGRAM_DIR/smtpd
    int processes = 1;
    // One process at a time, even across a reload: the new one starts when the old one
    // has exited (qmgr owns the active queue and holds its own lock).
    bool exclusive = false;
    std::vector<ListenerSpec> listeners;
};

// The plans for CONFIG's services, in table order, with programs under PROGRAM_DIR.
Result<std::vector<ServicePlan>> planServices(const Config& config, const std::string& programDir);

// What a reload changes in the open sockets.
struct ListenerChanges {
    std::vector<ListenerSpec> toBind;  // wanted, not open yet
    std::vector<std::string> toClose;  // open, no longer wanted
};
// Compares the names of the sockets OPEN with those PLANS want.
ListenerChanges diffListeners(const std::vector<std::string>& open,
                              const std::vector<ServicePlan>& plans);

// Master's listening sockets by name.
class ListenerSet {
  public:
    // Binds what PLANS want and the set lacks (UNIX sockets under QUEUE_DIRECTORY, given to
    // OWNER), then closes what they no longer want. On a bind failure nothing changes.
    Status update(const std::vector<ServicePlan>& plans, const std::string& queueDirectory,
                  const std::optional<UserIds>& owner);
    // The sockets PLAN's processes inherit, in the plan's order.
    std::vector<ListenerFd> forService(const ServicePlan& plan) const;
    // The names of the open sockets, sorted.
    std::vector<std::string> names() const;
    // Closes every socket (master stops accepting).
    void closeAll() { sockets_.clear(); }

  private:
    std::map<std::string, UniqueFd> sockets_;
};

}  // namespace postern::master
