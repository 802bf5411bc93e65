// main.cpp: entry point of the CppUTest unit test binary (build/tests/unit_tests).
// Every tests/unit/*_test.cpp file is linked in; its TEST()s register themselves.
#include <signal.h>

#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
    // As in every postern process (runDaemon, master): a write to a peer that hung up is an
    // error value, not the death of the whole test binary (a supervisor test writing to a
    // child that just died killed it now and then).
    signal(SIGPIPE, SIG_IGN);
    // CppUTest's leak detector is not thread-safe, and several modules under test run
    // threads (smtpd's commit pool): two threads in its allocation list at once corrupt it
    // and hang the run. Leaks are found by LeakSanitizer in the SANITIZE build instead.
    MemoryLeakWarningPlugin::turnOffNewDeleteOverloads();
    return CommandLineTestRunner::RunAllTests(argc, argv);
}
