// commit_pool.h: the queue file work smtpd keeps off its event loop. Worker threads create
// each new message's temporary file (the file system may take its time finding an inode,
// and incoming/ is locked against the renames), and commit finished ones: writeAndSync()
// (END record, fsync) and publish() (rename into incoming/), many at once, so the file
// system commits their fsyncs together; one syncer thread then fsyncs incoming/ ONCE for
// every rename that finished before that fsync began (group commit). Each outcome comes
// back to the loop thread through an eventfd, where the submitter's callback runs; only
// then may smtpd answer 354 (file created) or 250 (durably queued).
//
// The loop thread calls open() and submit() and gets callbacks; the threads touch no
// libevent object but the eventfd (a plain write). Destroying the pool finishes the work
// in progress, drops what was not started (writers discard their temporary files) and
// calls no more callbacks.
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
    // Called on the loop thread with the writer of a new queue file, or why there is none.
    using OpenCallback = std::function<void(Result<std::unique_ptr<queue::MessageWriter>>)>;

    // A pool of `threads` workers (at least 1) committing into `store`'s incoming/,
    // reporting on `base`.
    static Result<std::unique_ptr<CommitPool>> start(event_base* base, queue::QueueStore& store,
                                                     int threads);
    ~CommitPool();
    CommitPool(const CommitPool&) = delete;
    CommitPool& operator=(const CommitPool&) = delete;

    // Creates the queue file of a new message (store.createMessage); `done` runs later on
    // the loop with its writer.
    void open(queue::Envelope envelope, std::vector<queue::Recipient> recipients,
              OpenCallback done);
    // Commits `writer` (complete content, not yet synced); `done` runs later on the loop.
    void submit(std::unique_ptr<queue::MessageWriter> writer, Callback done);
    // Opens and commits submitted and not yet reported.
    size_t pending() const { return pending_; }

  private:
    struct Job {
        bool opening = false;
        queue::Envelope envelope;                      // opening
        std::vector<queue::Recipient> recipients;      // opening
        std::unique_ptr<queue::MessageWriter> writer;  // committing; opening: the result
        Status outcome;
        OpenCallback opened;
        Callback done;
    };

    void enqueue(std::unique_ptr<Job> job);
    // On a worker: one job, then where it goes next (the syncer, or back to the loop).
    void runJob(std::unique_ptr<Job> job, std::unique_lock<std::mutex>& lock);

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
