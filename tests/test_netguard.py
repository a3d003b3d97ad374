"""The network guard against the IANA special-purpose address registries (IPv4 and IPv6).

Every entry that is not globally reachable: a representative address is refused
(and accepted with ``allow_private_networks``); the entries the registries mark
globally reachable are accepted; IPv6 forms carrying an IPv4 address are judged
by that address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Config
from archiver.capture.fetch import Fetcher
from archiver.models import FetchResult
from archiver.capture.netguard import (
    IPV4_SPECIAL_PURPOSE, IPV6_SPECIAL_PURPOSE, ConnectFailure, GuardedBackend, IPAddress,
    allow_everything, is_public_address,
)  # fmt: skip

REGISTRY = [*IPV4_SPECIAL_PURPOSE, *IPV6_SPECIAL_PURPOSE]


def representative(block: str) -> IPAddress:
    """An address inside ``block`` and in no more specific entry of the registry."""
    network = ipaddress.ip_network(block)
    inner = [ipaddress.ip_network(b) for b, *_ in REGISTRY
             if b != block and ipaddress.ip_network(b).version == network.version
             and ipaddress.ip_network(b).subnet_of(network)]  # type: ignore[arg-type]
    candidates = [network[0], network[-1]]
    if network.num_addresses > 2:
        candidates += [network[1], network[network.num_addresses // 2 + 1]]
    for address in candidates:
        if not any(address in sub for sub in inner):
            return address
    raise AssertionError(block)


NOT_GLOBAL = [(block, name) for block, name, _, reachable in REGISTRY if reachable is not True]
GLOBAL = [(block, name) for block, name, _, reachable in REGISTRY if reachable is True and block != "64:ff9b::/96"]


def vet(address: IPAddress, *, allow_private: bool) -> str | None:
    backend = GuardedBackend(allow_everything if allow_private else is_public_address)
    try:
        backend.vet(f"host-{address}.test", [address])
    except ConnectFailure as exc:
        return exc.detail
    return None


@pytest.mark.parametrize(("block", "name"), NOT_GLOBAL, ids=[b for b, _ in NOT_GLOBAL])
def test_every_non_global_registry_entry_is_refused(block: str, name: str) -> None:
    address = representative(block)
    assert not is_public_address(address), (block, name, address)
    detail = vet(address, allow_private=False)
    assert detail is not None and str(address) in detail and name in detail
    assert vet(address, allow_private=True) is None


@pytest.mark.parametrize(("block", "name"), GLOBAL, ids=[b for b, _ in GLOBAL])
def test_globally_reachable_registry_entries_are_public(block: str, name: str) -> None:
    assert is_public_address(representative(block)), (block, name)


@pytest.mark.parametrize("text", [
    "fec0::1",  # site-local (deprecated, RFC 3879): Python knows it, the registry does not list it
    "192.0.0.8",  # IPv4 dummy address
    "192.0.0.170", "192.0.0.171",  # NAT64/DNS64 discovery
    "192.88.99.1",  # deprecated 6to4 relay anycast
    "64:ff9b:1::a",  # local-use IPv4/IPv6 translation
    "3fff::1", "5f00::1",  # documentation (RFC 9637), SRv6 SIDs
    "100:0:0:1::1",  # dummy IPv6 prefix
    "2002:808:808::1",  # 6to4 (N/A in the registry), even around a public IPv4 address
    "2001:10::1",  # deprecated ORCHID
    "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of 10.0.0.1, 127.0.0.1, 169.254.169.254
    "ff0e::1", "224.0.0.251", "::8.8.8.8",  # multicast, IPv4-compatible (reserved ::/8)
])
def test_addresses_the_guard_used_to_let_through_or_must_keep_refusing(text: str) -> None:
    assert not is_public_address(ipaddress.ip_address(text)), text


@pytest.mark.parametrize("text", [
    "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
    "64:ff9b::808:808",  # NAT64 of a public address (an IPv6-only network with DNS64)
    "192.0.0.9", "2001:4:112::1",  # globally reachable by the registries
])
def test_public_addresses_stay_public(text: str) -> None:
    assert is_public_address(ipaddress.ip_address(text)), text


def test_fetch_of_a_name_resolving_to_site_local_is_refused(config: Config, tmp_path: Path) -> None:
    """Through the fetcher, no connection attempted: the guard refuses before connecting."""

    async def go() -> FetchResult:
        async with Fetcher(replace(config.fetch, allow_private_networks=False), temp_dir=tmp_path,
                           resolver=lambda host, port: ["fec0::1"]) as fetcher:
            return await fetcher.fetch("http://intranet.example/")

    result = asyncio.run(go())
    assert result.error == "private-network" and "fec0::1" in result.detail and "site-local" in result.detail
