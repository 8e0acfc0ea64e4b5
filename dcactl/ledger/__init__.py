"""The SQLite ledger: the user's lasting record of runs, order intents, fills, caches and cursors.

- ``codec``: exact money/time encoding (decimal text + integer companions summable in SQL).
- ``migrations``: append-only named migrations and the checks made before anything is written.
- ``base``/``fills``/``ledger``: the :class:`Ledger` (opening, fills and statistics, everything else).

Usage::

    with Ledger.open(path, network="devnet", account="0xabc…") as ledger:
        ledger.add_fills(fills)
        rows = ledger.positions()
"""

from dcactl.ledger.ledger import Ledger
from dcactl.ledger.records import Candle, DuplicateIntent, LastBuyRecord, PositionRow, TradeRow

__all__ = ["Candle", "DuplicateIntent", "LastBuyRecord", "Ledger", "PositionRow", "TradeRow"]
