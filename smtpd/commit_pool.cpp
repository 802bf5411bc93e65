// commit_pool.cpp: worker threads (fsync + rename), one syncer thread (group directory
// fsync), results back to the loop through an eventfd.
#include "commit_pool.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.h"

namespace postern::smtpd {

Result<std::unique_ptr<CommitPool>> CommitPool::start(event_base* base, queue::QueueStore& store,
                                                      int threads) {
    std::unique_ptr<CommitPool> pool(new CommitPool(base, store));
    pool->wakeFd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!pool->wakeFd_) return fail(std::string("eventfd: ") + std::strerror(errno));
    pool->wakeEvent_.reset(event_new(base, pool->wakeFd_.get(), EV_READ | EV_PERSIST,
                                     &CommitPool::onCompletions, pool.get()));
    if (!pool->wakeEvent_ || event_add(pool->wakeEvent_.get(), nullptr) != 0)
        return fail("cannot watch the commit pool's eventfd");
    if (threads < 1) threads = 1;
    for (int i = 0; i < threads; ++i)
        pool->threads_.emplace_back([p = pool.get()] { p->workerLoop(); });
    pool->threads_.emplace_back([p = pool.get()] { p->syncerLoop(); });
    return pool;
}

CommitPool::CommitPool(event_base*, queue::QueueStore& store) : store_(store) {}

CommitPool::~CommitPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_.notify_all();
    synced_.notify_all();
    for (auto& thread : threads_) thread.join();
    // Jobs never started are dropped here: their writers discard the temporary files.
}

void CommitPool::open(queue::Envelope envelope, std::vector<queue::Recipient> recipients,
                      OpenCallback done) {
    auto job = std::make_unique<Job>();
    job->opening = true;
    job->envelope = std::move(envelope);
    job->recipients = std::move(recipients);
    job->opened = std::move(done);
    enqueue(std::move(job));
}

void CommitPool::submit(std::unique_ptr<queue::MessageWriter> writer, Callback done) {
    auto job = std::make_unique<Job>();
    job->writer = std::move(writer);
    job->done = std::move(done);
    enqueue(std::move(job));
}

void CommitPool::enqueue(std::unique_ptr<Job> job) {
    ++pending_;
    {
        std::lock_guard lock(mutex_);
        queued_.push_back(std::move(job));
    }
    work_.notify_one();
}

void CommitPool::workerLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        work_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
        if (stopping_) return;
        std::unique_ptr<Job> job = std::move(queued_.front());
        queued_.pop_front();
        runJob(std::move(job), lock);
    }
}

void CommitPool::runJob(std::unique_ptr<Job> job, std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    if (job->opening) {
        auto made = store_.createMessage(job->envelope, job->recipients);
        if (made) {
            job->writer = std::move(made.value());
        } else {
            job->outcome = made.failure();
        }
    } else {
        // The file's own fsync runs here, in parallel with the other workers' fsyncs.
        job->outcome = job->writer->writeAndSync();
        if (job->outcome) job->outcome = job->writer->publish();
    }
    if (!job->opening && job->outcome) {
        lock.lock();
        awaitingSync_.push_back(std::move(job));
        synced_.notify_one();
        return;
    }
    std::vector<std::unique_ptr<Job>> finished;
    finished.push_back(std::move(job));
    complete(std::move(finished));
    lock.lock();
}

void CommitPool::syncerLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
        synced_.wait(lock, [this] { return stopping_ || !awaitingSync_.empty(); });
        if (awaitingSync_.empty()) return;  // stopping, and nothing left to make durable
        // Every rename in this batch finished before the fsync below starts, so one
        // directory fsync makes all of them durable.
        std::vector<std::unique_ptr<Job>> batch;
        batch.swap(awaitingSync_);
        lock.unlock();
        Status synced = store_.syncQueue(queue::QueueName::Incoming);
        for (auto& job : batch) job->outcome = synced;
        complete(std::move(batch));
        lock.lock();
    }
}

void CommitPool::complete(std::vector<std::unique_ptr<Job>> jobs) {
    bool wake;
    {
        std::lock_guard lock(mutex_);
        wake = finished_.empty();
        for (auto& job : jobs) finished_.push_back(std::move(job));
    }
    if (!wake) return;  // the loop was already told and has not collected yet
    uint64_t one = 1;
    if (write(wakeFd_.get(), &one, sizeof one) < 0 && errno != EAGAIN)
        log::warning("commit pool: eventfd write: %s", std::strerror(errno));
}

void CommitPool::onCompletions(evutil_socket_t fd, short, void* self) {
    uint64_t count = 0;
    if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
        log::warning("commit pool: eventfd read: %s", std::strerror(errno));
    static_cast<CommitPool*>(self)->deliverCompletions();
}

void CommitPool::deliverCompletions() {
    std::vector<std::unique_ptr<Job>> done;
    {
        std::lock_guard lock(mutex_);
        done.swap(finished_);
    }
    for (auto& job : done) {
        --pending_;
        // A callback may destroy a session, never the pool (the server owns both).
        if (job->opening) {
            if (job->writer) {
                job->opened(std::move(job->writer));
            } else {
                job->opened(job->outcome.failure());
            }
            continue;
        }
        job->writer.reset();
        job->done(std::move(job->outcome));
    }
}

}  // namespace postern::smtpd
