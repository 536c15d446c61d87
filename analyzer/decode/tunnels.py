"""Tunnels: where the inner IP packet starts inside GRE and the UDP encapsulations.

Each reader takes the offset just past the outer header (GRE's own header, or the UDP
header) and returns the inner IP header's offset and the tunnel's name, or None when the
payload is not a tunnelled IP packet (a VXLAN port carrying something else stays a UDP
datagram). IP in IP (protocols 4 and 41) needs no reader: the inner header follows the
outer one (decode/ip_tcp.py). Layouts: GRE RFC 2784/2890 and PPTP's RFC 2637, ERSPAN as
Wireshark's packet-erspan.c reads types I, II and III, GRE-in-UDP RFC 8086, VXLAN RFC 7348,
VXLAN-GPE, GENEVE RFC 8926, Teredo RFC 4380, AYIYA, GTP-U (3GPP TS 29.281), L2TPv2 RFC 2661.

The names are those the connection reports (`tunnel`), the same whichever decoder read it.
"""

from __future__ import annotations

from typing import Final

from analyzer.decode.fields import u16
from analyzer.decode.headers import (
    IPV6_ADDRESS,
    IPV6_HEADER,
    IPV6_NEXT_HEADER,
    IPV6_PAYLOAD_LENGTH,
    IPV6_SOURCE,
    PROTO_TCP,
)
from analyzer.decode.link_layer import after_ethertype, after_mpls, ethernet_at, ppp_at
from analyzer.decode.undecodable import Undecodable

# GRE flags (first 16 bits) and the protocols it carries besides ethertypes.
GRE_CHECKSUM: Final = 0x8000
GRE_ROUTING: Final = 0x4000
GRE_KEY: Final = 0x2000
GRE_SEQUENCE: Final = 0x1000
GRE_ACK: Final = 0x0080  # version 1 (PPTP) only
GRE_VERSION: Final = 0x0007
GRE_HEADER: Final = 4
GRE_TEB: Final = 0x6558  # transparent Ethernet bridging: an Ethernet frame
GRE_ERSPAN_I_II: Final = 0x88BE  # type II has a sequence number and an 8-byte header
GRE_ERSPAN_III: Final = 0x22EB
GRE_PPP: Final = 0x880B  # PPTP
GRE_WCCP: Final = 0x883E  # a 4-byte redirect header, unless an IP header comes at once
ERSPAN_II_HEADER: Final = 8
ERSPAN_III_HEADER: Final = 12
ERSPAN_III_PLATFORM: Final = 8  # follows when the O bit (the header's last bit) is set
WCCP_HEADER: Final = 4

# UDP ports of the encapsulations read here.
PORT_VXLAN: Final = 4789
PORT_VXLAN_LINUX: Final = 8472  # Linux's default before IANA's port (`ip link ... type vxlan`)
PORT_VXLAN_GPE: Final = 4790
PORT_GENEVE: Final = 6081
PORT_GRE_IN_UDP: Final = 4754
PORT_TEREDO: Final = 3544
PORT_AYIYA: Final = 5072
PORT_GTP_U: Final = 2152
PORT_L2TP: Final = 1701
PORT_LISP_DATA: Final = 4341  # LISP's data plane (RFC 9300): an 8-byte header, then IP
PORT_MPLS_UDP: Final = 6635  # MPLS in UDP (RFC 7510): a label stack, then IP
LISP_HEADER: Final = 8
UDP_TUNNEL_PORTS: Final = frozenset(
    (
        PORT_VXLAN,
        PORT_VXLAN_LINUX,
        PORT_VXLAN_GPE,
        PORT_GENEVE,
        PORT_GRE_IN_UDP,
        PORT_TEREDO,
        PORT_AYIYA,
        PORT_GTP_U,
        PORT_L2TP,
        PORT_LISP_DATA,
        PORT_MPLS_UDP,
    )
)

VXLAN_HEADER: Final = 8
VXLAN_VNI_VALID: Final = 0x08  # the I flag
GPE_NEXT: Final = 3  # VXLAN-GPE's next-protocol byte: 1 IPv4, 2 IPv6, 3 Ethernet
GENEVE_HEADER: Final = 8
TEREDO_AUTH: Final = 0x0001  # an authentication indicator precedes the IPv6 packet
TEREDO_ORIGIN: Final = 0x0000  # an 8-byte origin indication does
TEREDO_ORIGIN_LENGTH: Final = 8
TEREDO_AUTH_FIXED: Final = 4 + 8 + 1  # indicator and lengths, nonce, confirmation
TEREDO_PREFIX: Final = b"\x20\x01\x00\x00"  # 2001:0::/32, a Teredo client's addresses
AYIYA_FIXED: Final = 8  # four bytes of lengths and kinds, then the epoch time
AYIYA_FORWARD: Final = 1
GTP_HEADER: Final = 8
GTP_OPTIONAL: Final = 4  # sequence, N-PDU number, next extension type
GTP_G_PDU: Final = 0xFF
GTP_EXTENSION: Final = 0x04
GTP_ANY_OPTIONAL: Final = 0x07
L2TP_CONTROL: Final = 0x8000
L2TP_LENGTH: Final = 0x4000
L2TP_SEQUENCE: Final = 0x0800
L2TP_OFFSET: Final = 0x0200
L2TP_VERSION_2: Final = 2

Inner = tuple[int, str]  # the inner IP header's offset, the tunnel's name


def _ip_at(data: bytes, at: int) -> bool:
    return len(data) > at and data[at] >> 4 in (4, 6)


def gre(data: bytes, at: int, name: str = "GRE") -> Inner | None:
    if len(data) < at + GRE_HEADER:
        return None
    flags, protocol = u16(data, at), u16(data, at + 2)
    version = flags & GRE_VERSION
    if version > 1:
        raise Undecodable(f"GRE version {version}")
    inner = at + GRE_HEADER
    if flags & (GRE_CHECKSUM | GRE_ROUTING):
        inner += 4
    if flags & GRE_KEY:
        inner += 4
    if flags & GRE_SEQUENCE:
        inner += 4
    if version == 1 and flags & GRE_ACK:
        inner += 4
    if flags & GRE_ROUTING:  # source route entries, up to an empty one
        while True:
            if len(data) < inner + 4:
                return None
            length = data[inner + 3]
            inner += 4 + length
            if length == 0:
                break
    if protocol == GRE_TEB:
        found = ethernet_at(data, inner)
    elif protocol == GRE_ERSPAN_I_II:
        # Type I has no header of its own: no sequence number tells it from type II.
        found = ethernet_at(data, inner + (ERSPAN_II_HEADER if flags & GRE_SEQUENCE else 0))
        name = "ERSPAN"
    elif protocol == GRE_ERSPAN_III:
        if len(data) < inner + ERSPAN_III_HEADER:
            return None
        extra = ERSPAN_III_PLATFORM if data[inner + ERSPAN_III_HEADER - 1] & 0x01 else 0
        found = ethernet_at(data, inner + ERSPAN_III_HEADER + extra)
        name = "ERSPAN"
    elif protocol == GRE_PPP:
        found = ppp_at(data, inner)
    elif protocol == GRE_WCCP:
        found = inner if _ip_at(data, inner) else inner + WCCP_HEADER
    else:
        found = after_ethertype(data, protocol, inner)
        if found is None:
            raise Undecodable(f"GRE carrying protocol 0x{protocol:04x}")
    return None if found is None else (found, name)


def udp_tunnel(data: bytes, at: int, length: int, sport: int, dport: int) -> Inner | None:
    """The encapsulation named by the destination port, else by the source port (a reply);
    `at` is the UDP payload, `length` its length."""
    if length <= 0:
        return None
    for port in (dport, sport):
        found = _by_port(data, at, port)
        if found is not None:
            return found
    return None


def carries_data(data: bytes, at: int, sport: int, dport: int) -> bool:
    """Whether the UDP payload at `at` begins with a whole tunnel header that says a packet
    follows, by its port: VXLAN's with its VNI flag, VXLAN-GPE's, GENEVE's version 0, GTP-U's
    G-PDU, an L2TPv2 data message, GRE in UDP. A cut datagram of one is a packet cut inside
    the inner headers; of anything else (a GTP echo, L2TP control, Teredo, AYIYA, whose
    headers say less), it is what it is."""
    for port in (dport, sport):
        if len(data) < at + 8:
            return False
        if port in (PORT_VXLAN, PORT_VXLAN_LINUX):
            return bool(data[at] & VXLAN_VNI_VALID)
        if port == PORT_VXLAN_GPE:
            return data[at + GPE_NEXT] in (1, 2, 3)
        if port == PORT_GENEVE:
            return data[at] >> 6 == 0
        if port == PORT_GTP_U:
            return data[at] >> 5 == 1 and data[at + 1] == GTP_G_PDU
        if port == PORT_L2TP:
            flags = u16(data, at)
            return not flags & L2TP_CONTROL and flags & 0x0F == L2TP_VERSION_2
        if port == PORT_GRE_IN_UDP:
            return u16(data, at) & GRE_VERSION == 0
    return False


def _by_port(data: bytes, at: int, port: int) -> Inner | None:
    if port in (PORT_VXLAN, PORT_VXLAN_LINUX):
        if len(data) < at + VXLAN_HEADER or not data[at] & VXLAN_VNI_VALID:
            return None
        found = ethernet_at(data, at + VXLAN_HEADER)
        return None if found is None else (found, "VXLAN")
    if port == PORT_VXLAN_GPE:
        if len(data) < at + VXLAN_HEADER:
            return None
        following = data[at + GPE_NEXT]
        inner = at + VXLAN_HEADER
        found = ethernet_at(data, inner) if following == 3 else inner if following in (1, 2) else None
        return None if found is None else (found, "VXLAN-GPE")
    if port == PORT_GENEVE:
        if len(data) < at + GENEVE_HEADER or data[at] >> 6 != 0:
            return None
        inner = at + GENEVE_HEADER + (data[at] & 0x3F) * 4
        protocol = u16(data, at + 2)
        found = ethernet_at(data, inner) if protocol == GRE_TEB else after_ethertype(data, protocol, inner)
        return None if found is None else (found, "GENEVE")
    if port == PORT_GRE_IN_UDP:
        return gre(data, at, "GRE-in-UDP")
    if port == PORT_TEREDO:
        return _teredo(data, at)
    if port == PORT_AYIYA:
        return _ayiya(data, at)
    if port == PORT_GTP_U:
        return _gtp_u(data, at)
    if port == PORT_L2TP:
        return _l2tp(data, at)
    if port == PORT_LISP_DATA:
        inner = at + LISP_HEADER
        return (inner, "LISP") if _ip_at(data, inner) else None
    if port == PORT_MPLS_UDP:
        found = after_mpls(data, at)
        return None if found is None else (found, "MPLS-in-UDP")
    return None


def _teredo(data: bytes, at: int) -> Inner | None:
    for _ in range(2):  # an authentication header, an origin indication, both or neither
        if len(data) < at + 2:
            return None
        indicator = u16(data, at)
        if indicator == TEREDO_AUTH and len(data) >= at + 4:
            at += TEREDO_AUTH_FIXED + data[at + 2] + data[at + 3]
        elif indicator == TEREDO_ORIGIN:
            at += TEREDO_ORIGIN_LENGTH
    if len(data) > at and data[at] >> 4 == 6:
        return at, "Teredo"
    return None


def teredo_on_any_port(data: bytes, at: int, length: int) -> Inner | None:
    """Teredo on another port than 3544 (a relay's: helper-123, Zeek's Teredo.pcap, 32900),
    found by what it holds, as Zeek does: an IPv6 packet (after an origin indication or an
    authentication header, if any) that fills the datagram, carries TCP, and has a Teredo
    address (2001:0::/32) at one end; random bytes (a QUIC short header's first is 0x40-0x7f)
    meet all three one time in 2^56."""
    if len(data) < at + IPV6_HEADER or data[at] >> 4 not in (0, 6):
        return None
    found = _teredo(data, at)
    if found is None:
        return None
    inner = found[0]
    if (
        len(data) < inner + IPV6_HEADER
        or u16(data, inner + IPV6_PAYLOAD_LENGTH) + IPV6_HEADER != at + length - inner
        or data[inner + IPV6_NEXT_HEADER] != PROTO_TCP
        or (
            data[inner + IPV6_SOURCE : inner + IPV6_SOURCE + 4] != TEREDO_PREFIX
            and data[inner + IPV6_SOURCE + IPV6_ADDRESS : inner + IPV6_SOURCE + IPV6_ADDRESS + 4]
            != TEREDO_PREFIX
        )
    ):
        return None
    return found


def _ayiya(data: bytes, at: int) -> Inner | None:
    if len(data) < at + AYIYA_FIXED:
        return None
    identity = 1 << (data[at] >> 4)
    signature = (data[at + 1] >> 4) * 4
    opcode, following = data[at + 2] & 0x0F, data[at + 3]
    inner = at + AYIYA_FIXED + identity + signature
    if opcode != AYIYA_FORWARD or following not in (4, 41) or not _ip_at(data, inner):
        return None
    return inner, "AYIYA"


def _gtp_u(data: bytes, at: int) -> Inner | None:
    if len(data) < at + GTP_HEADER:
        return None
    flags = data[at]
    if flags >> 5 != 1 or data[at + 1] != GTP_G_PDU:
        return None  # not version 1, or signalling (echo, error indication)
    inner = at + GTP_HEADER
    if flags & GTP_ANY_OPTIONAL:
        inner += GTP_OPTIONAL
        following = data[inner - 1] if flags & GTP_EXTENSION and len(data) >= inner else 0
        while following:  # extension headers: a length in 4-byte units, the next type last
            if len(data) <= inner or data[inner] == 0:
                return None
            size = data[inner] * 4
            if len(data) < inner + size:
                return None
            following = data[inner + size - 1]
            inner += size
    return (inner, "GTP-U") if _ip_at(data, inner) else None


def _l2tp(data: bytes, at: int) -> Inner | None:
    if len(data) < at + 6:
        return None
    flags = u16(data, at)
    if flags & L2TP_CONTROL or flags & 0x0F != L2TP_VERSION_2:
        return None
    inner = at + 2 + (2 if flags & L2TP_LENGTH else 0) + 4  # tunnel and session ids
    if flags & L2TP_SEQUENCE:
        inner += 4
    if flags & L2TP_OFFSET:
        if len(data) < inner + 2:
            return None
        inner += 2 + u16(data, inner)
    found = ppp_at(data, inner)
    return None if found is None else (found, "L2TP")
