// queue_id.cpp: queue ID generation and parsing (see queue_id.h for the layout).
#include "queue_id.h"

#include <time.h>
#include <unistd.h>

namespace postern::queue {

namespace {

constexpr std::string_view kDigits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kTimeDigits = 10;
constexpr size_t kPidDigits = 4;
constexpr size_t kCounterDigits = 3;
static_assert(kTimeDigits + kPidDigits + kCounterDigits == kQueueIdLength);

// 62^n as an unsigned 64-bit number (n <= 10 fits).
constexpr uint64_t powerOf62(size_t n) {
    uint64_t result = 1;
    for (size_t i = 0; i < n; ++i) result *= 62;
    return result;
}
constexpr uint64_t kCounterLimit = powerOf62(kCounterDigits);

// The value of one base-62 digit, or -1.
int digitValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    if (c >= 'a' && c <= 'z') return c - 'a' + 36;
    return -1;
}

// Appends `value` modulo 62^width as exactly `width` base-62 digits.
void appendBase62(std::string& out, uint64_t value, size_t width) {
    char digits[16];
    for (size_t i = width; i-- > 0;) {
        digits[i] = kDigits[value % 62];
        value /= 62;
    }
    out.append(digits, width);
}

}  // namespace

int64_t realtimeMicros() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return int64_t(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

QueueIdGenerator::QueueIdGenerator() : clock_(realtimeMicros) {}

QueueIdGenerator::QueueIdGenerator(Clock clock) : clock_(std::move(clock)) {}

std::string QueueIdGenerator::next() {
    int64_t now = clock_();
    uint32_t pid = uint32_t(::getpid());
    std::lock_guard lock(mutex_);
    if (now > lastMicros_) {
        lastMicros_ = now;
        counter_ = 0;
    } else if (++counter_ >= kCounterLimit) {
        // Out of counter values in this microsecond: borrow the next one.
        ++lastMicros_;
        counter_ = 0;
    }
    return makeQueueId(lastMicros_, pid, counter_);
}

std::string newQueueId() {
    static QueueIdGenerator generator;
    return generator.next();
}

std::string makeQueueId(int64_t micros, uint32_t pid, uint32_t counter) {
    std::string id;
    id.reserve(kQueueIdLength);
    appendBase62(id, uint64_t(micros < 0 ? 0 : micros), kTimeDigits);
    appendBase62(id, pid, kPidDigits);
    appendBase62(id, counter, kCounterDigits);
    return id;
}

bool isValidQueueId(std::string_view id) {
    if (id.size() != kQueueIdLength) return false;
    for (char c : id) {
        if (digitValue(c) < 0) return false;
    }
    return true;
}

std::optional<int64_t> queueIdArrivalMicros(std::string_view id) {
    if (!isValidQueueId(id)) return std::nullopt;
    uint64_t micros = 0;
    for (size_t i = 0; i < kTimeDigits; ++i) micros = micros * 62 + uint64_t(digitValue(id[i]));
    return int64_t(micros);
}

}  // namespace postern::queue
