// master_throttle_test.cpp: unit tests for master/restart_throttle.h: which ends count as
// failures, the doubling delay and its cap, and the reset.
#include "master/restart_throttle.h"

// CppUTest last: its operator new macros break standard headers included after it.
#include <CppUTest/TestHarness.h>

using namespace postern::master;
using namespace std::chrono_literals;

namespace {

ThrottleSettings settings() {
    ThrottleSettings s;
    s.firstDelay = 1000ms;
    s.maxDelay = 5000ms;
    s.quickDeath = 10000ms;
    return s;
}

const ProcessEnd kCrashAtStart{100ms, true, false};
const ProcessEnd kCrashWhileReady{2000ms, true, true};
const ProcessEnd kCrashAfterLongLife{60000ms, true, true};
const ProcessEnd kCleanExit{200ms, false, true};

}  // namespace

TEST_GROUP(MasterThrottle) {};

TEST(MasterThrottle, RepeatedQuickCrashesDoubleTheDelayUpToTheCap) {
    RestartThrottle throttle(settings());
    long expected[] = {1000, 2000, 4000, 5000, 5000};
    for (long delay : expected) LONGS_EQUAL(delay, throttle.processEnded(kCrashAtStart).count());
    LONGS_EQUAL(5, throttle.failures());
}

TEST(MasterThrottle, ACrashBeforeReadyIsAFailureHoweverLongItTook) {
    RestartThrottle throttle(settings());
    CHECK_TRUE(throttle.isFailure({60000ms, true, false}));
    CHECK_TRUE(throttle.isFailure(kCrashWhileReady));
    CHECK_FALSE(throttle.isFailure(kCrashAfterLongLife));
    CHECK_FALSE(throttle.isFailure(kCleanExit));
    CHECK_FALSE(throttle.isFailure({10ms, false, false}));  // exit 0 is not a crash
}

TEST(MasterThrottle, AHealthyLifeResetsTheCount) {
    RestartThrottle throttle(settings());
    throttle.processEnded(kCrashAtStart);
    throttle.processEnded(kCrashWhileReady);
    LONGS_EQUAL(2, throttle.failures());
    LONGS_EQUAL(0, throttle.processEnded(kCrashAfterLongLife).count());
    LONGS_EQUAL(0, throttle.failures());
    LONGS_EQUAL(1000, throttle.processEnded(kCrashAtStart).count());
}

TEST(MasterThrottle, ResetForgetsFailures) {
    RestartThrottle throttle(settings());
    throttle.processEnded(kCrashAtStart);
    throttle.processEnded(kCrashAtStart);
    throttle.reset();
    LONGS_EQUAL(0, throttle.failures());
    LONGS_EQUAL(1000, throttle.processEnded(kCrashAtStart).count());
}

TEST(MasterThrottle, ACapBelowTheFirstDelayWins) {
    ThrottleSettings s = settings();
    s.maxDelay = 300ms;
    RestartThrottle throttle(s);
    LONGS_EQUAL(300, throttle.processEnded(kCrashAtStart).count());
    LONGS_EQUAL(300, throttle.processEnded(kCrashAtStart).count());
}
