"""report.py: the benchmark's one table, in Markdown, with the targets of issue 8.

table_rows() turns the results (a dict, see bench.py) into rows of (what, postern,
Postfix, postern/Postfix, target, status); markdown() wraps them with the conditions of
the run. A row that could not be measured says why instead of a number.
"""

SIZES = {4096: "4 KiB", 102400: "100 KiB"}


def config_label(row):
    """'4 KiB, 20 sessions, plaintext' for a throughput row."""
    leg = "STARTTLS" if row["tls"] else "plaintext"
    return f"{SIZES.get(row['size'], row['size'])}, {row['sessions']} sessions, {leg}"


def _num(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(ours, theirs):
    """postern / Postfix, or None when either is missing."""
    if not ours or not theirs:
        return None
    return ours / theirs


def _ratio_text(ratio):
    """2.45×; a small ratio as a fraction (1/951) so it stays readable."""
    if ratio is None:
        return "—"
    return f"{ratio:.2f}×" if ratio >= 0.01 else f"1/{1 / ratio:,.0f}"


def _status(ok):
    if ok is None:
        return "not measured"
    return "met" if ok else "**not met**"


def _measured(entry, key):
    """entry[key], or None when the entry failed or is missing."""
    if not entry or "error" in entry:
        return None
    return entry.get(key)


def _why(entry):
    if entry and "error" in entry:
        return f"failed: {entry['error']}"
    return None


def throughput_rows(results):
    rows = []
    for row in results.get("throughput", []):
        label = config_label(row)
        for key, what, headline in (("e2e", "end to end", True), ("accept", "accept only", False)):
            ours, theirs = _measured(row.get("postern"), key), _measured(row.get("postfix"), key)
            ratio = _ratio(ours, theirs)
            is_headline = headline and row["size"] == 4096 and row["sessions"] == 20 and not row["tls"]
            wanted = 4.0 if is_headline else 3.0
            rows.append((f"msg/s {what}, {label}", _why(row.get("postern")) or _num(ours),
                         _why(row.get("postfix")) or _num(theirs), _ratio_text(ratio),
                         f"≥ {wanted:g}× Postfix", _status(None if ratio is None else ratio >= wanted)))
    return rows


def tls_cost_rows(results):
    """STARTTLS on the delivery leg against plaintext, end to end, per size and sessions."""
    rows = []
    by_config = {(r["size"], r["sessions"], r["tls"]): r for r in results.get("throughput", [])}
    for (size, sessions, tls), row in by_config.items():
        plain = by_config.get((size, sessions, False))
        if not tls or plain is None:
            continue
        costs = {}
        for mta in ("postern", "postfix"):
            with_tls, without = _measured(row.get(mta), "e2e"), _measured(plain.get(mta), "e2e")
            costs[mta] = 1 - with_tls / without if with_tls and without else None
        label = f"STARTTLS cost on delivery, {SIZES.get(size, size)}, {sessions} sessions"
        fmt = lambda c: "—" if c is None else f"{100 * c:.1f}%"
        ok = None if costs["postern"] is None else costs["postern"] <= 0.15
        rows.append((label, fmt(costs["postern"]), fmt(costs["postfix"]), "", "≤ 15% (postern)", _status(ok)))
    return rows


def latency_rows(results):
    lat = results.get("latency")
    if not lat:
        return []
    ours, theirs = lat.get("postern"), lat.get("postfix")
    rate = lat.get("rate")
    rows = []
    for key, target in (("p50", None), ("p99", 10.0)):
        a, b = _measured(ours, key), _measured(theirs, key)
        rows.append((f"latency 250 → sink 250, {key} (ms) at {_num(rate)} msg/s", _why(ours) or _num(a, 2),
                     _why(theirs) or _num(b, 2), _ratio_text(_ratio(a, b)),
                     f"≤ {target:g} ms" if target else "", _status(None if a is None or not target else a <= target)
                     if target else ""))
    return rows


def memory_rows(results):
    rows = []
    memory = results.get("memory", {})
    for leg, target in (("plaintext", 8.0), ("starttls", 40.0)):
        entry = memory.get(leg, {})
        ours, theirs = entry.get("postern"), entry.get("postfix")
        a = _measured(ours, "rss_per_session")
        b = _measured(theirs, "pss_per_session")
        what = "after EHLO" if leg == "plaintext" else "after STARTTLS"
        rows.append((f"KiB per idle session, {what}", _why(ours) or _num(a, 1), _why(theirs) or _num(b, 1),
                     _ratio_text(_ratio(a, b)), f"≤ {target:g} KiB",
                     _status(None if a is None else a <= target)))
        total = _measured(ours, "rss_kib")
        count = _measured(ours, "sessions")
        rows.append((f"MiB RSS of all postern processes, {_num(count)} idle sessions {what}",
                     _num(total / 1024 if total else None, 1), "", "", "", ""))
    return rows


def derived_notes(results):
    """What the table's cells cannot say: counts, units, backlog."""
    notes = []
    for leg, entry in results.get("memory", {}).items():
        ours, theirs = entry.get("postern"), entry.get("postfix")
        if _measured(ours, "sessions") and _measured(theirs, "sessions"):
            notes.append(f"Idle sessions ({leg}): postern held {ours['sessions']:,} (RSS growth per session, "
                         f"{ours['failed']} failed), Postfix {theirs['sessions']:,} (PSS growth per session: one "
                         f"smtpd process each; RSS would count its shared libraries once per process).")
    for key, name in (("postern", "postern"), ("postfix", "Postfix")):
        reuse = []
        for row in results.get("throughput", []):
            found = row.get(key) or {}
            if found.get("connections"):
                reuse.append(f"{config_label(row)}: {found['delivered'] / found['connections']:.1f}")
        if reuse:
            notes.append(f"Messages per delivery connection, {name}: " + "; ".join(reuse) + ".")
    lat = results.get("latency", {})
    for key, name in (("postern", "postern"), ("postfix", "Postfix")):
        found = lat.get(key)
        if _measured(found, "p50") is not None:
            notes.append(f"Latency, {name}: {found['matched']:,} of {found['messages']:,} messages matched, "
                         f"max {found['max']:.2f} ms, largest client backlog {found['backlog']} "
                         f"(0: the rate of {lat['rate']:,.0f} msg/s was held).")
    return notes


def table_rows(results):
    """Every row of the table, in order."""
    return throughput_rows(results) + tls_cost_rows(results) + latency_rows(results) + memory_rows(results)


def markdown_table(rows):
    lines = ["| measure | postern | Postfix | postern/Postfix | target | status |",
             "| --- | ---: | ---: | ---: | --- | --- |"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def comparison(results, previous):
    """Lines comparing postern's end-to-end rows with an earlier run's (None: no earlier run)."""
    if not previous:
        return []
    before = {(r["size"], r["sessions"], r["tls"]): _measured(r.get("postern"), "e2e")
              for r in previous.get("throughput", [])}
    lines = [f"Compared with the run of {previous.get('meta', {}).get('date', '?')} "
             f"(postern {previous.get('meta', {}).get('postern_version', '?')}), postern end to end:", ""]
    for row in results.get("throughput", []):
        now, then = _measured(row.get("postern"), "e2e"), before.get((row["size"], row["sessions"], row["tls"]))
        change = f"{100 * (now / then - 1):+.0f}%" if now and then else "—"
        lines.append(f"- {config_label(row)}: {_num(then)} → {_num(now)} msg/s ({change})")
    return lines + [""]


def markdown(results, previous=None):
    """The whole results page; previous (an earlier run's results) adds a comparison."""
    meta = results.get("meta", {})
    fsync = results.get("fsync", {})
    sinks = results.get("sinks", {})
    lines = [f"# postern against Postfix — {meta.get('date', '')}", "",
             f"Machine: {meta.get('machine', '?')}. postern {meta.get('postern_version', '?')}, "
             f"Postfix {meta.get('postfix_version', '?')}. Mode: {meta.get('mode', 'full')}. "
             f"Load average: {_num(meta.get('load_before'), 1)} before, {_num(meta.get('load_after'), 1)} after; "
             f"{_num(meta.get('seconds'))} s in all.", "",
             f"Physical ceiling (the queue's device, 4 KiB append + fsync): "
             f"{_num(fsync.get('single'))} fsyncs/s with one writer, "
             f"{_num(fsync.get('concurrent'))} fsyncs/s with {fsync.get('writers', '?')} writers at once; "
             f"{fsync.get('filesystem', '?')}.", "",
             f"Sinks straight from smtp-source (100 sessions, 4 KiB), the instruments' ceiling: "
             + ", ".join(f"{name} {_num(rate)} msg/s" for name, rate in sinks.items()) + ".", "",
             markdown_table(table_rows(results)), ""]
    lines += [f"- {note}" for note in derived_notes(results) + results.get("notes", [])]
    lines += [""] + comparison(results, previous)
    return "\n".join(lines) + "\n"


def text_table(rows):
    """The table for a terminal: fixed-width columns."""
    header = ("measure", "postern", "Postfix", "ratio", "target", "status")
    all_rows = [header] + [tuple(c.replace("**", "") for c in row) for row in rows]
    widths = [min(max(len(r[i]) for r in all_rows), 70 if i == 0 else 30) for i in range(len(header))]
    out = []
    for row in all_rows:
        out.append("  ".join(cell[:widths[i]].ljust(widths[i]) if i == 0 else cell[:widths[i]].rjust(widths[i])
                             for i, cell in enumerate(row)))
    return "\n".join(out)
