// worker.cpp: accepting delivery requests and keeping the deliveries (see worker.h).
#include "worker.h"

#include "log.h"

namespace postern::smtp {

Worker::~Worker() { shutdown(); }

Status Worker::loadTrust(DaemonContext& context) {
    auto trust = TrustStores::load(context.config().smtp.tls);
    if (!trust) return fail("cannot load the trusted CAs for smtp.tls: " + trust.error());
    trust_ = std::move(trust.value());
    return {};
}

Status Worker::init(DaemonContext& context) {
    context_ = &context;
    const Config& config = context.config();
    if (!trust_) {
        if (Status loaded = loadTrust(context); !loaded) return loaded;
    }
    dns::ResolverSettings dnsSettings;
    for (const auto& server : config.dns_servers) dnsSettings.servers.push_back(server.toString());
    auto resolver = dns::Resolver::create(context.base(), dnsSettings);
    if (!resolver) return fail("cannot start the DNS resolver: " + resolver.error());
    resolver_ = std::move(resolver.value());
    reapEvent_.reset(event_new(context.base(), -1, 0, &Worker::onReap, this));
    if (!reapEvent_) return fail("cannot create the reap event");
    env_.base = context.base();
    env_.config = &config;
    env_.resolver = resolver_.get();
    env_.trust = trust_.get();
    env_.settings = SessionSettings::fromConfig(config.smtp);
    env_.random = dns::defaultRandom();
    cache_ = std::make_unique<ConnectionCache>(context.base(), CacheSettings::fromConfig(config),
                                               [&context] { return context.beginWork(); });
    env_.cache = cache_.get();
    limit_ = static_cast<size_t>(std::max(1, config.smtp.process_delivery_limit));
    return {};
}

void Worker::accept(DaemonContext& context, AcceptedConnection&& connection) {
    context.countUse();
    auto delivery = std::make_unique<Delivery>(env_, context.beginWork(),
                                               [this](Delivery* done) { retire(done); });
    Delivery* key = delivery.get();
    active_.emplace(key, std::move(delivery));
    if (Status opened = key->open(std::move(connection.fd)); !opened) {
        log::warning("cannot take a delivery request: %s", opened.error().c_str());
        active_.erase(key);
        return;
    }
    if (active_.size() >= limit_ && !paused_) {
        paused_ = true;
        context.pauseAccepting();
    }
}

void Worker::retire(Delivery* delivery) {
    auto found = active_.find(delivery);
    if (found == active_.end()) log::panic("retiring an unknown delivery");
    finished_.push_back(std::move(found->second));
    active_.erase(found);
    event_active(reapEvent_.get(), EV_TIMEOUT, 0);
    if (paused_ && active_.size() < limit_) {
        paused_ = false;
        context_->resumeAccepting();
    }
}

void Worker::onReap(evutil_socket_t, short, void* self) {
    static_cast<Worker*>(self)->finished_.clear();
}

void Worker::stop() {
    if (cache_) cache_->closeAll();
}

// Everything that lives on the event base goes before it does (runDaemon frees the base
// before main() destroys the worker).
void Worker::shutdown() {
    finished_.clear();
    active_.clear();
    cache_.reset();
    resolver_.reset();
    reapEvent_.reset();
}

}  // namespace postern::smtp
