// main.cpp: the qmgr daemon (see service.h): one process per queue, started by master or
// alone with --standalone.
#include "daemon.h"
#include "service.h"

int main(int argc, char** argv) {
    postern::qmgr::QmgrService service;
    postern::DaemonSpec spec;
    spec.service = "qmgr";
    spec.beforePrivilegeDrop = [&](postern::DaemonContext& c) { return service.prepare(c); };
    spec.init = [&](postern::DaemonContext& c) { return service.init(c); };
    spec.onAccept = [&](postern::DaemonContext& c, postern::AcceptedConnection&& a) {
        service.accept(c, std::move(a));
    };
    // Stopping or retiring, qmgr starts no more deliveries and waits for those in flight.
    spec.onStop = [&](postern::DaemonContext&) { service.stop(); };
    spec.onRetire = spec.onStop;
    spec.shutdown = [&](postern::DaemonContext&) { service.shutdown(); };
    return postern::runDaemon(argc, argv, spec);
}
