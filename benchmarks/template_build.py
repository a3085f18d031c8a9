"""How long one template takes to build, per edition.

    .venv/bin/python benchmarks/template_build.py [N]

Builds every shipped edition N times (default 20) with ``write_template`` into a temporary
directory and prints the time per template. The spec is loaded (and cached) before timing, as
it is in a campaign that writes one template per agency; the first, cold build is shown apart.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xlsxgov import spec as specmod  # noqa: E402
from xlsxgov.template import Meta, write_template  # noqa: E402

EDITIONS = ("gov2021", "gov2019", "legacy2008")


def main(argv: list[str]) -> int:
    try:
        n = int(argv[1]) if len(argv) > 1 else 20
        if n < 1:
            raise ValueError
    except ValueError:
        print(f"usage: {argv[0]} [N]   (N = builds per edition, a positive integer)", file=sys.stderr)
        return 2
    print(f"template build, {n} per edition")
    print(f"{'edition':<12}{'load ms':>9}{'first ms':>10}{'mean ms':>9}{'median ms':>11}{'min ms':>8}{'KiB':>7}")
    with tempfile.TemporaryDirectory(prefix="xlsxgov-bench-") as tmp:
        for edition in EDITIONS:
            t0 = time.perf_counter()
            spec = specmod.load(edition)
            load_ms = (time.perf_counter() - t0) * 1000
            out = Path(tmp) / f"{edition}.xlsx"
            t0 = time.perf_counter()
            write_template(out, spec, Meta(year=2024, agency="基准测试局"))
            first_ms = (time.perf_counter() - t0) * 1000
            times = []
            for i in range(n):
                meta = Meta(year=2024, agency=f"基准测试局{i}", code=f"11{i:016d}", region="测试区")
                t0 = time.perf_counter()
                write_template(out, spec, meta)
                times.append((time.perf_counter() - t0) * 1000)
            size = out.stat().st_size / 1024
            print(
                f"{edition:<12}{load_ms:>9.1f}{first_ms:>10.1f}{statistics.mean(times):>9.1f}"
                f"{statistics.median(times):>11.1f}{min(times):>8.1f}{size:>7.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
