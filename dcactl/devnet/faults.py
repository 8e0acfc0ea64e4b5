"""Fault injection and the per-IP rate limiter.

A fault rule (JSON object, see docs/devnet.md) has a `kind` — latency, error (5xx), 429, hang,
drop, answer (the request is carried out, then `status` and `body` are answered instead, as a proxy
or gateway in between might) — and optional targeting: `path` ("/info", "/exchange",
"/coingecko"), `types` (info or action types), `count` (how many matching requests it affects,
then it is gone) and `share` (the probability of affecting a matching request, drawn from the
seeded RNG).
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "Fault", "Faults", "RateLimiter"]

KINDS = ("latency", "error", "429", "hang", "drop", "answer")


@dataclass
class Fault:
    """One injected fault. Times in ms; `hang_ms` defaults to 60 s (past any sane client timeout)."""

    kind: str
    path: str | None = None
    types: list[str] | None = None
    count: int | None = None
    share: float = 1.0
    ms: int = 0
    jitter_ms: int = 0
    status: int = 500
    hang_ms: int = 60_000
    after: bool = False  # hang: process the request first, then hang before replying
    body: str | None = None  # answer: the body sent instead of the real answer
    content_type: str = "application/json"  # answer: its Content-Type

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Fault:
        """A Fault from its JSON spec; raises ValueError naming the bad field."""
        kind = str(spec.get("kind"))
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        known = set(cls.__dataclass_fields__)
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        f = cls(**spec)
        if f.types is not None and not isinstance(f.types, list):
            raise ValueError("types must be a list")
        if kind == "error" and not 500 <= f.status <= 599:
            raise ValueError("status must be 5xx")
        if kind == "answer" and not 200 <= f.status <= 599:
            raise ValueError("status must be an HTTP status (200-599)")
        return f

    def matches(self, path: str, kind: str | None) -> bool:
        """Whether this rule targets a request to `path` of type `kind`."""
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.types is None or kind in self.types

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON (what GET /devnet/faults lists)."""
        return dict(self.__dict__)


@dataclass
class Faults:
    """The active fault rules, consumed in order."""

    rng: random.Random
    rules: list[Fault] = field(default_factory=list)

    def pick(self, path: str, kind: str | None, kinds: tuple[str, ...]) -> list[Fault]:
        """The rules of `kinds` that fire for this request (count decremented, spent rules removed)."""
        fired: list[Fault] = []
        for rule in list(self.rules):
            if rule.kind not in kinds or not rule.matches(path, kind):
                continue
            if rule.share < 1.0 and self.rng.random() >= rule.share:
                continue
            fired.append(rule)
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
        return fired

    def delay_ms(self, rule: Fault) -> float:
        """The latency a latency rule adds now."""
        return rule.ms + (self.rng.uniform(-rule.jitter_ms, rule.jitter_ms) if rule.jitter_ms else 0.0)


@dataclass
class RateLimiter:
    """1200 weight per rolling minute per IP (the published REST budget)."""

    budget: int = 1_200
    window_s: float = 60.0
    used: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    sums: dict[str, int] = field(default_factory=dict)

    def charge(self, ip: str, weight: int) -> bool:
        """Add `weight` for `ip`; False (and nothing charged) when that would exceed the budget."""
        now = time.monotonic()
        q = self.used.setdefault(ip, deque())
        total = self.sums.get(ip, 0)
        while q and q[0][0] <= now - self.window_s:
            total -= q.popleft()[1]
        if total + weight > self.budget:
            self.sums[ip] = total
            return False
        q.append((now, weight))
        self.sums[ip] = total + weight
        return True

    def add(self, ip: str, weight: int) -> None:
        """Charge extra weight after the fact (items returned); may go over budget."""
        q = self.used.setdefault(ip, deque())
        q.append((time.monotonic(), weight))
        self.sums[ip] = self.sums.get(ip, 0) + weight
