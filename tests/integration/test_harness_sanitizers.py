"""test_harness_sanitizers.py: a sanitizer report from any process a test starts fails that
test (harness/sanitizers.py), also from a process that runs as mail_owner: the harness's
own check, on a small program built with AddressSanitizer and UndefinedBehaviorSanitizer
that overflows a heap buffer or a signed integer on request.
"""
import os
import shutil
import subprocess

from harness import PosternTestCase
from harness.system import is_root, user_exists

FAULTY_PROGRAM = r"""
#include <limits.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "heap") == 0) {
        char* p = malloc(8);
        p[argc + 7] = 1;  /* one past the end */
        free(p);
    }
    if (argc > 1 && strcmp(argv[1], "int") == 0) {
        int big = INT_MAX - 1 + argc;
        return big + argc;  /* signed overflow */
    }
    return 0;
}
"""


class SanitizerReportTest(PosternTestCase):
    def build_faulty(self):
        compiler = shutil.which("gcc") or shutil.which("cc")
        if not compiler:
            self.skipTest("no C compiler to build the faulty program")
        source = os.path.join(self.tmp, "faulty.c")
        binary = os.path.join(self.tmp, "faulty")
        with open(source, "w") as f:
            f.write(FAULTY_PROGRAM)
        done = subprocess.run([compiler, "-O0", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                               "-o", binary, source], capture_output=True, text=True)
        if done.returncode != 0:
            self.skipTest(f"cannot build with sanitizers: {done.stderr.strip()[:200]}")
        os.chmod(binary, 0o755)
        return binary

    def run_faulty(self, binary, *args):
        """Runs the program (as mail_owner when root, as a daemon runs); returns its exit code."""
        argv = [binary, *args]
        if is_root() and user_exists("postern"):
            argv = ["setpriv", "--reuid=postern", "--regid=postern", "--clear-groups", "--"] + argv
        rc, _ = self.registry.run(argv, name="faulty")
        return rc

    def forget_reports(self):
        """Removes the expected reports, so the test's own cleanup check passes."""
        for name in self.sanitizers.reports():
            os.unlink(os.path.join(self.sanitizers.folder, name))
        for path in self.registry.logs.values():
            if os.path.basename(path).startswith("faulty"):
                open(path, "w").close()

    def test_reports_of_each_sanitizer_fail_the_test(self):
        binary = self.build_faulty()
        self.assertEqual(self.run_faulty(binary), 0)
        self.sanitizers.check(self.registry.logs)  # a clean run leaves no report
        for fault, words in (("heap", "heap-buffer-overflow"), ("int", "signed integer overflow")):
            with self.subTest(fault=fault):
                self.assertNotEqual(self.run_faulty(binary, fault), 0)
                with self.assertRaisesRegex(AssertionError, "sanitizer reports from 1 process") as caught:
                    self.sanitizers.check(self.registry.logs)
                self.assertIn(words, str(caught.exception))
                self.forget_reports()

    def test_a_report_file_is_written_by_a_process_that_dropped_privileges(self):
        binary = self.build_faulty()
        self.run_faulty(binary, "heap")
        [(name, text)] = self.sanitizers.reports().items()
        self.assertRegex(name, r"^report\.\d+$")
        self.assertIn("heap-buffer-overflow", text)
        self.forget_reports()
