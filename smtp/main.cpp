// main.cpp: the smtp delivery worker (build/libexec/postern/smtp): takes delivery requests
// from qmgr on private/smtp and delivers them over SMTP (smtp/worker.h).
#include "daemon.h"
#include "worker.h"

int main(int argc, char** argv) {
    postern::smtp::Worker worker;
    postern::DaemonSpec spec;
    spec.service = "smtp";
    spec.beforePrivilegeDrop = [&](postern::DaemonContext& c) { return worker.loadTrust(c); };
    spec.init = [&](postern::DaemonContext& c) { return worker.init(c); };
    spec.onAccept = [&](postern::DaemonContext& c, postern::AcceptedConnection&& a) {
        worker.accept(c, std::move(a));
    };
    spec.onStop = [&](postern::DaemonContext&) { worker.stop(); };
    spec.shutdown = [&](postern::DaemonContext&) { worker.shutdown(); };
    return postern::runDaemon(argc, argv, spec);
}
