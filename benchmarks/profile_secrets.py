"""Print how long the secrets flagger takes on a large profile (docs/performance.md,
"Flagging a large profile"; probe H of 2026-12-07).

The profile is made here: a short "About the user" and ``--notes`` dated memory notes (30,000
make 2.2 MB, the probe's profile), each with a note number, so that most lines hold a
five-digit number. Printed: the time of each detector of ``freehold.secrets`` alone (the postal
address one with the characters pyap2 was given), then of ``scan`` whole, which a profile
export runs once.

    python benchmarks/profile_secrets.py                 # 30,000 notes: ~30 s
    python benchmarks/profile_secrets.py --notes 3000

Nothing is asserted; the tests never time anything.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pyap

from freehold import secrets


def profile(notes: int) -> str:
    lines = [
        f"- 2024-{1 + n % 12:02d}-{1 + n % 28:02d}: note number {n} about the user likes "
        "things and stuff here."
        for n in range(notes)
    ]
    return "## About the user\n\nEngineer.\n\n## Memory\n\n" + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=30_000)
    args = parser.parse_args()
    text = profile(args.notes)
    print(f"profile: {args.notes:,} notes, {len(text):,} characters")
    secrets.scan("warm up: sam@example.org", region="US")  # imports detect-secrets once
    given = [0]
    parse = pyap.parse

    def counted(scanned: str, country: Any) -> Any:
        given[0] += len(scanned)
        return parse(scanned, country=country)

    pyap.parse = counted  # type: ignore[assignment]
    detectors = {
        "keys": lambda: list(secrets._keys(text)),
        "keywords": lambda: list(secrets._keywords(text)),
        "e-mail": lambda: list(secrets._emails(text)),
        "phone": lambda: list(secrets._phones(text, "US")),
        "address": lambda: list(secrets._addresses(text)),
    }
    for name, run in detectors.items():
        started = time.perf_counter()
        run()
        print(f"  {name:<9} {time.perf_counter() - started:6.2f} s")
    print(f"  pyap2 was given {given[0]:,} characters of {len(text):,} (three countries)")
    started = time.perf_counter()
    found = secrets.scan(text, region="US")
    print(f"scan: {time.perf_counter() - started:.2f} s, {len(found)} findings")


if __name__ == "__main__":
    main()
