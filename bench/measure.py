"""How the benchmarks measure: interleaved repetitions, CPU and wall time, peak memory (standard library only).

Every figure in the report is a ratio to a floor measured in the same run, with the two interleaved (ours, floor,
ours, floor, ...) so that a neighbour's build slowing the machine down slows both. Ratios use CPU time (user +
system, all threads) because on a shared machine it moves far less than wall time; wall times are shown beside it.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Sample:
    """One run: wall and CPU seconds, and peak memory in MiB when it was measured."""

    wall: float
    cpu: float
    peak_mib: float | None = None


@dataclass(frozen=True, slots=True)
class Stats:
    """The medians of several runs of one thing, and the highest peak seen."""

    wall: float
    cpu: float
    runs: int
    peak_mib: float | None = None

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Stats:
        peaks = [s.peak_mib for s in samples if s.peak_mib is not None]
        return cls(
            statistics.median(s.wall for s in samples),
            statistics.median(s.cpu for s in samples),
            len(samples),
            max(peaks) if peaks else None,
        )

    def ratio(self, floor: Stats) -> float:
        return self.cpu / floor.cpu if floor.cpu > 0 else float("nan")


def call(fn: Callable[[], object]) -> Sample:
    """Time an in-process call (CPU time of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return Sample(time.perf_counter() - wall, time.process_time() - cpu)


def traced_peak(fn: Callable[[], object]) -> float:
    """Peak MiB of Python allocations during one (untimed: tracing slows it down) call."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def command(cmd: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Sample:
    """Run a command to completion (output discarded); its own CPU time comes from wait4.

    No peak memory here: a child forked from this (large) process starts its high-water mark at our size.
    """
    wall = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - wall
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.decode(errors='replace').strip()[-2000:]}")
    return Sample(elapsed, usage.ru_utime + usage.ru_stime)


TIME = Path("/usr/bin/time")
"""GNU time: a small process that forks the command and reports its peak RSS (Debian package `time`)."""


def peak_rss(cmd: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None) -> float | None:
    """Peak RSS in MiB of one (untimed) run of a command, through GNU time; None without it."""
    if not TIME.exists():
        return None
    proc = subprocess.run([str(TIME), "-f", "%M", *cmd], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] if proc.returncode == 0 else []
    return int(last[0]) / 1024 if last and last[0].isdigit() else None


def interleaved(cases: Mapping[str, Callable[[], Sample]], runs: int, warmup: bool = True) -> dict[str, Stats]:
    """Run every case `runs` times, round-robin, after one untimed warm-up round (caches, lazy imports, page cache)."""
    if warmup:
        for fn in cases.values():
            fn()
    samples: dict[str, list[Sample]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, fn in cases.items():
            samples[name].append(fn())
    return {name: Stats.of(found) for name, found in samples.items()}


# -- peak RSS of this process, for runs too slow to trace (the Pulumi program under mocks) --------------------------


def _status(field: str) -> int | None:
    try:
        found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(found.group(1)) if found else None


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux: `5` to /proc/self/clear_refs); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mib() -> float | None:
    kib = _status("VmRSS")
    return kib / 1024 if kib is not None else None


def peak_rss_mib() -> float | None:
    kib = _status("VmHWM")
    return kib / 1024 if kib is not None else None
