"""`python -m dcactl.devnet`: run a devnet (the same options as `dcactl devnet serve`)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _fund(text: str) -> tuple[str, Decimal]:
    addr, _, amount = text.partition("=")
    try:
        value = Decimal(amount)
    except InvalidOperation as exc:
        raise argparse.ArgumentTypeError(f"--fund wants ADDR=AMOUNT, got {text!r}") from exc
    if not (addr.startswith("0x") and len(addr) == 42) or not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"--fund wants ADDR=AMOUNT, got {text!r}")
    return addr.lower(), value


def main(argv: list[str] | None = None) -> int:
    """Parse options and serve until SIGINT/SIGTERM; returns the exit code."""
    p = argparse.ArgumentParser(
        prog="python -m dcactl.devnet", description="a local Hyperliquid-compatible exchange"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3001, help="0 picks a free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fund",
        type=_fund,
        action="append",
        default=[],
        metavar="ADDR=AMOUNT",
        help="credit AMOUNT USDC to ADDR at start (repeatable)",
    )
    p.add_argument("--state", type=Path, help="SQLite file to keep state across restarts")
    p.add_argument("--universe", type=Path, help="JSON universe file (docs/devnet.md)")
    p.add_argument("--no-rate-limit", action="store_true", help="do not enforce 1200 weight/min per IP")
    a = p.parse_args(argv)
    from dcactl.devnet.server import serve

    try:
        serve(a.host, a.port, a.seed, dict(a.fund), a.state, a.universe, not a.no_rate_limit)
    except (ValueError, OSError) as exc:
        print(f"devnet: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
