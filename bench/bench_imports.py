"""Matching imported fills against exchange fills (``sync`` after ``import legacy``).

    .venv/bin/python bench/bench_imports.py [--fills 10000]

A ledger with N imported fills (the earlier bot's history) and N exchange fills that match none of
them (the worst case: every import is looked up, nothing is taken off the list). Before each import
was looked up with two indexed queries, one un-indexable OR query per import made this about 64 s for
10,000 (measured on this 2-core machine); target ≤ 1 s. Printed: the wall time and its ratio to the
target, measured in this one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dcactl.ledger import Ledger
from dcactl.models import Fill

TARGET_S = 1.0
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fills", type=int, default=10_000)
    n = parser.parse_args().fills
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(Path(tmp) / "l.db", network="devnet",
                                                           account="0x" + "a" * 40) as led:
        led.add_fills(Fill(time=T0 + timedelta(hours=i), asset="BTC", pair="@142", side="B", size=D("0.001"),
                           price=D(50_000), fee=D(0), fee_token="USDC", tid=f"imp{i}", source="imported")
                      for i in range(n))
        led.add_fills(Fill(time=T0 + timedelta(hours=i, minutes=30), asset="ETH", pair="@151", side="B",
                           size=D("0.01"), price=D(3000), fee=D(0), fee_token="UETH", tid=f"x{i}",
                           source="external", oid=i, hash=f"0x{i:064x}") for i in range(n))
        t0 = time.perf_counter()
        matched = led.match_imports()
        wall = time.perf_counter() - t0
    print(f"match_imports: {n:,} imports against {n:,} exchange fills (none matching): {wall:.2f} s, "
          f"matched {matched}; target {TARGET_S} s, ratio {wall / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
