"""sanitizers.py: sanitizer reports of the processes a test starts become test failures.

Under `make test SANITIZE=address,undefined` a report in a daemon (a child of master, maybe
dropped to mail_owner, with its stderr in a log nobody reads) would otherwise go unseen:
master just restarts the child. SanitizerReports points ASAN_OPTIONS, UBSAN_OPTIONS and
LSAN_OPTIONS of this process (inherited by everything it starts, and by their children) at
a folder of the test, log_path=FOLDER/report (each process writes report.PID), and check()
fails the test when any report is there. Without sanitizers nothing reads the options and
the folder stays empty.

g++ links UndefinedBehaviorSanitizer as a runtime of its own that, beside AddressSanitizer,
ignores log_path and always writes to stderr; so check() also looks for sanitizer reports
in the test's logs (a daemon's stderr is master's, which the harness logs under
--foreground; a master started in the background sends its stderr to /dev/null).
"""
import os
import re

_VARIABLES = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
_REPORT_LINE = re.compile(rb"^\S+:\d+:\d+: runtime error: |^==\d+==ERROR: \w+Sanitizer", re.MULTILINE)


def _with_log_path(options, path):
    """options (a sanitizer option string, ":"-separated) with log_path=path instead of any."""
    kept = [o for o in (options or "").split(":") if o and not o.startswith("log_path=")]
    return ":".join(kept + [f"log_path={path}"])


class SanitizerReports:
    """Sends sanitizer reports to tmp/sanitizer/ while active; check() fails on any."""

    def __init__(self, tmp):
        self.folder = os.path.join(tmp, "sanitizer")
        os.makedirs(self.folder, exist_ok=True)
        # Daemons that dropped to mail_owner write here too (sticky, like /tmp).
        os.chmod(self.folder, 0o1777)
        self._saved = {}

    def activate(self):
        """Sets the options in os.environ (undo with restore())."""
        for name in _VARIABLES:
            self._saved[name] = os.environ.get(name)
            os.environ[name] = _with_log_path(self._saved[name], os.path.join(self.folder, "report"))
        return self

    def restore(self):
        """Puts the options back as they were."""
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}

    def reports(self):
        """{file name: text} of every report written so far."""
        found = {}
        for name in sorted(os.listdir(self.folder)):
            with open(os.path.join(self.folder, name), encoding="utf-8", errors="replace") as f:
                found[name] = f.read()
        return found

    def reports_in_logs(self, logs):
        """{log name: text from the first report on} for each of logs ({name: path}) that
        holds a sanitizer report."""
        found = {}
        for name, path in logs.items():
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            report = _REPORT_LINE.search(data)
            if report:
                found[name] = data[report.start():].decode("utf-8", "replace")
        return found

    def check(self, logs=None):
        """Raises AssertionError quoting every report (the first 80 lines of each), from the
        report folder and from the logs ({name: path}) given."""
        found = self.reports()
        found.update(self.reports_in_logs(logs or {}))
        if not found:
            return
        parts = [f"----- {name}\n" + "\n".join(text.splitlines()[:80]) for name, text in found.items()]
        raise AssertionError(f"sanitizer reports from {len(found)} process(es):\n" + "\n".join(parts))
