"""`make demo`: a real DCA round against a local devnet, start to finish, in about ten seconds.

It starts a devnet (a local Hyperliquid-compatible exchange) on a free port, creates a throwaway key
and funds its account with devnet USDC, writes a live portfolio for that devnet into ``.demo/``,
then runs the commands a user would: ``markets``, ``run --dry-run``, ``run``, ``run`` again (nothing is
due any more), ``status`` and ``history``. Nothing here touches a real exchange or real money.

Usage: ``python examples/demo.py [--workdir DIR] [--keep]`` (the Makefile runs it with no options).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

PORTFOLIO = """\
# Written by examples/demo.py: a live portfolio against a local devnet (devnet USDC, not real money).
[settings]
network = "{url}"
mode = "live"
account = "{account}"
key = "file:{key_path}"
coingecko_url = "{url}/coingecko/api/v3"   # the devnet's CoinGecko double prices AVAX and LINK
database = "ledger.db"
max_usd_per_run = 500
max_usd_per_day = 1000

[assets.BTC]
amount = 100
every = "day"

[assets.ETH]
amount = 50
every = "day"

[assets.SOL]
amount = 25
every = "week"

[assets.AVAX]                      # not listed on the devnet's spot: bought on paper at CoinGecko prices
amount = 20
every = "week"

[assets.LINK]
amount = 15
every = "week"
"""


def run(args: list[str], workdir: Path, *, check: bool = True) -> int:
    """Run one dcactl command the way a user would type it, echoing it first."""
    shown = "dcactl " + " ".join(shlex.quote(a) for a in args)
    print(f"\n$ {shown}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "dcactl", *args], cwd=workdir, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"demo: `{shown}` exited {proc.returncode}")
    return proc.returncode


def main() -> int:
    """Set up, run the round, show the portfolio; exit non-zero if any step fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(".demo"), help="where the demo's files go")
    parser.add_argument("--keep", action="store_true", help="keep the devnet running until Enter")
    opts = parser.parse_args()

    from eth_account import Account

    from dcactl.devnet.control import DevnetProcess

    workdir = opts.workdir.resolve()
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    account = Account.create()
    key_path = workdir / "key"
    key_path.write_text(account.key.hex())
    key_path.chmod(0o600)

    with DevnetProcess(seed=42) as devnet:
        print(f"devnet running at {devnet.url}")
        devnet.admin.fund(account.address, 5000)
        print(f"funded throwaway account {account.address.lower()} with 5,000 devnet USDC")
        (workdir / "portfolio.toml").write_text(
            PORTFOLIO.format(url=devnet.url, account=account.address.lower(), key_path=key_path)
        )
        os.environ.pop("DCACTL_CONFIG", None)
        os.environ.pop("DCACTL_DB", None)
        os.environ["DCACTL_HOME"] = str(workdir)  # request-pacing windows too stay in the demo's folder
        run(["markets"], workdir)
        run(["run", "--dry-run"], workdir)
        run(["run"], workdir)
        run(["run"], workdir)  # same period: nothing is due, nothing is bought twice
        run(["status"], workdir)
        run(["history", "--limit", "10"], workdir)
        orders = devnet.admin.orders()
        print(f"\nThe devnet received {len(orders)} orders in all (one per listed asset).")
        if opts.keep:
            try:
                input(f"devnet still running at {devnet.url}; press Enter to stop it ")
            except EOFError:  # no terminal to wait on (input from a pipe or /dev/null): stop it now
                print()
    print(f"\nDone. The demo's portfolio and ledger are in {workdir}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
