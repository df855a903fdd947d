"""IP addresses: allow-list matching (IPv4, IPv6, IPv4-mapped IPv6) and the client address behind
trusted proxies.

`X-Forwarded-For` is honoured only when the direct peer is a trusted proxy (an explicit setting,
empty by default). Then the chain is read from the right: the right-most address that is not
itself a trusted proxy is the client; anything left of it was written by the client and proves
nothing.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str | None) -> Address | None:
    """An address, with IPv4-mapped IPv6 (`::ffff:192.0.2.1`) taken as the IPv4 it carries."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=64)
def networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def in_networks(address: Address, cidrs: Iterable[str]) -> bool:
    # An IPv4 address is never "in" an IPv6 network (and vice versa): `in` just says False.
    return any(address in network for network in networks(tuple(cidrs)))


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted_proxies: Sequence[str]
) -> str | None:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the right-most
    `X-Forwarded-For` entry that is not a trusted proxy (all headers joined in order)."""
    address = parse_ip(peer)
    if address is None or not trusted_proxies or not in_networks(address, trusted_proxies):
        return str(address) if address else peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = parse_ip(hop)
        if hop_address is None:
            # Garbage in the chain: stop at the last address we could trust.
            break
        address = hop_address
        if not in_networks(hop_address, trusted_proxies):
            break
    return str(address)
