"""How a run words a failure, shared by the planning stages and the executor (pure).

A reason that starts with ``temporary:`` marks a failure worth retrying; when every attempted asset
failed that way the run exits 3 (:func:`dcactl.run.execute.exit_code_for`).
"""

from __future__ import annotations

from dcactl.errors import TemporaryError

ASSET_TIMEOUT_S = 20.0
"""Each asset's reads must finish within this many seconds; a slow asset fails alone."""


def failure_reason(exc: BaseException) -> str:
    """A result's reason for an exception; temporary ones start with ``temporary:`` (exit code 3)."""
    if isinstance(exc, TimeoutError):
        return f"temporary: timed out after {ASSET_TIMEOUT_S:g} s"
    prefix = "temporary: " if isinstance(exc, TemporaryError) else ""
    return f"{prefix}{exc}"
