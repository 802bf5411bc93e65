// queue_id_test.cpp: unit tests for lib/queue_id.h (uniqueness, order, parsing).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "queue_id.h"

// CppUTest last: its leak-detection macros must not see the standard headers.
#include <CppUTest/TestHarness.h>

using namespace postern::queue;

namespace {

constexpr int kIdsPerProcess = 100000;

// Generates `count` IDs from the process-wide generator.
std::vector<std::string> generate(int count) {
    std::vector<std::string> ids;
    ids.reserve(size_t(count));
    for (int i = 0; i < count; ++i) ids.push_back(newQueueId());
    return ids;
}

// Reads IDs, one per line, from a descriptor until end of file.
std::vector<std::string> readIds(int fd) {
    std::vector<std::string> ids;
    FILE* in = ::fdopen(fd, "r");
    char line[64];
    while (std::fgets(line, sizeof line, in)) {
        std::string id(line);
        if (!id.empty() && id.back() == '\n') id.pop_back();
        ids.push_back(id);
    }
    std::fclose(in);
    return ids;
}

// Checks each ID is valid and the sequence strictly increases, in bytes and in time.
// (One CHECK at the end: a CHECK per ID would make the test slow, not stricter.)
void checkIncreasing(const std::vector<std::string>& ids) {
    std::string firstProblem;
    for (size_t i = 0; i < ids.size() && firstProblem.empty(); ++i) {
        if (!isValidQueueId(ids[i])) firstProblem = "invalid: " + ids[i];
        if (i == 0 || !firstProblem.empty()) continue;
        bool timeOrdered = *queueIdArrivalMicros(ids[i - 1]) <= *queueIdArrivalMicros(ids[i]);
        if (!(ids[i - 1] < ids[i]) || !timeOrdered) firstProblem = ids[i - 1] + " !< " + ids[i];
    }
    STRCMP_EQUAL("", firstProblem.c_str());
}

// How many IDs appear more than once across the lists.
size_t countDuplicates(std::initializer_list<const std::vector<std::string>*> lists) {
    std::vector<std::string_view> all;
    for (const auto* ids : lists) all.insert(all.end(), ids->begin(), ids->end());
    std::sort(all.begin(), all.end());
    return size_t(all.end() - std::unique(all.begin(), all.end()));
}

}  // namespace

TEST_GROUP(QueueId){};

TEST(QueueId, TwoProcessesInParallelNeverCollide) {
    int pipeFds[2];
    CHECK_EQUAL(0, ::pipe(pipeFds));
    pid_t child = ::fork();
    CHECK_TRUE(child >= 0);
    if (child == 0) {
        ::close(pipeFds[0]);
        FILE* out = ::fdopen(pipeFds[1], "w");
        for (const auto& id : generate(kIdsPerProcess)) std::fprintf(out, "%s\n", id.c_str());
        std::fclose(out);
        ::_exit(0);
    }
    ::close(pipeFds[1]);
    // Generate while the child does, then read its IDs (the pipe buffer holds only part).
    std::vector<std::string> mine = generate(kIdsPerProcess);
    std::vector<std::string> theirs = readIds(pipeFds[0]);
    int status = 0;
    CHECK_EQUAL(child, ::waitpid(child, &status, 0));
    CHECK_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    LONGS_EQUAL(kIdsPerProcess, theirs.size());
    checkIncreasing(mine);
    checkIncreasing(theirs);
    LONGS_EQUAL(0, countDuplicates({&mine, &theirs}));
}

TEST(QueueId, ThreadsShareTheGeneratorWithoutCollision) {
    std::vector<std::vector<std::string>> perThread(4);
    std::vector<std::thread> threads;
    for (auto& ids : perThread) threads.emplace_back([&ids] { ids = generate(20000); });
    for (auto& thread : threads) thread.join();
    for (const auto& ids : perThread) checkIncreasing(ids);
    LONGS_EQUAL(0, countDuplicates({&perThread[0], &perThread[1], &perThread[2], &perThread[3]}));
}

TEST(QueueId, ByteOrderIsArrivalOrder) {
    // Arrival times chosen to cross digit boundaries, where a variable width would misorder.
    std::vector<int64_t> times = {0, 61, 62, 3843, 3844, 1700000000000000, 1700000000000001,
                                  4102444800000000};
    std::vector<std::string> ids;
    for (int64_t t : times) ids.push_back(makeQueueId(t, 4194303, 0));
    CHECK_TRUE(std::is_sorted(ids.begin(), ids.end()));
    for (size_t i = 0; i < times.size(); ++i) {
        LONGS_EQUAL(kQueueIdLength, ids[i].size());
        CHECK_EQUAL(times[i], *queueIdArrivalMicros(ids[i]));
    }
    // The pid and counter only break ties within one microsecond.
    CHECK_TRUE(makeQueueId(1000, 9999, 200) < makeQueueId(1001, 1, 0));
}

TEST(QueueId, SameMicrosecondUsesTheCounterAndClockStepsBackAreAbsorbed) {
    int64_t fakeNow = 5000000;
    QueueIdGenerator generator([&fakeNow] { return fakeNow; });
    std::string first = generator.next();
    std::string second = generator.next();
    fakeNow -= 1000000;  // clock stepped back one second
    std::string third = generator.next();
    CHECK_TRUE(first < second);
    CHECK_TRUE(second < third);
    CHECK_EQUAL(5000000, *queueIdArrivalMicros(third));
    STRCMP_EQUAL("002", third.substr(14).c_str());
}

TEST(QueueId, CounterOverflowBorrowsTheNextMicrosecond) {
    QueueIdGenerator generator([] { return int64_t(7000000); });
    std::string last;
    for (int i = 0; i < 62 * 62 * 62; ++i) last = generator.next();
    CHECK_EQUAL(7000000, *queueIdArrivalMicros(last));
    std::string borrowed = generator.next();
    CHECK_TRUE(last < borrowed);
    CHECK_EQUAL(7000001, *queueIdArrivalMicros(borrowed));
}

TEST(QueueId, ValidityChecksLengthAndAlphabet) {
    std::string good = newQueueId();
    CHECK_TRUE(isValidQueueId(good));
    CHECK_FALSE(isValidQueueId(good.substr(1)));
    CHECK_FALSE(isValidQueueId(good + "0"));
    CHECK_FALSE(isValidQueueId(""));
    CHECK_FALSE(isValidQueueId(".tmp-" + good.substr(5)));
    std::string withDash = good;
    withDash[3] = '-';
    CHECK_FALSE(isValidQueueId(withDash));
    CHECK_FALSE(queueIdArrivalMicros(withDash).has_value());
    // The time in a fresh ID is now, give or take a few seconds.
    int64_t delta = *queueIdArrivalMicros(good) - realtimeMicros();
    CHECK_TRUE(delta < 5000000 && delta > -5000000);
}
