"""Stage timestamps of one command, so a run can say where its time went (``run --json`` has them
under ``timings``; ``-v`` prints one line).

A run marks ``first_request`` (the first HTTP request leaving), ``signer_ready`` (the key made a
signer, here or in the signing process), ``reads_done`` (the last answer of the read round),
``decided``, ``order_sent`` (the signed order action leaving: only sending is left),
``order_answered`` and ``recorded``. :func:`report` turns them into the figures that matter:
start-up (to the first request), book-to-order (from the book read to the order leaving: the age of
the price an order carries) and what remains after the exchange's answer. Marks use
``time.perf_counter``; the clock starts when this module is first imported (the CLI imports it
first) or at :func:`reset`.
"""

from __future__ import annotations

import time

_START = time.perf_counter()
_MARKS: dict[str, float] = {}
_FRESH = True


def reset() -> None:
    """A new command: forget the marks; the first call keeps the import instant as the start."""
    global _START, _FRESH
    if not _FRESH:
        _START = time.perf_counter()
    _FRESH = False
    _MARKS.clear()


def mark(name: str) -> None:
    """Note that stage ``name`` happened now (the first time only: later ones keep the first)."""
    _MARKS.setdefault(name, time.perf_counter())


def report() -> dict[str, float]:
    """Milliseconds since the start for every mark, then the derived spans (``startup_ms``,
    ``book_to_order_ms``, ``after_answer_ms`` up to now) where their marks exist."""
    now = time.perf_counter()
    out = {f"{name}_ms": round((at - _START) * 1000, 1) for name, at in _MARKS.items()}
    spans = (("startup_ms", None, "first_request"), ("book_to_order_ms", "reads_done", "order_sent"),
             ("after_answer_ms", "order_answered", None))
    for label, a, b in spans:
        if (a is None or a in _MARKS) and (b is None or b in _MARKS):
            t0 = _START if a is None else _MARKS[a]
            t1 = now if b is None else _MARKS[b]
            out[label] = round((t1 - t0) * 1000, 1)
    return out
