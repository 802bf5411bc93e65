// service_table.cpp: service plans and master's listening sockets (see service_table.h).
#include "service_table.h"

#include <algorithm>
#include <set>

namespace postern::master {

Result<std::vector<ServicePlan>> planServices(const Config& config,
                                              const std::string& programDir) {
    std::vector<ServicePlan> plans;
    for (const auto& service : config.services) {
        auto listeners = serviceListeners(service.name, config);
        if (!listeners) return listeners.failure();
        ServicePlan plan;
        plan.name = service.name;
        plan.program = programDir + "/" + service.name;
        plan.processes = service.processes;
        plan.exclusive = service.name == "qmgr";
        plan.listeners = std::move(listeners.value());
        plans.push_back(std::move(plan));
    }
    return plans;
}

ListenerChanges diffListeners(const std::vector<std::string>& open,
                              const std::vector<ServicePlan>& plans) {
    ListenerChanges changes;
    std::set<std::string> wanted;
    for (const auto& plan : plans) {
        for (const auto& spec : plan.listeners) {
            if (!wanted.insert(spec.name()).second) continue;
            if (std::find(open.begin(), open.end(), spec.name()) == open.end())
                changes.toBind.push_back(spec);
        }
    }
    for (const auto& name : open) {
        if (!wanted.count(name)) changes.toClose.push_back(name);
    }
    return changes;
}

Status ListenerSet::update(const std::vector<ServicePlan>& plans,
                           const std::string& queueDirectory,
                           const std::optional<UserIds>& owner) {
    ListenerChanges changes = diffListeners(names(), plans);
    std::map<std::string, UniqueFd> bound;  // closed again if a later bind fails
    for (const auto& spec : changes.toBind) {
        auto fd = bindListener(spec, queueDirectory, owner);
        if (!fd) return fail(spec.name() + ": " + fd.error());
        bound.emplace(spec.name(), std::move(fd.value()));
    }
    for (auto& [name, fd] : bound) sockets_[name] = std::move(fd);
    for (const auto& name : changes.toClose) sockets_.erase(name);
    return {};
}

std::vector<ListenerFd> ListenerSet::forService(const ServicePlan& plan) const {
    std::vector<ListenerFd> fds;
    for (const auto& spec : plan.listeners) {
        auto found = sockets_.find(spec.name());
        if (found != sockets_.end()) fds.push_back({found->first, found->second.get()});
    }
    return fds;
}

std::vector<std::string> ListenerSet::names() const {
    std::vector<std::string> result;
    for (const auto& entry : sockets_) result.push_back(entry.first);
    return result;
}

}  // namespace postern::master
