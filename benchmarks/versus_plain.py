"""Time freehold's import beside a plain importer, on the same export, in the same run.

For each generator profile and size, one export is generated (``genexport.py``, seed 1, kept
in the work folder for the next run), then the two importers take turns on it, ``--repeats``
times, the order swapped each round so that neither always runs first: ``freehold import``
exactly as a user runs it (a fresh ``FREEHOLD_HOME``, the CLI, start-up included), and
``plain_importer.py`` (also a fresh process and a fresh database). Each run prints its wall
time, its MB/s of conversations JSON, its CPU time (user + system, every process included:
it moves much less than the wall time when other work shares the machine, and says how much
work each importer does; its system part moves with the disk's state, see docs/performance.md),
its peak RSS (the largest of its processes) and the load average just before it; each round
prints the ratio of the two rates measured side by side. The summary gives ranges and
medians, ready for docs/performance.md. Nothing is asserted: the machine's speed drifts (see
that page), so only the ratios within a round are compared, never figures from different runs.

    python benchmarks/versus_plain.py --profiles default,varied --sizes 100MB,200MB --repeats 3

``--baseline DIR`` times a second freehold beside them, in the same rounds: the source tree in
DIR (a checkout of an earlier commit, e.g. ``git worktree add DIR <commit>``), run from DIR so
that its own ``freehold`` package is the one imported; its ratio to plain is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from genexport import PROFILES, generate, parse_size  # noqa: E402

PORTER = "porter unicode61 remove_diacritics 2"  # freehold's tokenizer


def spread(values: list[float], digits: int = 2) -> str:
    """``low-high (median m)``, as the summaries print every figure."""
    low, high, mid = min(values), max(values), statistics.median(values)
    return f"{low:.{digits}f}-{high:.{digits}f} (median {mid:.{digits}f})"


@dataclass
class Contender:
    name: str
    rates: list[float] = field(default_factory=list)  # MB/s, one per round
    cpu: list[float] = field(default_factory=list)  # CPU seconds, one per round
    system: list[float] = field(default_factory=list)  # of which in the kernel
    rss: list[float] = field(default_factory=list)  # peak RSS MB, one per round

    def summary(self) -> str:
        if not self.rates:
            return "-"
        cpu, system = statistics.median(self.cpu), statistics.median(self.system)
        rss = max(self.rss)
        return (
            f"{spread(self.rates, 1)}; CPU median {cpu:.2f} s "
            f"(system {system:.2f} s); "
            f"peak RSS {rss:.0f} MB"
        )


def export_for(work: Path, profile: str, size: int, layout: str) -> tuple[Path, int]:
    """The export for these arguments and its bytes of conversations JSON, generated once."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{profile}-{layout}-{size}.zip"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["bytes_json"])
    stats = generate(path, target_bytes=size, layout=layout, seed=1, profile=profile)
    meta.write_text(json.dumps({"bytes_json": stats.bytes_json}))
    return path, stats.bytes_json


def export_options(doc: str | None, sizes: str) -> argparse.ArgumentParser:
    """A parser with the options every comparison here takes: which exports, how many rounds,
    where the exports are kept."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--layout", default="single", choices=["single", "sharded"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("bench-out"))
    parser.add_argument(
        "--settle",
        type=int,
        default=370,
        help="seconds to wait after deleting the last run's data, when it held 1,000 files "
        "or more (see the note on ext4 below)",
    )
    return parser


def exports(args: argparse.Namespace) -> Iterator[tuple[Path, int, Path]]:
    """Each export the options name (generated once, announced), its bytes of JSON and the
    scratch folder for the runs' data: the last run's is removed first, and the file system
    given ``--settle`` seconds before anything is timed; this run's stays until the next."""
    scratch = args.workdir / "scratch"
    if scratch.exists():
        files = sum(len(names) for _, _, names in os.walk(scratch))
        shutil.rmtree(scratch, ignore_errors=True)
        if files >= 1000:
            print(f"(the last run's {files:,} files deleted: {args.settle} s to settle)")
            time.sleep(args.settle)
    for profile in args.profiles.split(","):
        for label in args.sizes.split(","):
            size = parse_size(label)
            export, json_bytes = export_for(args.workdir, profile, size, args.layout)
            print(f"== {profile} {args.layout} {label}: {json_bytes / 1e6:.1f} MB of JSON")
            yield export, json_bytes, scratch
    print(f"(this run's data is kept in {scratch} until the next run)")


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


@dataclass
class Timing:
    wall: float
    cpu: float  # user + system seconds of the command and every process it waited for
    system: float  # the system part of it: the kernel's (files created, pipes, page faults)
    rss: float  # peak RSS in MB of the largest of those processes


# A fresh wrapper process runs the command and reports what its child used: RUSAGE_CHILDREN
# of a small process. (A child's own ``ru_maxrss`` starts at its parent's RSS when it forks,
# so measured from a big parent, a test runner's, every run would read as that big.)
_WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, usage.ru_utime + usage.ru_stime, usage.ru_stime, usage.ru_maxrss, file=sys.stderr)
sys.exit(done.returncode)
"""


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> Timing:
    """Run ``command`` to its end: its wall time, and the CPU time and peak RSS of it and the
    processes it waited for (freehold's reader process), measured by the wrapper."""
    wrapped = [sys.executable, "-c", _WRAPPER, *command]
    done = subprocess.run(wrapped, env=env, capture_output=True, text=True, cwd=cwd)
    if done.returncode not in (0, 1):  # freehold exits 1 when its report lists problems
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr}")
    wall, cpu, system, peak_kb = done.stderr.strip().splitlines()[-1].split()
    return Timing(float(wall), float(cpu), float(system), int(peak_kb) / 1024)


# Every run writes to a new folder, and nothing is deleted until the next run starts, which
# then waits ``--settle`` seconds. On ext4 without a journal (this machine's disk), creating a
# file near thousands deleted less than a minute ago costs up to 1 ms of kernel time: the
# allocator skips recently deleted inodes one by one (``recently_deleted`` in perf), and "recent"
# is six minutes while their inode table block is dirty, which creating files in it makes it
# again. Deleting one run's archives slowed the next run's attachments, whichever importer wrote
# them: a varied import read as 0.5-0.6x, its system time 4-6 s instead of ~1.3 s. Any large
# deletion does it (a test run's temporary folders too): a high system time says so.
def run_freehold(export: Path, out: Path, tree: Path | None = None) -> Timing:
    """``freehold import`` in a fresh data folder; from ``tree``'s source when given."""
    env = {**os.environ, "FREEHOLD_HOME": str(out.resolve() / "home")}
    command = [sys.executable, "-m", "freehold", "import", str(export.resolve()), "--json"]
    if tree is None:
        return timed(command, env)
    env["PYTHONPATH"] = str(tree.resolve())
    return timed(command, env, cwd=tree)


def run_plain(export: Path, out: Path, tokenize: str = "") -> Timing:
    out.mkdir(parents=True)
    command = [sys.executable, str(HERE / "plain_importer.py"), str(export), str(out / "db")]
    return timed([*command, "--tokenize", tokenize] if tokenize else command, dict(os.environ))


def compare(
    export: Path,
    json_bytes: int,
    repeats: int,
    porter: bool,
    scratch: Path,
    baseline: Path | None = None,
) -> None:
    mb = json_bytes / 1e6
    runs: dict[str, Callable[[Path], Timing]] = {
        "freehold": lambda out: run_freehold(export, out),
        "plain": lambda out: run_plain(export, out),
    }
    if porter:
        runs["plain-porter"] = lambda out: run_plain(export, out, PORTER)
    if baseline is not None:
        runs["baseline"] = lambda out: run_freehold(export, out, baseline)
    contenders = {name: Contender(name) for name in runs}
    ratios: list[float] = []
    base_ratios: list[float] = []
    for round_ in range(repeats):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        rates = {}
        for name in order:
            before = load()
            timing = runs[name](scratch / f"{export.stem}-{round_}-{name}")
            rates[name] = mb / timing.wall
            contenders[name].rates.append(rates[name])
            contenders[name].cpu.append(timing.cpu)
            contenders[name].system.append(timing.system)
            contenders[name].rss.append(timing.rss)
            print(
                f"  round {round_ + 1} {name:>12}: {timing.wall:6.2f} s {rates[name]:6.1f} MB/s",
                end="",
            )
            print(f"  CPU {timing.cpu:5.2f} s (system {timing.system:5.2f})", end="")
            print(f"  RSS {timing.rss:4.0f} MB  load {before}")
        ratios.append(rates["freehold"] / rates["plain"])
        print(f"  round {round_ + 1} ratio freehold/plain: {ratios[-1]:.2f}", flush=True)
        if "baseline" in rates:
            base_ratios.append(rates["baseline"] / rates["plain"])
            print(f"  round {round_ + 1} ratio baseline/plain: {base_ratios[-1]:.2f}", flush=True)
    for contender in contenders.values():
        print(f"  {contender.name:>12} MB/s: {contender.summary()}")
    for name, found in (("freehold", ratios), ("baseline", base_ratios)):
        if found:
            print(f"  ratio {name}/plain: {spread(found)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = export_options(__doc__, sizes="100MB,200MB")
    parser.add_argument(
        "--porter",
        action="store_true",
        help="also time the plain importer with freehold's tokenizer",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also time freehold from this source tree (an earlier checkout)",
    )
    args = parser.parse_args(argv)
    for export, json_bytes, scratch in exports(args):
        compare(export, json_bytes, args.repeats, args.porter, scratch, args.baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
