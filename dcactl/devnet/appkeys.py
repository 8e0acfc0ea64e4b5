"""The application's shared control object (world, faults, limiter, persistence)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from dcactl.devnet import state as state_mod
from dcactl.devnet.faults import Faults, RateLimiter
from dcactl.devnet.world import World

__all__ = ["CTL", "Control"]

log = logging.getLogger("dcactl.devnet")


@dataclass
class Control:
    """Per-app state: the World plus the machinery around it."""

    world: World
    rate_limit: bool = True
    state: Path | None = None
    # fault dice, not cryptography
    faults: Faults = field(default_factory=lambda: Faults(random.Random(0)))  # noqa: S311
    limiter: RateLimiter = field(default_factory=RateLimiter)
    dirty: bool = False
    kept_funds: list[str] = field(default_factory=list)  # --fund addresses the state already held

    def save(self) -> None:
        """Write the state file when there is one (errors are logged, never raised to a client)."""
        if self.state is None:
            return
        try:
            state_mod.save(self.world, self.state)
            self.dirty = False
        except Exception:  # a full disk must not kill the exchange
            log.exception("devnet: could not save state to %s", self.state)


CTL: web.AppKey[Control] = web.AppKey("devnet_control", Control)
