// queue_probe.cpp: what creating queue files costs on this file system, layout by layout.
// Not part of `make bench`; run by hand (docs/BENCH.md, "What the file system does").
//
//   queue_probe --dir PATH [--sessions 20] [--seconds 15] [--size 4096]
//               [--subdirs N] [--tmp final|split] [--create open|tmpfile|recycle]
//               [--delete unlink|keep] [--lag-ms 0]
//
// `sessions` threads each write one message at a time as smtpd's commit pool does: create
// a temporary file, write `size` bytes, fsync, rename it to its final name, then wait for
// the group commit (one syncer thread fsyncs every directory that received a rename since
// its last round). A deleter thread then removes each message at once (qmgr after a
// delivery). Layouts:
//   --subdirs 0            final files in PATH/ID (one directory)
//   --subdirs N            final files in PATH/H/ID, H one of N subdirectories
//   --tmp final            temporaries next to the final name: DIR/.tmp-ID
//   --tmp split            temporaries in PATH/tmp/H/.tmp-ID (N or 16 subdirectories)
//   --create open          open(O_CREAT|O_EXCL)
//   --create tmpfile       open(O_TMPFILE) and linkat into place (no temporary name)
//   --create recycle       reuse a delivered message's file: the deleter renames it into
//                          PATH/recycle/ instead of unlinking it; a writer claims one by
//                          renaming it to its temporary name, overwrites it and truncates
//                          it to its new length (open O_CREAT when the pool is empty)
//   --delete keep          never delete (the directory grows; no recently freed inodes)
//   --lag-ms L             delete each message L ms after its commit (the time to deliver it)
// Prints messages per second for every second, then the total rate, the CPU time of the
// whole process per message (user + system: what the file system costs the machine), and
// the average wall time of each step.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_tool.h"

namespace postern::bench {
namespace {

struct Config {
    std::string dir;
    int sessions = 20;
    int seconds = 15;
    size_t size = 4096;
    int subdirs = 0;
    bool splitTemporaries = false;
    std::string create = "open";
    std::string deletion = "unlink";
    int lagMs = 0;
};

// Wall time spent in each step, summed over all messages (nanoseconds).
struct StepTimes {
    std::atomic<int64_t> create{0}, write{0}, fsync{0}, rename{0}, commitWait{0}, remove{0};
};

[[noreturn]] void dieErrno(const std::string& what) { die(what + ": " + std::strerror(errno)); }

void makeDirectory(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) dieErrno("mkdir " + path);
}

double cpuSeconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

class Probe {
  public:
    explicit Probe(Config config) : config_(std::move(config)), payload_(config_.size, 'x') {
        makeDirectory(config_.dir);
        int buckets = config_.subdirs > 0 ? config_.subdirs : 1;
        for (int h = 0; h < buckets; ++h) {
            std::string final = config_.subdirs > 0 ? config_.dir + "/" + bucketName(h) : config_.dir;
            makeDirectory(final);
            finalDirs_.push_back(final);
        }
        if (config_.splitTemporaries) {
            makeDirectory(config_.dir + "/tmp");
            for (int h = 0; h < 16; ++h) {
                tmpDirs_.push_back(config_.dir + "/tmp/" + bucketName(h));
                makeDirectory(tmpDirs_.back());
            }
        }
        if (config_.create == "recycle") makeDirectory(config_.dir + "/recycle");
        for (const auto& path : finalDirs_) {
            int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) dieErrno("open " + path);
            dirFds_.push_back(fd);
        }
    }

    void run() {
        std::vector<std::thread> threads;
        for (int i = 0; i < config_.sessions; ++i) threads.emplace_back([this] { session(); });
        threads.emplace_back([this] { syncer(); });
        threads.emplace_back([this] { deleter(); });
        double cpuStart = cpuSeconds();
        int64_t start = monotonicNs();
        uint64_t last = 0;
        for (int second = 1; second <= config_.seconds; ++second) {
            ::usleep(useconds_t(start / 1000 + second * 1'000'000 - monotonicNs() / 1000));
            uint64_t now = done_.load();
            std::printf("%3d s: %6lu msg/s\n", second, (unsigned long)(now - last));
            std::fflush(stdout);
            last = now;
        }
        double elapsed = double(monotonicNs() - start) / 1e9;
        double cpu = cpuSeconds() - cpuStart;
        uint64_t total = done_.load();
        stop_ = true;
        synced_.notify_all();
        pendingWork_.notify_all();
        deletions_.notify_all();
        for (auto& thread : threads) thread.join();
        auto per = [total](const std::atomic<int64_t>& ns) {
            return total ? double(ns.load()) / 1e3 / double(total) : 0.0;
        };
        std::printf("total %.0f msg/s, CPU %.0f us/msg (%.0f%% of one core); wall us/msg: "
                    "create %.0f, write %.0f, fsync %.0f, rename %.0f, commit wait %.0f, "
                    "delete %.0f\n",
                    double(total) / elapsed, total ? cpu * 1e6 / double(total) : 0.0,
                    100 * cpu / elapsed, per(times_.create), per(times_.write),
                    per(times_.fsync), per(times_.rename), per(times_.commitWait),
                    per(times_.remove));
    }

  private:
    static std::string bucketName(int h) {
        static const char digits[] = "0123456789ABCDEF";
        return std::string(1, digits[h % 16]) + (h >= 16 ? std::to_string(h / 16) : "");
    }

    // One session: a message at a time, each waiting for its group commit.
    void session() {
        while (!stop_) {
            uint64_t id = nextId_++;
            size_t bucket = config_.subdirs > 0 ? id % size_t(config_.subdirs) : 0;
            std::string name = "M" + std::to_string(id);
            std::string finalPath = finalDirs_[bucket] + "/" + name;
            writeMessage(id, finalPath);
            waitForCommit(bucket);
            ++done_;
            std::lock_guard lock(mutex_);
            toDelete_.push_back({monotonicNs(), finalPath});
            deletions_.notify_one();
        }
    }

    std::string temporaryPath(uint64_t id, const std::string& finalPath) const {
        if (config_.splitTemporaries)
            return tmpDirs_[id % tmpDirs_.size()] + "/.tmp-" + std::to_string(id);
        return finalPath.substr(0, finalPath.rfind('/')) + "/.tmp-" + std::to_string(id);
    }

    void writeMessage(uint64_t id, const std::string& finalPath) {
        std::string tmp = temporaryPath(id, finalPath);
        int64_t t0 = monotonicNs();
        int fd = -1;
        if (config_.create == "tmpfile") {
            std::string dir = finalPath.substr(0, finalPath.rfind('/'));
            fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        } else if (config_.create == "recycle" && claimRecycled(tmp)) {
            fd = ::open(tmp.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
            fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0) dieErrno("create " + tmp);
        int64_t t1 = monotonicNs();
        if (::pwrite(fd, payload_.data(), payload_.size(), 0) != ssize_t(payload_.size()))
            dieErrno("write");
        if (config_.create == "recycle" && ::ftruncate(fd, off_t(payload_.size())) != 0)
            dieErrno("ftruncate");
        int64_t t2 = monotonicNs();
        if (::fsync(fd) != 0) dieErrno("fsync");
        int64_t t3 = monotonicNs();
        if (config_.create == "tmpfile") {
            std::string proc = "/proc/self/fd/" + std::to_string(fd);
            if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, finalPath.c_str(), AT_SYMLINK_FOLLOW) != 0)
                dieErrno("linkat " + finalPath);
        } else if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, finalPath.c_str(),
                               RENAME_NOREPLACE) != 0) {
            dieErrno("rename " + finalPath);
        }
        ::close(fd);
        int64_t t4 = monotonicNs();
        times_.create += t1 - t0;
        times_.write += t2 - t1;
        times_.fsync += t3 - t2;
        times_.rename += t4 - t3;
    }

    // Renames a file of the recycle pool to `tmp`; false when the pool is empty.
    bool claimRecycled(const std::string& tmp) {
        std::string name;
        {
            std::lock_guard lock(mutex_);
            if (pool_.empty()) return false;
            name = pool_.back();
            pool_.pop_back();
        }
        std::string from = config_.dir + "/recycle/" + name;
        if (::rename(from.c_str(), tmp.c_str()) != 0) dieErrno("rename " + from);
        return true;
    }

    // Waits until a directory fsync that began after this message's rename has ended.
    void waitForCommit(size_t bucket) {
        int64_t t0 = monotonicNs();
        std::unique_lock lock(mutex_);
        touched_.insert(bucket);
        uint64_t wanted = syncRound_ + 1;
        if (syncing_) wanted = syncRound_ + 2;  // the round in progress may have begun before
        pendingWork_.notify_one();
        synced_.wait(lock, [&] { return stop_ || syncRound_ >= wanted; });
        times_.commitWait += monotonicNs() - t0;
    }

    void syncer() {
        std::unique_lock lock(mutex_);
        while (!stop_) {
            pendingWork_.wait(lock, [&] { return stop_ || !touched_.empty(); });
            if (stop_) break;
            std::set<size_t> batch;
            batch.swap(touched_);
            syncing_ = true;
            lock.unlock();
            for (size_t bucket : batch) {
                if (::fsync(dirFds_[bucket]) != 0) dieErrno("fsync directory");
            }
            lock.lock();
            syncing_ = false;
            ++syncRound_;
            synced_.notify_all();
        }
    }

    void deleter() {
        uint64_t recycled = 0;
        std::unique_lock lock(mutex_);
        while (!stop_) {
            deletions_.wait(lock, [&] { return stop_ || !toDelete_.empty(); });
            if (stop_) break;
            int64_t due = toDelete_.front().first + int64_t(config_.lagMs) * 1'000'000;
            if (due > monotonicNs()) {
                lock.unlock();
                ::usleep(useconds_t((due - monotonicNs()) / 1000 + 1));
                lock.lock();
                continue;
            }
            std::string path = std::move(toDelete_.front().second);
            toDelete_.pop_front();
            bool recycle = config_.create == "recycle" && pool_.size() < 1000;
            lock.unlock();
            int64_t t0 = monotonicNs();
            if (recycle) {
                std::string name = "F" + std::to_string(recycled++);
                std::string to = config_.dir + "/recycle/" + name;
                if (::rename(path.c_str(), to.c_str()) != 0) dieErrno("rename " + to);
                lock.lock();
                pool_.push_back(name);
                lock.unlock();
            } else if (config_.deletion == "unlink" && ::unlink(path.c_str()) != 0) {
                dieErrno("unlink " + path);
            }
            times_.remove += monotonicNs() - t0;
            lock.lock();
        }
    }

    Config config_;
    std::string payload_;
    std::vector<std::string> finalDirs_, tmpDirs_;
    std::vector<int> dirFds_;
    std::atomic<uint64_t> nextId_{0}, done_{0};
    std::atomic<bool> stop_{false};
    StepTimes times_;

    std::mutex mutex_;
    std::condition_variable pendingWork_, synced_, deletions_;
    std::set<size_t> touched_;
    uint64_t syncRound_ = 0;
    bool syncing_ = false;
    std::deque<std::pair<int64_t, std::string>> toDelete_;
    std::vector<std::string> pool_;
};

}  // namespace
}  // namespace postern::bench

int main(int argc, char** argv) {
    using namespace postern::bench;
    Options options(argc, argv, {});
    Config config;
    config.dir = options.text("dir", "");
    if (config.dir.empty()) die("--dir PATH is required");
    config.sessions = int(options.number("sessions", 20));
    config.seconds = int(options.number("seconds", 15));
    config.size = size_t(options.number("size", 4096));
    config.subdirs = int(options.number("subdirs", 0));
    config.splitTemporaries = options.text("tmp", "final") == "split";
    config.create = options.text("create", "open");
    config.deletion = options.text("delete", "unlink");
    config.lagMs = int(options.number("lag-ms", 0));
    if (config.create != "open" && config.create != "tmpfile" && config.create != "recycle")
        die("--create open|tmpfile|recycle");
    Probe(config).run();
    return 0;
}
