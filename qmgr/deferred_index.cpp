// deferred_index.cpp: due times of deferred mail (see deferred_index.h).
#include "deferred_index.h"

namespace postern::qmgr {

void DeferredIndex::set(const std::string& id, int64_t dueMicros) {
    auto [it, inserted] = due_.try_emplace(id, dueMicros);
    if (!inserted) {
        order_.erase({it->second, id});
        it->second = dueMicros;
    }
    order_.insert({dueMicros, id});
}

bool DeferredIndex::erase(const std::string& id) {
    auto it = due_.find(id);
    if (it == due_.end()) return false;
    order_.erase({it->second, id});
    due_.erase(it);
    return true;
}

std::vector<std::string> DeferredIndex::takeDue(int64_t now, size_t max) {
    std::vector<std::string> taken;
    while (taken.size() < max && !order_.empty() && order_.begin()->first <= now) {
        taken.push_back(order_.begin()->second);
        due_.erase(order_.begin()->second);
        order_.erase(order_.begin());
    }
    return taken;
}

std::optional<int64_t> DeferredIndex::earliest() const {
    if (order_.empty()) return std::nullopt;
    return order_.begin()->first;
}

void DeferredIndex::retainOnly(const std::unordered_set<std::string>& present) {
    for (auto it = due_.begin(); it != due_.end();) {
        if (present.count(it->first) != 0) {
            ++it;
            continue;
        }
        order_.erase({it->second, it->first});
        it = due_.erase(it);
    }
}

}  // namespace postern::qmgr
