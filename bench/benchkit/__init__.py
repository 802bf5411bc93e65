"""benchkit: the parts of `make bench` (bench/bench.py is the driver).

mtas.py starts postern and Postfix with the same durability and sink, tools.py wraps the
sinks and load tools, runs.py measures (throughput, latency, idle memory, fsync rate),
report.py writes the table, chart.py the PNG. Python standard library only; the process
handling comes from the integration-test harness (tests/integration/harness).
"""
