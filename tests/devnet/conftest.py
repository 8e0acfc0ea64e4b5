"""Fixtures for devnet tests: a devnet in a thread, funded throwaway wallets, SDK clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info

from dcactl.devnet.control import DevnetThread


@pytest.fixture
def dn() -> Iterator[DevnetThread]:
    """A fresh devnet (seed 7, rate limit off) on a free loopback port."""
    with DevnetThread(seed=7) as d:
        yield d


@pytest.fixture
def wallet(dn: DevnetThread) -> LocalAccount:
    """A throwaway master key funded with 10 000 USDC."""
    w: LocalAccount = Account.create()
    dn.admin.fund(w.address, usdc="10000")
    return w


def _close(client: Any) -> None:
    client.session.close()


@pytest.fixture
def info(dn: DevnetThread) -> Iterator[Info]:
    """The official SDK's Info client pointed at the devnet (no websocket)."""
    i = Info(base_url=dn.url, skip_ws=True)
    yield i
    _close(i)


@pytest.fixture
def exchange(dn: DevnetThread, wallet: LocalAccount) -> Iterator[Exchange]:
    """The official SDK's Exchange client signing with `wallet`."""
    ex = Exchange(wallet, base_url=dn.url)
    yield ex
    _close(ex)
    _close(ex.info)


@pytest.fixture
def http(dn: DevnetThread) -> Iterator[httpx.Client]:
    """A raw HTTP client on the devnet."""
    with httpx.Client(base_url=dn.url, timeout=10) as c:
        yield c
