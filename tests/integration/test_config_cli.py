"""test_config_cli.py: `postern config` and `postern check` as a user runs them.

Runs build/sbin/postern (POSTERN_BUILD_DIR, default <repo>/build) with -c on temporary
configuration files and checks what it prints and how it exits.
"""
import os
import re
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("POSTERN_BUILD_DIR", os.path.join(REPO, "build"))
POSTERN = os.path.join(BUILD, "sbin", "postern")
DEFAULT_CONF = os.path.join(REPO, "conf", "postern.conf")
EX_USAGE = 64

LINE = re.compile(r"^([a-z0-9_.]+) =( .*)?$")


def run(*args, env=None):
    """Runs postern; returns (exit status, stdout, stderr)."""
    proc = subprocess.run([POSTERN, *args], capture_output=True, text=True, timeout=30, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def parse_lines(text):
    """Maps `name = value` lines to a dict, checking each line's shape."""
    values = {}
    for line in text.splitlines():
        match = LINE.match(line)
        if not match:
            raise AssertionError(f"not a `name = value` line: {line!r}")
        values[match.group(1)] = (match.group(2) or "").strip()
    return values


class ConfigCommandTest(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory(prefix="postern-config-")
        self.addCleanup(self.folder.cleanup)

    def write_conf(self, text, name="postern.conf"):
        path = os.path.join(self.folder.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_defaults_list_every_parameter_sorted(self):
        status, out, err = run("-c", "/nonexistent/postern.conf", "config", "-d")
        self.assertEqual(status, 0, err)
        values = parse_lines(out)
        names = [line.split(" =")[0] for line in out.splitlines()]
        self.assertEqual(names, sorted(names))
        self.assertGreaterEqual(len(values), 50)
        self.assertEqual(values["mynetworks"], "127.0.0.0/8, ::1/128")
        self.assertEqual(values["smtpd.tls.ask_ccert"], "false")
        self.assertEqual(values["message_size_limit"], "10240000")
        self.assertEqual(values["relay_domains"], "")
        self.assertEqual(values["smtpd.banner"], "ESMTP postern")
        self.assertEqual(values["qmgr.minimal_backoff_time"], "300")
        self.assertIn("qmgr (processes 1", values["services"])

    def test_docs_describe_every_parameter(self):
        status, out, _ = run("-c", "/nonexistent/postern.conf", "config", "-d")
        self.assertEqual(status, 0)
        with open(os.path.join(REPO, "README.md")) as f:
            documented = set(re.findall(r"^\| `([a-z0-9_.]+)` \|", f.read(), re.MULTILINE))
        self.assertEqual(set(parse_lines(out)), documented)

    def test_set_only_prints_what_the_file_sets(self):
        path = self.write_conf('message_size_limit = 5000;\nsmtpd = { listen = [ "127.0.0.1:2525" ]; };\n')
        status, out, err = run("-c", path, "config", "-n")
        self.assertEqual(status, 0, err)
        self.assertEqual(out, "message_size_limit = 5000\nsmtpd.listen = 127.0.0.1:2525\n")

    def test_effective_values_resolve_relative_paths(self):
        path = self.write_conf('queue_directory = "spool";\nsoft_bounce = true;\n')
        status, out, err = run("-c", path, "config", "queue_directory", "soft_bounce", "hopcount_limit")
        self.assertEqual(status, 0, err)
        self.assertEqual(out, f"hopcount_limit = 50\nqueue_directory = {self.folder.name}/spool\n"
                              "soft_bounce = true\n")

    def test_unknown_name_is_an_error(self):
        path = self.write_conf("soft_bounce = true;\n")
        status, out, err = run("-c", path, "config", "soft_bounce", "no_such_parameter")
        self.assertEqual(status, 1)
        self.assertEqual(out, "soft_bounce = true\n")
        self.assertIn('unknown parameter "no_such_parameter"', err)

    def test_default_configuration_passes_check(self):
        status, out, err = run("-c", DEFAULT_CONF, "check")
        self.assertEqual((status, out, err), (0, "", ""))

    def test_check_names_the_broken_line(self):
        path = self.write_conf('soft_bounce = false;\n\nsmtpd = {\n  recipient_limt = 5;\n};\n'
                               'mynetworks = [ "10.0.0.0/33" ];\n')
        status, _, err = run("-c", path, "check")
        self.assertEqual(status, 1)
        self.assertIn(f'postern: {path}:4: unknown parameter "smtpd.recipient_limt"', err)
        self.assertIn(f'postern: {path}:6: mynetworks: "10.0.0.0/33" is not a valid CIDR network', err)

    def test_check_reports_libconfig_syntax_errors(self):
        path = self.write_conf("soft_bounce = true;\nmyhostname = ;\n")
        status, _, err = run("-c", path, "check")
        self.assertEqual(status, 1)
        self.assertRegex(err, rf"^postern: {re.escape(path)}:2: ")

    def test_config_refuses_a_broken_file(self):
        path = self.write_conf("message_size_limit = \"big\";\n")
        status, out, err = run("-c", path, "config")
        self.assertEqual(status, 1)
        self.assertEqual(out, "")
        self.assertIn(f"{path}:1: message_size_limit: expected an integer", err)

    def test_environment_names_the_default_file(self):
        path = self.write_conf("hopcount_limit = 7;\n")
        env = dict(os.environ, POSTERN_CONF=path)
        status, out, err = run("config", "-n", env=env)
        self.assertEqual((status, out), (0, "hopcount_limit = 7\n"), err)


class UsageTest(unittest.TestCase):
    def test_help(self):
        status, out, _ = run("--help")
        self.assertEqual(status, 0)
        self.assertIn("usage: postern", out)
        self.assertIn("config", out)
        status, out, _ = run("config", "--help")
        self.assertEqual(status, 0)
        self.assertIn("config [-n | -d] [NAME...]", out)

    def test_unknown_command_and_bad_options(self):
        for args in (["frobnicate"], [], ["-x", "check"], ["-c"], ["config", "-n", "-d"], ["config", "-z"],
                     ["check", "extra"]):
            status, out, err = run(*args)
            self.assertEqual(status, EX_USAGE, args)
            self.assertEqual(out, "", args)
            self.assertIn("usage:", err, args)


if __name__ == "__main__":
    unittest.main()
