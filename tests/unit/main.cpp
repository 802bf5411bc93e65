// main.cpp: entry point of the CppUTest unit test binary (build/tests/unit_tests).
// Every tests/unit/*_test.cpp file is linked in; its TEST()s register themselves.
#include <CppUTest/CommandLineTestRunner.h>

int main(int argc, char** argv) { return CommandLineTestRunner::RunAllTests(argc, argv); }
