// main.cpp: entry point of the CppUTest unit test binary (build/tests/unit_tests).
// Every tests/unit/*_test.cpp file is linked in; its TEST()s register themselves.
#include <signal.h>

#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) {
    // As in every postern process (runDaemon, master): a write to a peer that hung up is an
    // error value, not the death of the whole test binary (a supervisor test writing to a
    // child that just died killed it now and then).
    signal(SIGPIPE, SIG_IGN);
    return CommandLineTestRunner::RunAllTests(argc, argv);
}
