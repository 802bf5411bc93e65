// queue_id.h: queue IDs, the names of queue files.
//
// An ID is 17 characters of [0-9A-Za-z], fixed width, so that the byte order of two IDs is
// their arrival order to the microsecond (the base-62 digits below are in ASCII order):
//
//   TTTTTTTTTT PPPP CCC
//   |          |    '- per-process counter, base 62, 3 digits (IDs made in the same µs)
//   |          '------ process id, base 62, 4 digits (Linux pids are below 2^22 < 62^4)
//   '----------------- microseconds since the epoch, base 62, 10 digits (good for 26,000 years)
//
// Two processes never share a pid at the same time, and one process never hands out the
// same (time, counter) pair twice: its clock is made monotonic (a clock stepped backwards
// keeps the last time and counts on), so IDs are unique across processes and restarts
// unless the clock goes back and a pid is reused within that gap. The queue refuses to
// overwrite a file in any case (O_EXCL, RENAME_NOREPLACE), so even then no mail is lost.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace postern::queue {

inline constexpr size_t kQueueIdLength = 17;

// Hands out queue IDs; thread-safe. The clock returns microseconds since the epoch.
class QueueIdGenerator {
public:
    using Clock = std::function<int64_t()>;
    // A generator on the real-time clock.
    QueueIdGenerator();
    // A generator on the given clock (tests).
    explicit QueueIdGenerator(Clock clock);

    // Returns a new ID, later in byte order than every ID this generator gave before.
    std::string next();

private:
    Clock clock_;
    std::mutex mutex_;
    int64_t lastMicros_ = -1;
    uint32_t counter_ = 0;
};

// Returns a new ID from the process-wide generator on the real-time clock.
std::string newQueueId();

// Builds the ID for these parts (pid and counter are reduced to their digits' range).
std::string makeQueueId(int64_t micros, uint32_t pid, uint32_t counter);

// True when `id` has the exact length and alphabet of a queue ID.
bool isValidQueueId(std::string_view id);

// The arrival time (µs since the epoch) an ID encodes; nullopt when `id` is not valid.
std::optional<int64_t> queueIdArrivalMicros(std::string_view id);

// Microseconds since the epoch on the real-time clock.
int64_t realtimeMicros();

}  // namespace postern::queue
