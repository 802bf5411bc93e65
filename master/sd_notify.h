// sd_notify.h: telling systemd (Type=notify) how master is doing: READY=1 once started,
// RELOADING=1 / READY=1 around a reload, STOPPING=1 when stopping. The message is one
// datagram on the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace), as sd_notify(3) describes; without that variable nothing is sent.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <string_view>

#include "result.h"

namespace postern::master {

// The socket address for a NOTIFY_SOCKET value: an absolute path or "@abstract".
struct NotifyAddress {
    sockaddr_un address = {};
    socklen_t length = 0;
};
Result<NotifyAddress> parseNotifySocket(std::string_view value);

// Sends STATE ("READY=1", "STOPPING=1", lines joined by '\n') to $NOTIFY_SOCKET; does
// nothing and succeeds when the variable is unset or empty.
Status notifyServiceManager(const std::string& state);

// "RELOADING=1\nMONOTONIC_USEC=N": systemd wants the clock with a reload notice.
std::string reloadingState();

}  // namespace postern::master
