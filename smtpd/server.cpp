// server.cpp: smtpd's process-wide part: services, accepting, limits, draining, reaping.
#include "server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>

#include "log.h"
#include "sockets.h"
#include "tls.h"

namespace postern::smtpd {

namespace {

// Commits running at once: enough fsyncs in flight for the file system to batch them.
constexpr int kCommitThreads = 16;
// Descriptors kept back from sessions: listeners, the log, qmgr, open queue files.
constexpr size_t kReservedDescriptors = 64 + kCommitThreads;

// The peer of a UNIX socket: its user id, or -1.
long peerUid(int fd) {
    ucred credentials = {};
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    return long(credentials.uid);
}

size_t descriptorBudget() {
    rlimit limit = {};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    size_t available = size_t(limit.rlim_cur);
    return available > kReservedDescriptors * 2 ? available - kReservedDescriptors
                                                : std::max<size_t>(available / 2, 1);
}

}  // namespace

SmtpServer::SmtpServer() = default;

SmtpServer::~SmtpServer() {
    closeAll();
}

Status SmtpServer::prepare(DaemonContext& context) {
    const Config& config = context.config();
    if (context.standalone()) {
        auto made = queue::ensureLayoutForDaemon(config.queue_directory, config.mail_owner);
        if (!made) return made;
    }
    if (config.smtpd.tls.security_level == SmtpdTlsConfig::Level::None) return {};
    tls::ServerTlsSettings settings;
    settings.certFile = config.smtpd.tls.cert_file;
    settings.keyFile = config.smtpd.tls.key_file;
    settings.caFile = config.smtpd.tls.ca_file;
    settings.askClientCert = config.smtpd.tls.ask_ccert;
    auto made = tls::makeServerContext(settings);
    if (!made) return fail("smtpd.tls: " + made.error());
    tls_ = std::move(made.value());
    return {};
}

Status SmtpServer::start(DaemonContext& context) {
    context_ = &context;
    const Config& config = context.config();
    store_ = std::make_unique<queue::FsQueueStore>(
        config.queue_directory, size_t(config.queue_file_recycle_limit));
    relay_ = std::make_unique<RelayPolicy>(config);
    freeSpace_ = std::make_unique<FreeSpaceCheck>(*store_, uint64_t(config.queue_minfree),
                                                  uint64_t(config.message_size_limit));
    notifier_ =
        std::make_unique<QmgrNotifier>(context.base(), config.queue_directory + "/private/qmgr");
    auto pool = CommitPool::start(context.base(), *store_, kCommitThreads);
    if (!pool) return pool.failure();
    commits_ = std::move(pool.value());
    reapEvent_.reset(event_new(context.base(), -1, 0, &SmtpServer::onReap, this));
    if (!reapEvent_) return fail("cannot create the reaper event");

    services_.base = context.base();
    services_.config = &config;
    services_.store = store_.get();
    services_.commits = commits_.get();
    services_.notifier = notifier_.get();
    services_.tls = tls_.get();
    services_.relay = relay_.get();
    services_.limits = {uint64_t(std::max<int64_t>(0, config.message_size_limit)),
                        config.smtpd.recipient_limit};
    services_.freeSpace = freeSpace_.get();
    services_.finished = [this](Session& session) { sessionFinished(session); };

    size_t configured = config.smtpd.process_connection_limit > 0
                            ? size_t(config.smtpd.process_connection_limit)
                            : SIZE_MAX;
    connectionLimit_ = std::min(configured, descriptorBudget());
    if (connectionLimit_ < configured && configured != SIZE_MAX) {
        log::warning("smtpd.process_connection_limit %zu exceeds the open file limit; using %zu",
                     configured, connectionLimit_);
    }
    return {};
}

ClientOrigin SmtpServer::originOf(const AcceptedConnection& connection) const {
    ClientOrigin origin;
    if (connection.isUnix()) {
        // Postfix's names for a client that is not on the network.
        origin.local = true;
        origin.hostname = "localhost";
        origin.address = "127.0.0.1";
        origin.uid = peerUid(connection.fd.get());
        origin.trusted = true;
        return origin;
    }
    const auto* peer = reinterpret_cast<const sockaddr*>(&connection.peer);
    origin.address = sockets::formatAddress(peer);
    origin.trusted = relay_->inMynetworks(peer);
    return origin;
}

void SmtpServer::accept(DaemonContext& context, AcceptedConnection&& connection) {
    context.countUse();
    ClientOrigin origin = originOf(connection);
    ClientCounter::Ticket ticket;
    bool tooMany = false;
    if (!origin.local) {
        ticket = clients_.enter(origin.address);
        int limit = context.config().smtpd.client_connection_count_limit;
        int count = clients_.count(origin.address);
        // Like Postfix's smtpd_client_event_limit_exceptions = $mynetworks.
        tooMany = limit > 0 && count > limit && !origin.trusted;
        if (tooMany) {
            log::warning("Connection concurrency limit exceeded: %d from %s[%s] for service smtpd",
                         count, origin.hostname.c_str(), origin.address.c_str());
        }
    }
    auto session = std::make_unique<Session>(services_, std::move(connection.fd), std::move(origin),
                                             context.beginWork(), std::move(ticket));
    Session* raw = session.get();
    sessions_.emplace(raw, std::move(session));
    applyBackPressure();
    if (tooMany) {
        raw->refuse(makeReply(421, "4.7.0",
                              context.config().myhostname + " Error: too many connections from " +
                                  raw->origin().address));
    } else {
        raw->start();
    }
}

void SmtpServer::drain() {
    // drain() may end a session; it then lands in finished_, not out of sessions_.
    for (auto& [raw, session] : sessions_) session->drain();
}

void SmtpServer::sessionFinished(Session& session) {
    finished_.push_back(&session);
    if (reapEvent_) event_active(reapEvent_.get(), 0, 0);
}

void SmtpServer::onReap(evutil_socket_t, short, void* self) {
    static_cast<SmtpServer*>(self)->reap();
}

void SmtpServer::reap() {
    std::vector<Session*> done;
    done.swap(finished_);
    for (Session* session : done) sessions_.erase(session);
    applyBackPressure();
}

void SmtpServer::applyBackPressure() {
    if (!context_) return;
    if (!pausedAtLimit_ && sessions_.size() >= connectionLimit_) {
        pausedAtLimit_ = true;
        log::warning("%zu sessions: process connection limit reached; not accepting for now",
                     sessions_.size());
        context_->pauseAccepting();
    } else if (pausedAtLimit_ && sessions_.size() < connectionLimit_) {
        pausedAtLimit_ = false;
        context_->resumeAccepting();
    }
}

void SmtpServer::closeAll() {
    commits_.reset();  // finishes the commits in progress, reports nothing more
    finished_.clear();
    sessions_.clear();
    reapEvent_.reset();
    notifier_.reset();
    context_ = nullptr;
}

}  // namespace postern::smtpd
