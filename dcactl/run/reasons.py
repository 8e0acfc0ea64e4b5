"""How a run words a failure, shared by the shell, the core and the executor (pure).

A :class:`Failure` is temporary when a later run may succeed (the exchange unreachable, a timeout);
its text then starts with ``temporary:``. When every attempted asset failed that way the run exits 3
(:func:`dcactl.run.execute.exit_code_for` reads :attr:`dcactl.models.AssetResult.temporary`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dcactl.errors import TemporaryError

ASSET_TIMEOUT_S = 20.0
"""Each asset's reads must finish within this many seconds; a slow asset fails alone."""

TEMPORARY = "temporary: "


@dataclass(frozen=True)
class Failure:
    """Why an asset failed: the sentence, and whether a later run may succeed (exit code 3)."""

    text: str
    temporary: bool = False

    def __str__(self) -> str:
        return f"{TEMPORARY}{self.text}" if self.temporary else self.text

    def about(self, what: str) -> Failure:
        """This failure, said of ``what`` (``price history unavailable: ...``)."""
        return Failure(f"{what}: {self.text}", self.temporary)


def failure_of(exc: BaseException) -> Failure:
    """The failure an exception stands for: our temporary errors and timeouts are temporary."""
    if isinstance(exc, TimeoutError):
        return Failure(f"timed out after {ASSET_TIMEOUT_S:g} s", temporary=True)
    return Failure(str(exc), temporary=isinstance(exc, TemporaryError))


def failure_reason(exc: BaseException) -> str:
    """A result's reason for an exception (``temporary: ...`` for a temporary one)."""
    return str(failure_of(exc))
