// main.cpp: smtpd, postern's ESMTP receiver. The skeleton (lib/daemon.h) does the process
// plumbing; SmtpServer (server.h) does the rest.
#include "daemon.h"
#include "server.h"

int main(int argc, char** argv) {
    using namespace postern;
    smtpd::SmtpServer server;
    DaemonSpec spec;
    spec.service = "smtpd";
    spec.beforePrivilegeDrop = [&](DaemonContext& context) { return server.prepare(context); };
    spec.init = [&](DaemonContext& context) { return server.start(context); };
    spec.onAccept = [&](DaemonContext& context, AcceptedConnection&& connection) {
        server.accept(context, std::move(connection));
    };
    spec.onStop = [&](DaemonContext&) { server.drain(); };
    spec.shutdown = [&](DaemonContext&) { server.closeAll(); };
    return runDaemon(argc, argv, spec);
}
