#!/usr/bin/env python3
"""bench.py: `make bench` — postern against Postfix on this machine, side by side.

Runs both MTAs in turn in one temporary folder (their queues on the same file system,
fsync on), fed by smtp-source and delivering to a sink, and prints one table: msg/s end
to end and accept-only for 4 KiB and 100 KiB messages with 20 and 100 sessions, plaintext
and STARTTLS on the delivery leg; latency from the MTA's 250 to the sink's 250 at half
of postern's top rate; memory per idle session; the device's fsync rate. Writes
bench/results/latest.md, a dated copy with its JSON and a PNG chart. Everything it
starts is stopped by pid at the end, on an error and on Ctrl-C.

Environment: BENCH_QUICK=1 (short runs, for development), BENCH_ONLY=postern|postfix,
BENCH_PLAIN_SINK=smtp-sink|bench_sink (the sink of the plaintext rows), BENCH_KEEP_TMP=1,
BENCH_NOTE="..." (a line for the results, e.g. what was merged for the run),
BENCH_PROFILE=1 (perf record of the whole machine during each MTA's 4 KiB, 20 sessions,
plaintext row: bench/results/profile-MTA.txt), BENCH_PROFILE=starttls (the same row with
STARTTLS on the delivery leg: bench/results/profile-MTA-starttls.txt).
"""
import datetime
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, BENCH_DIR)

from harness.base import make_temp_dir  # noqa: E402
from harness.certs import Certs  # noqa: E402
from harness.ports import free_port  # noqa: E402
from harness.postern import missing_binaries  # noqa: E402
from harness.postfix import unavailable_reason  # noqa: E402
from harness.processes import Registry  # noqa: E402

from benchkit import chart, mtas, report, runs, tools  # noqa: E402

ROWS = [(size, sessions) for size in (4096, 102400) for sessions in (20, 100)]


class Settings:
    """How much to send; BENCH_QUICK shrinks everything for a run of a minute or two."""

    def __init__(self, env):
        self.quick = env.get("BENCH_QUICK", "") not in ("", "0")
        scale = 0.1 if self.quick else 1.0
        self.messages = {4096: int(6000 * scale), 102400: int(2000 * scale)}
        self.warmup = int(500 * scale)
        # Both ends of every idle session hold a descriptor: stay under the hard limit.
        ceiling = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 200
        self.idle_sessions = {"postern": min(ceiling, 1000 if self.quick else 10000),
                              "postfix": min(ceiling, 200 if self.quick else 1000)}
        self.latency_seconds = 3 if self.quick else 10
        self.calibration = int(5000 * scale)
        self.only = env.get("BENCH_ONLY", "").lower()
        self.plain_sink = env.get("BENCH_PLAIN_SINK", "bench_sink")
        self.keep_tmp = env.get("BENCH_KEEP_TMP", "") not in ("", "0")
        profile = env.get("BENCH_PROFILE", "").lower()
        self.profile = profile not in ("", "0")
        self.profile_tls = profile == "starttls"  # which 4 KiB, 20 sessions row perf records

    def wants(self, key):
        return self.only in ("", key)


def say(text):
    print(text, flush=True)


def command_output(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_description():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory_gib = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} × {model}, {memory_gib:.0f} GiB, Linux {os.uname().release}"


def meta(settings, start):
    return {"date": start.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine_description(),
            "postern_version": command_output(["git", "-C", REPO, "describe", "--always", "--dirty"]),
            "postfix_version": command_output(["postconf", "-h", "-d", "mail_version"]),
            "mode": "quick (BENCH_QUICK=1)" if settings.quick else "full",
            "plain_sink": settings.plain_sink, "load_before": os.getloadavg()[0]}


def device_ceiling(folder):
    say("fsync probe ...")
    single = runs.fsync_rate(folder, writers=1)
    concurrent = runs.fsync_rate(folder, writers=20)
    filesystem = runs.filesystem_of(folder)
    say(f"  {single:,.0f} fsyncs/s with one writer, {concurrent:,.0f} with 20, {filesystem}")
    return {"single": single, "concurrent": concurrent, "writers": 20, "filesystem": filesystem}


def sink_ceilings(registry, settings):
    say("sink capacity straight from smtp-source ...")
    found = {}
    for kind in ("smtp-sink", "bench_sink"):
        found[kind] = runs.sink_capacity(registry, free_port(), kind, settings.calibration)
        say(f"  {kind}: {found[kind]:,.0f} msg/s")
    return found


def measure_memory(mta, registry, key, leg, settings, results):
    sessions = settings.idle_sessions[key]
    say(f"{mta.name}: {sessions} idle sessions, {leg} ...")
    try:
        found = runs.idle_memory(registry, mta, sessions, starttls=leg == "starttls")
        say(f"  {found['sessions']} held ({found['failed']} failed) in {found['setup_s']:.1f} s: "
            f"RSS +{found['rss_per_session']:.1f} KiB, PSS +{found['pss_per_session']:.1f} KiB per session, "
            f"total RSS {found['rss_kib'] / 1024:.1f} MiB")
    except runs.RunFailed as e:
        found = {"error": str(e)}
        say(f"  failed: {e}")
    results["memory"].setdefault(leg, {})[key] = found


def measure_throughput(registry, mta, key, sink_port, cert, tls, settings, rows, after_first=None):
    """Every throughput row of this TLS setting; after_first() runs after the first row (4 KiB,
    20 sessions), whose rate the latency measurement needs."""
    sink_cert = cert if tls else None
    try:
        runs.throughput(registry, mta, sink_port, 4096, 20, settings.warmup, sink_cert, settings.plain_sink)
    except runs.RunFailed as e:
        say(f"{mta.name}: the warm-up failed: {e}")
    for size, sessions in ROWS:
        row = rows[(size, sessions, tls)]
        label = report.config_label(row)
        profile = None
        profiled = f"{key}-starttls" if tls else key
        if settings.profile and (size, sessions, tls) == (4096, 20, settings.profile_tls):
            profile = runs.SystemProfile(registry, os.path.join(registry.tmp, f"perf-{profiled}.data"))
        try:
            found = runs.throughput(registry, mta, sink_port, size, sessions, settings.messages[size], sink_cert,
                                    settings.plain_sink)
            say(f"{mta.name}: {label}: {found['e2e']:,.0f} msg/s end to end, {found['accept']:,.0f} accept-only")
        except runs.RunFailed as e:
            found = {"error": str(e)}
            say(f"{mta.name}: {label}: failed: {e}")
        finally:
            if profile is not None:
                say("  profile: " + profile.finish(os.path.join(BENCH_DIR, "results", f"profile-{profiled}.txt"),
                                                    mta.programs))
        row[key] = found
        if after_first is not None and (size, sessions) == ROWS[0]:
            after_first()


def measure_latency(registry, mta, key, sink_port, settings, results, rows):
    top = [rows[(4096, 20, False)].get(k, {}).get("e2e") for k in ("postern", "postfix")]
    rate = next((r / 2 for r in top if r), None)
    if rate is None:
        return
    results["latency"]["rate"] = rate
    say(f"{mta.name}: latency at {rate:,.0f} msg/s ...")
    try:
        found = runs.latency(registry, mta, sink_port, rate, settings.latency_seconds)
        say(f"  p50 {found['p50']:.2f} ms, p99 {found['p99']:.2f} ms, max {found['max']:.2f} ms "
            f"({found['matched']} of {found['messages']}, client backlog {found['backlog']})")
    except runs.RunFailed as e:
        found = {"error": str(e)}
        say(f"  failed: {e}")
    results["latency"][key] = found


def run_mta(make, label, key, registry, settings, cert, tls, results, work):
    """Starts a fresh MTA, runs work(mta, sink_port) on it, stops it; False when it did not start."""
    sink_port = free_port()
    extra = {"process_limit": settings.idle_sessions["postfix"] + 200} if key == "postfix" else {}
    mta = make(registry, label, cert, sink_port, tls, **extra)
    try:
        mta.start()
    except Exception as e:  # noqa: BLE001 - any start failure is reported in the table
        results["notes"].append(f"{mta.name} ({label}) did not start: {str(e).splitlines()[0]}")
        say(f"{mta.name} did not start: {e}")
        return False
    try:
        work(mta, sink_port)
    finally:
        mta.stop()
    return True


def run_phase(registry, settings, cert, tls, results, rows):
    """Both MTAs with one TLS setting of the delivery leg. Each memory measurement gets a
    freshly started MTA: Postfix keeps the smtpd processes of the previous sessions."""
    for key, make in (("postern", mtas.PosternMta), ("postfix", mtas.PostfixMta)):
        if not settings.wants(key) or key in results["skipped"]:
            continue
        say(f"--- {make.name}, delivery leg {'STARTTLS' if tls else 'plaintext'}")
        common = (registry, settings, cert, tls, results)
        for leg in () if tls else ("plaintext", "starttls"):
            run_mta(make, f"idle-{leg}", key, *common,
                    lambda mta, _port, leg=leg: measure_memory(mta, registry, key, leg, settings, results))

        def throughput_and_latency(mta, sink_port):
            latency = None if tls else lambda: measure_latency(registry, mta, key, sink_port, settings, results, rows)
            measure_throughput(registry, mta, key, sink_port, cert, tls, settings, rows, latency)

        if not run_mta(make, "tls" if tls else "plain", key, *common, throughput_and_latency):
            for size, sessions in ROWS:
                rows[(size, sessions, tls)][key] = {"error": f"{make.name} did not start"}


def previous_results(folder):
    """The newest kept run's results (dated JSON files sort by time), or None."""
    kept = sorted(name for name in os.listdir(folder) if name.endswith(".json"))
    if not kept:
        return None
    with open(os.path.join(folder, kept[-1])) as f:
        return json.load(f)


def write_results(results, quick):
    """latest.md and latest.png, plus a dated copy of both and the raw JSON, in
    bench/results/; a quick run writes quick-latest.md and .png only (not kept)."""
    folder = os.path.join(BENCH_DIR, "results")
    os.makedirs(folder, exist_ok=True)
    page = report.markdown(results, previous_results(folder))
    picture = chart.throughput_chart(results)
    if quick:
        outputs = [("quick-latest.md", page), ("quick-latest.png", picture)]
    else:
        stamp = results["meta"]["stamp"]
        outputs = [(f"{stamp}.md", page), ("latest.md", page), (f"{stamp}.png", picture), ("latest.png", picture),
                   (f"{stamp}.json", json.dumps(results, indent=1, default=str))]
    for name, data in outputs:
        with open(os.path.join(folder, name), "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    return os.path.join(folder, outputs[0][0] if quick else "latest.md")


def prerequisites(settings, results):
    """Stops early when the benchmark cannot run at all; notes what it must skip."""
    reason = unavailable_reason()
    if reason:
        sys.exit(f"make bench: {reason}")
    for tool in ("bench_sink", "rate_client", "idle_sessions"):
        if not os.access(tools.bench_binary(tool), os.X_OK):
            sys.exit(f"make bench: {tools.bench_binary(tool)} is not built (run make)")
    missing = missing_binaries()
    if missing and settings.wants("postern"):
        results["skipped"].append("postern")
        results["notes"].append("postern is not built: " + ", ".join(missing))


def interrupt(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    settings = Settings(os.environ)
    start = datetime.datetime.now(datetime.timezone.utc)
    results = {"meta": meta(settings, start), "throughput": [], "latency": {}, "memory": {}, "notes": [],
               "skipped": []}
    results["meta"]["stamp"] = start.strftime("%Y-%m-%dT%H-%M")
    prerequisites(settings, results)
    if os.environ.get("BENCH_NOTE"):
        results["notes"].append(os.environ["BENCH_NOTE"])
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    tmp = make_temp_dir("bench")
    registry = Registry(tmp)
    began = time.monotonic()
    rows = {}
    for tls in (False, True):
        for size, sessions in ROWS:
            rows[(size, sessions, tls)] = {"size": size, "sessions": sessions, "tls": tls}
    results["throughput"] = list(rows.values())
    try:
        say(f"make bench: working in {tmp}")
        results["fsync"] = device_ceiling(tmp)
        results["sinks"] = sink_ceilings(registry, settings)
        cert = Certs(os.path.join(tmp, "certs"), key_type="ec").server("bench", "localhost")
        for tls in (False, True):
            run_phase(registry, settings, cert, tls, results, rows)
    except KeyboardInterrupt:
        say("make bench: interrupted; stopping everything it started")
        registry.stop_all()
        sys.exit(130)
    finally:
        errors = registry.stop_all()
        for error in errors:
            say(f"make bench: cleanup: {error}")
        if settings.keep_tmp:
            say(f"make bench: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["seconds"] = round(time.monotonic() - began)
    results["meta"]["load_after"] = os.getloadavg()[0]
    path = write_results(results, settings.quick)
    say("")
    say(report.text_table(report.table_rows(results)))
    say(f"\nmake bench: {results['meta']['seconds']} s; wrote {os.path.relpath(path, REPO)} and the chart")


if __name__ == "__main__":
    main()
