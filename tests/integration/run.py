#!/usr/bin/env python3
"""run.py: runs postern's integration tests (tests/integration/test_*.py).

Each test module runs in its own Python process, several modules at a time, so one hung
or crashed module cannot take the others down; a module over its time limit is killed
(its whole process group) and its unfinished tests count as failed. Prints one line per
test and writes "PASSED FAILED SKIPPED" to the --counts file for tests/run.sh.

  run.py [--counts FILE] [--jobs N] [--soak] [FILTER...]
FILTER is a module name (test_smtpd), or module.Class, or module.Class.test_name.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RESULT_TAG = "@@RESULT "
MODULE_TIMEOUT = int(os.environ.get("POSTERN_TEST_TIMEOUT", "900"))


class LineResult(unittest.TextTestResult):
    """Prints one tagged JSON line per finished test, for the parent to collect."""

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _emit(self, test, status, detail=""):
        record = {"test": test.id(), "status": status, "seconds": round(time.monotonic() - self._started, 2),
                  "detail": detail}
        sys.__stdout__.write(RESULT_TAG + json.dumps(record) + "\n")
        sys.__stdout__.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        # A test may leave a line for the output (test.report_line): counts worth seeing.
        self._emit(test, "pass", getattr(test, "report_line", ""))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._emit(test, "fail", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        if not hasattr(self, "_started"):
            self._started = time.monotonic()
        self._emit(test, "fail", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._emit(test, "skip", reason)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._emit(test, "fail", "unexpected success")


def run_child(module, names):
    """Runs one module's tests in this process, reporting through LineResult."""
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if names:
        suite = loader.loadTestsFromNames([f"{module}.{n}" for n in names])
    else:
        suite = loader.loadTestsFromName(module)
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=0, resultclass=LineResult)
    result = runner.run(suite)
    return 0 if result.wasSuccessful() else 1


def discover(soak):
    prefix = "soak_" if soak else "test_"
    return sorted(f[:-3] for f in os.listdir(HERE) if f.startswith(prefix) and f.endswith(".py"))


def plan(modules, filters):
    """Maps each module to run onto the test names asked for ([] means all of it)."""
    if not filters:
        return {m: [] for m in modules}
    chosen = {}
    for f in filters:
        module, _, rest = f.partition(".")
        if module not in modules:
            raise SystemExit(f"run.py: no test module {module}")
        names = chosen.setdefault(module, [])
        if rest:
            names.append(rest)
        elif module in chosen:
            chosen[module] = []
    return chosen


class ModuleRun:
    """One child process running one module; collects its result lines."""

    def __init__(self, module, names):
        self.module = module
        self.results = []
        self.started = time.monotonic()
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"postern-it-{os.getpid()}-{module}.log")
        self.log = open(self.log_path, "w+")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", module] + names
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=HERE,
                                     start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer = ""

    def poll(self):
        # Exit status before output: once the child is gone, all it wrote is in the pipe, so
        # the read below cannot miss its last result lines.
        rc = self.proc.poll()
        try:
            chunk = self.proc.stdout.read()
        except TypeError:
            # The text layer raises on a non-blocking pipe with nothing to read yet (the
            # byte layer returns None): nothing was read, so nothing is lost.
            chunk = None
        if chunk:
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split("\n")
            for line in lines:
                if line.startswith(RESULT_TAG):
                    record = json.loads(line[len(RESULT_TAG):])
                    self.results.append(record)
                    report(record)
        return rc

    def timed_out(self):
        return time.monotonic() - self.started > MODULE_TIMEOUT

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stderr_tail(self, lines=40):
        self.log.flush()
        self.log.seek(0)
        return "".join(self.log.readlines()[-lines:])

    def close(self):
        # Strays that a test failed to stop: the runner reaps the whole group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
        os.unlink(self.log_path)


def report(record):
    mark = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[record["status"]]
    print(f"{mark} {record['test']} ({record['seconds']}s)", flush=True)
    if record["status"] == "fail":
        print("    " + record["detail"].rstrip().replace("\n", "\n    "), flush=True)
    elif record["status"] == "skip":
        print(f"    skipped: {record['detail']}", flush=True)
    elif record["detail"]:
        print(f"    {record['detail']}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--counts")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("POSTERN_TEST_JOBS", "3")))
    parser.add_argument("--soak", action="store_true")
    parser.add_argument("filters", nargs="*")
    args = parser.parse_args()
    if args.child:
        return run_child(args.child, args.filters)

    todo = list(plan(discover(args.soak), args.filters).items())
    running, passed, failed, skipped = [], 0, 0, 0
    started = time.monotonic()
    while todo or running:
        while todo and len(running) < args.jobs:
            running.append(ModuleRun(*todo.pop(0)))
        time.sleep(0.05)
        for run in list(running):
            rc = run.poll()
            if rc is None and not run.timed_out():
                continue
            if rc is None:
                run.kill()
                run.poll()
                print(f"FAIL {run.module}: killed after {MODULE_TIMEOUT}s", flush=True)
                failed += 1
            elif rc != 0 and not any(r["status"] == "fail" for r in run.results):
                print(f"FAIL {run.module}: exited {rc} without a test result\n{run.stderr_tail()}", flush=True)
                failed += 1
            passed += sum(r["status"] == "pass" for r in run.results)
            failed += sum(r["status"] == "fail" for r in run.results)
            skipped += sum(r["status"] == "skip" for r in run.results)
            run.close()
            running.remove(run)
    print(f"integration: {passed} passed, {failed} failed, {skipped} skipped in {time.monotonic() - started:.0f}s",
          flush=True)
    if args.counts:
        with open(args.counts, "w") as f:
            f.write(f"{passed} {failed} {skipped}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
