// scheduler.cpp: round-robin over destinations with concurrency limits (see scheduler.h).
#include "scheduler.h"

#include <algorithm>

#include "log.h"

namespace postern::qmgr {

Scheduler::Scheduler(int destinationLimit, int totalLimit)
    : destinationLimit_(std::max(1, destinationLimit)), totalLimit_(std::max(1, totalLimit)) {}

void Scheduler::enqueue(const std::string& destination, JobId job) {
    auto [it, inserted] = queues_.try_emplace(destination);
    Queue& queue = it->second;
    if (inserted) queue.name = destination;
    queue.jobs.push_back(job);
    offer(queue);
}

std::optional<Scheduler::Dispatch> Scheduler::next(const std::function<bool(JobId)>& live) {
    while (inFlight_ < totalLimit_ && !ring_.empty()) {
        Queue& queue = *ring_.front();
        ring_.pop_front();
        queue.inRing = false;
        while (!queue.jobs.empty() && !live(queue.jobs.front())) queue.jobs.pop_front();
        if (queue.jobs.empty()) {
            forgetIfIdle(queue);
            continue;
        }
        Dispatch dispatch{queue.name, queue.jobs.front()};
        queue.jobs.pop_front();
        ++queue.inFlight;
        ++inFlight_;
        offer(queue);
        return dispatch;
    }
    return std::nullopt;
}

void Scheduler::finished(const std::string& destination) {
    auto it = queues_.find(destination);
    if (it == queues_.end() || it->second.inFlight <= 0 || inFlight_ <= 0)
        log::panic("scheduler: delivery to an unknown destination ended");
    Queue& queue = it->second;
    --queue.inFlight;
    --inFlight_;
    offer(queue);
    forgetIfIdle(queue);
}

int Scheduler::inFlight(const std::string& destination) const {
    auto it = queues_.find(destination);
    return it == queues_.end() ? 0 : it->second.inFlight;
}

void Scheduler::offer(Queue& queue) {
    if (queue.inRing || queue.jobs.empty() || queue.inFlight >= destinationLimit_) return;
    queue.inRing = true;
    ring_.push_back(&queue);
}

void Scheduler::forgetIfIdle(Queue& queue) {
    if (queue.inFlight > 0 || !queue.jobs.empty() || queue.inRing) return;
    std::string name = queue.name;  // the key must outlive the erase
    queues_.erase(name);
}

}  // namespace postern::qmgr
