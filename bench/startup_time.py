"""CPU time of ``vram --help`` (and other quick commands) against ``hf-mem --help``, side by side.

Each command runs ``--runs`` times, interleaved (so a busy machine slows both alike); the CPU time
is user + system of the child process (``resource.getrusage``), the median is reported.

    python3 -m venv /tmp/hfmem-venv && /tmp/hfmem-venv/bin/pip install hf-mem
    .venv/bin/python bench/startup_time.py --hf-mem /tmp/hfmem-venv/bin/hf-mem --runs 20
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path


def cpu_seconds(cmd: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``cmd`` with its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = os.times().elapsed
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = os.times().elapsed - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vram", default=str(Path(sys.executable).with_name("vram")))
    parser.add_argument("--hf-mem", default=shutil.which("hf-mem") or "/tmp/hfmem-venv/bin/hf-mem")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    commands = {
        "hf-mem --help": [args.hf_mem, "--help"],
        "vram --help": [args.vram, "--help"],
        "vram help": [args.vram, "help"],
        "vram gpus": [args.vram, "gpus"],
    }
    for cmd in commands.values():  # warm the page cache and the bytecode caches
        cpu_seconds(cmd)
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            c, w = cpu_seconds(cmd)
            cpu[name].append(c)
            wall[name].append(w)
    base = statistics.median(cpu["hf-mem --help"])
    print(f"{'command':<16} {'CPU s (median)':>14} {'wall s (median)':>15} {'CPU vs hf-mem':>13}")
    for name in commands:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:<16} {c:>14.3f} {w:>15.3f} {c / base:>12.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
