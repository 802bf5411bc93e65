// commit_pool.h: makes accepted messages durable without stalling the event loop. Worker
// threads run each writer's writeAndSync() (END record, fsync) and publish() (rename into
// incoming/), many at once, so the file system commits their fsyncs together; one syncer
// thread then fsyncs incoming/ ONCE for every rename that finished before that fsync began
// (group commit). Each outcome comes back to the loop thread through an eventfd, where the
// submitter's callback runs; only then may smtpd answer 250.
//
// The loop thread calls submit() and gets callbacks; the threads touch no libevent object
// but the eventfd (a plain write). Destroying the pool finishes the commits in progress,
// drops those not started (their writers discard their temporary files) and calls no more
// callbacks.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "event.h"
#include "queue_store.h"
#include "queue_writer.h"
#include "result.h"
#include "unique_fd.h"

namespace postern::smtpd {

class CommitPool {
  public:
    // Called on the loop thread with the outcome: success means durably queued.
    using Callback = std::function<void(Status)>;

    // A pool of `threads` workers (at least 1) committing into `store`'s incoming/,
    // reporting on `base`.
    static Result<std::unique_ptr<CommitPool>> start(event_base* base, queue::QueueStore& store,
                                                     int threads);
    ~CommitPool();
    CommitPool(const CommitPool&) = delete;
    CommitPool& operator=(const CommitPool&) = delete;

    // Commits `writer` (complete content, not yet synced); `done` runs later on the loop.
    void submit(std::unique_ptr<queue::MessageWriter> writer, Callback done);
    // Commits submitted and not yet reported.
    size_t pending() const { return pending_; }

  private:
    struct Job {
        std::unique_ptr<queue::MessageWriter> writer;
        Callback done;
        Status outcome;
    };

    CommitPool(event_base* base, queue::QueueStore& store);
    void workerLoop();
    void syncerLoop();
    // From a thread: hands finished jobs to the loop.
    void complete(std::vector<std::unique_ptr<Job>> jobs);
    // On the loop: runs the callbacks of finished jobs.
    void deliverCompletions();
    static void onCompletions(evutil_socket_t fd, short, void* self);

    queue::QueueStore& store_;
    UniqueFd wakeFd_;  // eventfd: threads → loop
    EventPtr wakeEvent_;
    size_t pending_ = 0;  // loop thread only

    std::mutex mutex_;
    std::condition_variable work_;    // a job to write, or stopping
    std::condition_variable synced_;  // renames waiting for the directory fsync, or stopping
    std::deque<std::unique_ptr<Job>> queued_;
    std::vector<std::unique_ptr<Job>> awaitingSync_;
    std::vector<std::unique_ptr<Job>> finished_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace postern::smtpd
