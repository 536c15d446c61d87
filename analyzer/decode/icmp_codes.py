"""What the codes of ICMP and ICMPv6 destination-unreachable errors say, and the errno Linux
gives a socket for each (net/ipv4/icmp.c icmp_err_convert, net/ipv6/icmp.c icmpv6_err_convert);
likewise time exceeded and parameter problem, which a TCP socket takes too (tcp_v4_err:
EHOSTUNREACH and EPROTO; icmpv6_err_convert the same)."""

from __future__ import annotations

from typing import Final

from analyzer.decode.headers import PROTO_TCP
from analyzer.decode.segment import PARAMETER_PROBLEM, TIME_EXCEEDED, Unreachable

# ICMP (IPv4) destination-unreachable codes: (what it says, the errno Linux reports).
ICMP_CODES: Final = {
    0: ("network unreachable", "ENETUNREACH"),
    1: ("host unreachable", "EHOSTUNREACH"),
    2: ("protocol unreachable", "ENOPROTOOPT"),
    3: ("port unreachable", "ECONNREFUSED"),
    4: ("fragmentation needed", "EMSGSIZE"),
    5: ("source route failed", "EOPNOTSUPP"),
    6: ("destination network unknown", "ENETUNREACH"),
    7: ("destination host unknown", "EHOSTDOWN"),
    8: ("source host isolated", "ENONET"),
    9: ("network administratively prohibited", "ENETUNREACH"),
    10: ("host administratively prohibited", "EHOSTUNREACH"),
    11: ("network unreachable for its TOS", "ENETUNREACH"),
    12: ("host unreachable for its TOS", "EHOSTUNREACH"),
    13: ("communication administratively prohibited", "EHOSTUNREACH"),
    14: ("host precedence violation", "EHOSTUNREACH"),
    15: ("precedence cutoff in effect", "EHOSTUNREACH"),
}
ICMPV6_CODES: Final = {
    0: ("no route to destination", "ENETUNREACH"),
    1: ("communication administratively prohibited", "EACCES"),
    2: ("beyond the scope of the source address", "EHOSTUNREACH"),
    3: ("address unreachable", "EHOSTUNREACH"),
    4: ("port unreachable", "ECONNREFUSED"),
    5: ("source address failed ingress/egress policy", "EACCES"),
    6: ("reject route to destination", "EACCES"),
}
FRAGMENTATION_NEEDED: Final = 4  # IPv4 only: path MTU discovery, no refusal
# Time exceeded's codes, the same in ICMP and ICMPv6 (RFC 792, RFC 4443).
TIME_EXCEEDED_CODES: Final = {0: "in transit", 1: "in fragment reassembly"}


def _known(error: Unreachable) -> tuple[str, str] | None:
    if error.kind == TIME_EXCEEDED:  # EHOSTUNREACH whatever its code (tcp_v4_err)
        said = TIME_EXCEEDED_CODES.get(error.code)
        if said is None:
            return f"time exceeded (code {error.code})", "EHOSTUNREACH"
        ran_out = " (its TTL ran out)" if error.family == 4 else " (its hop limit ran out)"
        return f"time exceeded {said}{ran_out if error.code == 0 else ''}", "EHOSTUNREACH"
    if error.kind == PARAMETER_PROBLEM:
        return f"parameter problem (code {error.code})", "EPROTO"
    return (ICMP_CODES if error.family == 4 else ICMPV6_CODES).get(error.code)


def kind_name(error: Unreachable) -> str:
    """The JSON's name of what the error says."""
    if error.kind == TIME_EXCEEDED:
        return "time_exceeded"
    if error.kind == PARAMETER_PROBLEM:
        return "parameter_problem"
    if error.too_big:  # path MTU discovery's: ICMPv6's Packet Too Big, IPv4's code 4
        return "packet_too_big" if error.family == 6 else "fragmentation_needed"
    return "destination_unreachable"


def describe(error: Unreachable) -> str:
    """ "ICMP port unreachable", "ICMPv6 communication administratively prohibited", "ICMPv6
    packet too big (MTU 1280)"."""
    if error.too_big:
        if error.family == 4:
            mtu = f"next-hop MTU {error.path_mtu}" if error.path_mtu else "no next-hop MTU given"
            return f"ICMP fragmentation needed ({mtu})"
        return f"ICMPv6 packet too big ({f'MTU {error.path_mtu}' if error.path_mtu else 'no MTU given'})"
    known = _known(error)
    what = known[0] if known is not None else f"destination unreachable (code {error.code})"
    return f"{'ICMP' if error.family == 4 else 'ICMPv6'} {what}"


def errno_of(error: Unreachable) -> str | None:
    """What Linux reports to the socket; a TCP socket takes a path MTU error in silence (it
    lowers its MSS and resends: tcp_v4_mtu_reduced, tcp_v6_mtu_reduced)."""
    if error.too_big and error.protocol == PROTO_TCP:
        return None
    if error.too_big and error.family == 6:
        return "EMSGSIZE"
    known = _known(error)
    return known[1] if known is not None else None
