"""``benchmarks/time_pairs.sh``: two whole commands timed in alternating pairs. A command that
sleeps twice as long as the other shows a wall ratio near 2; a failing command or a wrong call
ends the script with a clear message and a non-zero status."""

from __future__ import annotations

import re
import subprocess

from test_end_to_end import REPOSITORY

SCRIPT = REPOSITORY / "benchmarks" / "time_pairs.sh"


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60)


def test_the_ratio_of_a_slower_command_is_measured() -> None:
    result = run("-n", "3", "sleep 0.4", "sleep 0.2")
    assert result.returncode == 0, result.stderr
    figures = {m.group(1): float(m.group(2))
               for m in re.finditer(r"^(A wall|B wall|A/B wall)\s+median\s+([0-9.]+)", result.stdout, re.M)}
    assert 0.39 <= figures["A wall"] < 0.6
    assert 0.19 <= figures["B wall"] < 0.4
    assert 1.5 < figures["A/B wall"] < 2.2
    assert "(3 pairs after one warm-up run of each)" in result.stdout


def test_a_failing_command_stops_the_measurement() -> None:
    result = run("-n", "2", "true", "exit 3")
    assert result.returncode == 1
    assert "command failed: exit 3" in result.stderr


def test_a_wrong_call_prints_the_usage() -> None:
    for arguments in (("only-one",), ("-n", "0", "true", "true"), ("-n", "x", "true", "true")):
        result = run(*arguments)
        assert result.returncode == 2
        assert result.stderr.startswith("usage:")
