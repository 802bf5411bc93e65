// qmgr_scheduler_test.cpp: unit tests for qmgr/scheduler.h (round-robin over destinations,
// concurrency limits, cancelled jobs) and qmgr/deferred_index.h (due times).
#include "qmgr/deferred_index.h"
#include "qmgr/scheduler.h"

// CppUTest last: its leak-detecting `new` macro breaks standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern::qmgr;

namespace {

bool anyJob(JobId) {
    return true;
}

// The destinations of the jobs next() hands out until it has none.
std::string drain(Scheduler& scheduler) {
    std::string order;
    while (auto next = scheduler.next(anyJob)) order += next->destination;
    return order;
}

}  // namespace

TEST_GROUP(QmgrScheduler){};

TEST(QmgrScheduler, TakesTurnsBetweenDestinations) {
    Scheduler scheduler(10, 100);
    for (JobId id = 1; id <= 3; ++id) scheduler.enqueue("a", id);
    for (JobId id = 4; id <= 5; ++id) scheduler.enqueue("b", id);
    scheduler.enqueue("c", 6);
    STRCMP_EQUAL("abcaba", drain(scheduler).c_str());
    LONGS_EQUAL(6, scheduler.inFlight());
    LONGS_EQUAL(3, scheduler.inFlight("a"));
}

TEST(QmgrScheduler, KeepsThePerDestinationLimit) {
    Scheduler scheduler(2, 100);
    for (JobId id = 1; id <= 4; ++id) scheduler.enqueue("a", id);
    scheduler.enqueue("b", 5);
    STRCMP_EQUAL("aba", drain(scheduler).c_str());
    scheduler.finished("a");
    STRCMP_EQUAL("a", drain(scheduler).c_str());
    scheduler.finished("b");
    STRCMP_EQUAL("", drain(scheduler).c_str());
    scheduler.finished("a");
    STRCMP_EQUAL("a", drain(scheduler).c_str());
    LONGS_EQUAL(2, scheduler.inFlight("a"));
}

TEST(QmgrScheduler, KeepsTheTotalLimit) {
    Scheduler scheduler(10, 2);
    for (JobId id = 1; id <= 3; ++id) scheduler.enqueue("a", id);
    scheduler.enqueue("b", 4);
    STRCMP_EQUAL("ab", drain(scheduler).c_str());
    scheduler.finished("b");
    STRCMP_EQUAL("a", drain(scheduler).c_str());
}

TEST(QmgrScheduler, SkipsCancelledJobsAndForgetsIdleDestinations) {
    Scheduler scheduler(10, 100);
    scheduler.enqueue("a", 1);
    scheduler.enqueue("a", 2);
    scheduler.enqueue("b", 3);
    auto next = scheduler.next([](JobId id) { return id == 2; });
    CHECK_TRUE(next.has_value());
    LONGS_EQUAL(2, next->job);
    CHECK_FALSE(scheduler.next([](JobId) { return false; }).has_value());
    LONGS_EQUAL(1, scheduler.destinations());
    scheduler.finished("a");
    LONGS_EQUAL(0, scheduler.destinations());
    LONGS_EQUAL(0, scheduler.inFlight());
}

TEST_GROUP(QmgrDeferredIndex){};

TEST(QmgrDeferredIndex, HandsOutDueMessagesEarliestFirst) {
    DeferredIndex index;
    index.set("c", 30);
    index.set("a", 10);
    index.set("b", 20);
    CHECK_EQUAL(int64_t(10), index.earliest().value());
    CHECK_TRUE(index.takeDue(5, 10).empty());
    auto due = index.takeDue(25, 10);
    LONGS_EQUAL(2, due.size());
    STRCMP_EQUAL("a", due[0].c_str());
    STRCMP_EQUAL("b", due[1].c_str());
    LONGS_EQUAL(1, index.size());
    CHECK_FALSE(index.contains("a"));
}

TEST(QmgrDeferredIndex, MovesErasesAndRetains) {
    DeferredIndex index;
    index.set("a", 10);
    index.set("b", 20);
    index.set("a", 50);  // moved later
    CHECK_EQUAL(int64_t(20), index.earliest().value());
    LONGS_EQUAL(1, index.takeDue(30, 1).size());
    CHECK_TRUE(index.erase("a"));
    CHECK_FALSE(index.erase("a"));
    CHECK_FALSE(index.earliest().has_value());
    index.set("x", 1);
    index.set("y", 2);
    index.retainOnly({"y"});
    LONGS_EQUAL(1, index.size());
    CHECK_TRUE(index.contains("y"));
    LONGS_EQUAL(1, index.takeDue(100, 1).size());
}
