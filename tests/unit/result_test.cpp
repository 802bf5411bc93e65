// result_test.cpp: unit tests for lib/result.h and lib/unique_fd.h.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>

#include "result.h"
#include "unique_fd.h"

using namespace postern;

TEST_GROUP(Result){};

static Result<int> parsePositive(int n) {
    if (n <= 0) return fail("not positive: " + std::to_string(n));
    return n;
}

TEST(Result, HoldsValueOrError) {
    auto good = parsePositive(3);
    CHECK_TRUE(good.ok());
    LONGS_EQUAL(3, good.value());
    auto bad = parsePositive(-1);
    CHECK_FALSE(bad.ok());
    STRCMP_EQUAL("not positive: -1", bad.error().c_str());
}

TEST(Result, StatusPassesFailureOn) {
    Status fine;
    CHECK_TRUE(fine.ok());
    Status broken = parsePositive(0).failure();
    CHECK_FALSE(broken.ok());
    STRCMP_EQUAL("not positive: 0", broken.error().c_str());
}

TEST_GROUP(UniqueFd){};

TEST(UniqueFd, ClosesOnceOnDestructionAndMove) {
    int raw = ::open("/dev/null", O_RDONLY);
    CHECK(raw >= 0);
    {
        UniqueFd a(raw);
        UniqueFd b(std::move(a));
        CHECK_FALSE(a.valid());
        LONGS_EQUAL(raw, b.get());
    }
    LONGS_EQUAL(-1, ::fcntl(raw, F_GETFD));
}
