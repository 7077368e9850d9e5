"""Detect other load on the machine while a benchmark repeat runs.

This machine has 2 cores and may be shared with other work (builds, tests).
CpuMeter reads /proc/stat and /proc/self/stat around a timed interval and
reports how many cores *other* processes kept busy on average ("foreign
cores"), plus hypervisor steal. The benchmarks retry repeats whose interval
was contaminated and record the figures next to every timing.
"""

from __future__ import annotations

import os
import time

_TICK = os.sysconf("SC_CLK_TCK")


def _read() -> tuple[float, float, float, float]:
    with open("/proc/stat") as f:
        parts = f.readline().split()
    vals = [int(x) for x in parts[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (vals + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    with open("/proc/self/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2 :].split()
    own = int(fields[11]) + int(fields[12])  # utime + stime of the whole thread group
    return time.perf_counter(), busy / _TICK, own / _TICK, steal / _TICK


class CpuMeter:
    def __init__(self) -> None:
        self._t0 = _read()

    def start(self) -> "CpuMeter":
        self._t0 = _read()
        return self

    def stop(self) -> dict:
        t1 = _read()
        wall = max(t1[0] - self._t0[0], 1e-9)
        busy = t1[1] - self._t0[1]
        own = t1[2] - self._t0[2]
        steal = t1[3] - self._t0[3]
        return {
            "foreign_cores": max(busy - own, 0.0) / wall,
            "own_cpu_s": own,
            "steal_cores": steal / wall,
        }


def wait_quiet(threshold: float = 0.15, window: float = 0.5, timeout: float = 60.0) -> dict:
    """Sleep until other processes use < threshold cores over a `window`, or timeout."""
    t0 = time.perf_counter()
    while True:
        m = CpuMeter().start()
        time.sleep(window)
        r = m.stop()
        waited = time.perf_counter() - t0
        if r["foreign_cores"] < threshold or waited >= timeout:
            return {"waited_s": waited, "foreign_cores": r["foreign_cores"], "quiet": r["foreign_cores"] < threshold}


def measured(fn, repeats: int, max_extra: int, threshold: float = 0.15, max_wait: float | None = None, log=None) -> tuple[list, int]:
    """Run fn() -> dict until `repeats` clean results (other processes used
    < threshold cores meanwhile) or `repeats + max_extra` attempts. Before each
    attempt, wait (up to max_wait s, default $BENCH_MAX_WAIT or 120) for the
    machine to be quiet. Each result gets the meter readings and a 'clean'
    flag. Returns (results kept, attempts). If too few clean runs were
    obtained, the least contaminated ones fill up to `repeats`."""
    if max_wait is None:
        max_wait = float(os.environ.get("BENCH_MAX_WAIT", "120"))
    clean, dirty, attempts = [], [], 0
    while len(clean) < repeats and attempts < repeats + max_extra:
        q = wait_quiet(threshold, timeout=max_wait)
        if not q["quiet"] and log:
            log(f"#   machine not quiet after {q['waited_s']:.0f} s ({q['foreign_cores']:.2f} cores), running anyway")
        m = CpuMeter().start()
        r = fn()
        r.update(m.stop())
        attempts += 1
        r["clean"] = r["foreign_cores"] < threshold
        (clean if r["clean"] else dirty).append(r)
        if not r["clean"] and log:
            log(f"#   repeat contaminated by other load ({r['foreign_cores']:.2f} cores), retrying")
    if len(clean) < repeats:
        dirty.sort(key=lambda r: r["foreign_cores"])
        clean += dirty[: repeats - len(clean)]
    return clean, attempts
