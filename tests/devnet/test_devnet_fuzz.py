"""Random JSON at /info and /exchange never produces a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcactl.devnet.control import DevnetThread

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["0x" + "ab" * 20, "0x" + "00" * 16, "@142", "1d", "Ioc", "12.5"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "user",
                    "coin",
                    "oid",
                    "req",
                    "a",
                    "b",
                    "p",
                    "s",
                    "t",
                    "c",
                    "orders",
                    "startTime",
                    "interval",
                    "limit",
                    "tif",
                    "grouping",
                    "cancels",
                    "o",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
_info_types = st.sampled_from(
    [
        "allMids",
        "l2Book",
        "candleSnapshot",
        "orderStatus",
        "userFillsByTime",
        "spotClearinghouseState",
        "userRole",
        "openOrders",
        "historicalOrders",
        "nope",
    ]
)
_actions = st.sampled_from(["order", "cancel", "cancelByCloid", "approveAgent", "noop", "nope"])


def test_fuzz_never_500() -> None:
    """Arbitrary bodies get 200 or 422 from /info and /exchange, never 500."""
    with DevnetThread() as dn, httpx.Client(base_url=dn.url, timeout=10) as http:

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            kind=_info_types,
            extra=st.dictionaries(
                st.sampled_from(["user", "coin", "oid", "req", "startTime", "endTime"]), _json, max_size=3
            ),
        )
        def info_body(kind: str, extra: dict[str, Any]) -> None:
            r = http.post("/info", json={"type": kind, **extra})
            assert r.status_code in (200, 422), r.text
            assert "Traceback" not in r.text

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            kind=_actions,
            action=st.dictionaries(
                st.sampled_from(
                    [
                        "orders",
                        "cancels",
                        "grouping",
                        "agentAddress",
                        "signatureChainId",
                        "hyperliquidChain",
                        "nonce",
                    ]
                ),
                _json,
                max_size=3,
            ),
            nonce=_scalars,
            sig=_json,
        )
        def exchange_body(kind: str, action: dict[str, Any], nonce: Any, sig: Any) -> None:
            r = http.post(
                "/exchange", json={"action": {"type": kind, **action}, "nonce": nonce, "signature": sig}
            )
            assert r.status_code in (200, 422), r.text

        info_body()
        exchange_body()
