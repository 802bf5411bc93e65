// scheduler.h: which delivery job starts next. Jobs wait in one FIFO per destination (a
// routing Target key); the scheduler hands them out round-robin over the destinations, so
// one busy destination cannot starve the others, while keeping at most
// destination_concurrency_limit deliveries in flight per destination and
// total_concurrency_limit in all. It knows jobs only by number; a destination with nothing
// queued and nothing in flight is forgotten, so memory follows the work, not the history.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

namespace postern::qmgr {

using JobId = uint64_t;

class Scheduler {
  public:
    struct Dispatch {
        std::string destination;
        JobId job = 0;
    };

    // A scheduler with these limits (each at least 1).
    Scheduler(int destinationLimit, int totalLimit);

    // Queues a job at the end of its destination's queue.
    void enqueue(const std::string& destination, JobId job);
    // Takes the next job that may start now and counts it in flight; nullopt when every
    // destination with work is at its limit, or the total limit is reached. Jobs for which
    // `live` is false (cancelled) are dropped on the way.
    std::optional<Dispatch> next(const std::function<bool(JobId)>& live);
    // One delivery of `destination` ended.
    void finished(const std::string& destination);

    // Deliveries in flight, in all or to one destination.
    int inFlight() const { return inFlight_; }
    int inFlight(const std::string& destination) const;
    // Destinations with queued or in-flight work.
    size_t destinations() const { return queues_.size(); }

  private:
    struct Queue {
        std::string name;
        std::deque<JobId> jobs;
        int inFlight = 0;
        bool inRing = false;
    };

    // Puts a queue that has jobs and room at the end of the ring.
    void offer(Queue& queue);
    // Forgets a queue with nothing queued and nothing in flight.
    void forgetIfIdle(Queue& queue);

    int destinationLimit_;
    int totalLimit_;
    int inFlight_ = 0;
    std::unordered_map<std::string, Queue> queues_;  // node-based: pointers stay valid
    std::deque<Queue*> ring_;                        // queues with jobs and room, in turn
};

}  // namespace postern::qmgr
