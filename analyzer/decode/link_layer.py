"""Link-layer headers: find where the IP packet starts in a frame.

One small function per link type, each returning the offset of the IP header (or None when
the frame carries no IP: ARP, spanning tree, 802.11 management). The IP version is read from
the IP header itself, so a link header only needs to be skipped, not trusted. What could
hold IP but cannot be read (encrypted 802.11, PPP with compressed headers) raises
Undecodable, so the reader counts it by name instead of skipping it unsaid.

Layouts are those of libpcap's link-type list (tcpdump.org/linktypes.html) and of
Wireshark's dissectors for the same types; an Ethernet-like header ends in an ethertype,
and `after_ethertype` follows the chain from there: VLAN and QinQ tags, MPLS labels (with
an Ethernet pseudowire below them), PPPoE sessions, 802.1ah PBB, Cisco FabricPath, VN-Tag
and E-Tag, and 802.3 frames with an LLC/SNAP header.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from analyzer.decode.fields import u16, u32
from analyzer.decode.undecodable import Undecodable

ETHERTYPE_IPV4: Final = 0x0800
ETHERTYPE_IPV6: Final = 0x86DD
ETHERTYPE_VLAN: Final = (0x8100, 0x88A8, 0x9100, 0x9200)
ETHERTYPE_MPLS: Final = (0x8847, 0x8848)
ETHERTYPE_PPPOE_SESSION: Final = 0x8864
ETHERTYPE_PBB: Final = 0x88E7  # 802.1ah: a 4-byte I-TAG, then the customer's MACs and ethertype
ETHERTYPE_FABRICPATH: Final = 0x8903  # Cisco FabricPath: 2 bytes FTag/TTL, then an Ethernet frame
ETHERTYPE_VN_TAG: Final = 0x8926  # 4 bytes, then the ethertype
ETHERTYPE_E_TAG: Final = 0x893F  # 802.1BR: 6 bytes, then the ethertype
ETHERTYPE_MACSEC: Final = 0x88E5  # 802.1AE: a SecTAG, then (not encrypted) the ethertype
ETHERTYPE_NSH: Final = 0x894F  # RFC 8300 network service header: its length, then its next protocol
MACSEC_SECTAG: Final = 6  # TCI/AN, short length, packet number
MACSEC_SCI: Final = 8  # the secure channel identifier, where the TCI's SC bit says so
MACSEC_SC: Final = 0x20
MACSEC_ENCRYPTED: Final = 0x08  # the TCI's E bit: the payload is encrypted (with C, changed)
NSH_NEXT_IPV4: Final = 1
NSH_NEXT_IPV6: Final = 2
NSH_NEXT_ETHERNET: Final = 3
ETHERTYPE_MAX_LENGTH: Final = 0x0600  # below: an 802.3 length field, an LLC header follows

LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_IEEE802_5: Final = 6  # token ring
LINKTYPE_PPP: Final = 9
LINKTYPE_FDDI: Final = 10
LINKTYPE_RAW_BSD = (12, 14)
LINKTYPE_PPP_HDLC: Final = 50
LINKTYPE_PPP_ETHER: Final = 51  # PPPoE, without the Ethernet header
LINKTYPE_ATM_RFC1483: Final = 100
LINKTYPE_RAW: Final = 101
LINKTYPE_C_HDLC: Final = 104
LINKTYPE_IEEE802_11: Final = 105
LINKTYPE_LOOP: Final = 108
LINKTYPE_ENC: Final = 109
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_PFLOG: Final = 117
LINKTYPE_IEEE802_11_PRISM: Final = 119
LINKTYPE_IEEE802_11_RADIOTAP: Final = 127
LINKTYPE_APPLE_IP_OVER_IEEE1394: Final = 138
LINKTYPE_IEEE802_11_AVS: Final = 163
LINKTYPE_PPI: Final = 192
LINKTYPE_PPP_WITH_DIR: Final = 204
LINKTYPE_C_HDLC_WITH_DIR: Final = 205
LINKTYPE_MPLS: Final = 219
LINKTYPE_IPNET: Final = 226
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_NFLOG: Final = 239
LINKTYPE_NETANALYZER: Final = 240
LINKTYPE_NETANALYZER_TRANSPARENT: Final = 241
LINKTYPE_IPOIB: Final = 242
LINKTYPE_PKTAP: Final = 258
LINKTYPE_ETHERNET_MPACKET: Final = 274
LINKTYPE_LINUX_SLL2: Final = 276

# Header lengths, and where each header says what follows it.
ETHERNET_HEADER: Final = 14
ETHERNET_TYPE: Final = 12
MAC_PAIR: Final = 12  # destination and source MAC
VLAN_TAG: Final = 4  # the tag control, then the ethertype of what follows
VLAN_TYPE: Final = 2
MPLS_LABEL: Final = 4
MPLS_BOTTOM_OF_STACK: Final = 2  # the byte whose lowest bit marks the last label
PW_CONTROL_WORD: Final = 4  # an Ethernet pseudowire's first nibble is 0 (RFC 4385)
PPPOE_HEADER: Final = 6  # version/type, code, session id, length; then the PPP protocol
PBB_I_TAG: Final = 4
FABRICPATH_FTAG: Final = 2
VN_TAG: Final = 4
E_TAG: Final = 6
LLC_SNAP: Final = 8  # AA AA 03, a 3-byte OUI, then the ethertype
SLL_HEADER: Final = 16
SLL_PROTOCOL: Final = 14
SLL2_HEADER: Final = 20
SLL2_PROTOCOL: Final = 0
SLL2_IFINDEX: Final = 4  # after the protocol and a reserved field: the interface's index
BSD_FAMILY: Final = 4  # BSD loopback: the address family of what follows, 4 bytes
FDDI_HEADER: Final = 13  # frame control, destination, source; then LLC
TOKEN_RING_HEADER: Final = 14  # access and frame control, destination, source
TOKEN_RING_ROUTED: Final = 0x80  # in the source's first byte: routing information follows
C_HDLC_HEADER: Final = 4  # address, control, then an ethertype
ENC_HEADER: Final = 12  # OpenBSD enc: address family, SPI, flags
IPNET_HEADER: Final = 24  # Solaris ipnet
IPOIB_TYPE: Final = 40  # after the 40-byte address pseudo-header: ethertype, 2 reserved bytes
IPOIB_HEADER: Final = 44
IEEE1394_HEADER: Final = 18  # destination, source (8 bytes each), ethertype
NETANALYZER_HEADER: Final = 4
NETANALYZER_PREAMBLE: Final = 8  # transparent mode keeps the preamble and the SFD
PRISM_LENGTH: Final = 4  # little-endian: the Prism header's length

# PPP protocol numbers (RFC 1661 and the assigned numbers).
PPP_IPV4: Final = 0x0021
PPP_IPV6: Final = 0x0057
PPP_MPLS: Final = 0x0281
PPP_VJ_COMPRESSED: Final = (0x002D, 0x002F)  # Van Jacobson compressed TCP/IP: no header to read
PPP_ADDRESS_CONTROL: Final = 0xFF03

# 802.11 frame control (IEEE 802.11-2020 9.2.4.1).
WLAN_DATA_TYPE: Final = 2
WLAN_HEADER: Final = 24
WLAN_ADDRESS4: Final = 6
WLAN_QOS_CONTROL: Final = 2
WLAN_HT_CONTROL: Final = 4
WLAN_TO_FROM_DS: Final = 0x03
WLAN_PROTECTED: Final = 0x40
WLAN_ORDER: Final = 0x80
WLAN_QOS_SUBTYPE: Final = 0x08
WLAN_NULL_SUBTYPE: Final = 0x04
WLAN_AMSDU: Final = 0x80  # in the QoS control's first byte

# BSD loopback address families: AF_INET is 2 everywhere, AF_INET6 differs by OS.
_BSD_AF_IP: Final = {2, 24, 28, 30}
# Solaris ipnet families.
_IPNET_AF_IP: Final = {2, 26}

# NFLOG: a 4-byte header, then TLVs (length, type, value) padded to 4 bytes.
NFLOG_HEADER: Final = 4
NFLOG_TLV_HEADER: Final = 4
NFULA_PAYLOAD: Final = 9
NLA_TYPE_MASK: Final = 0x3FFF  # a netlink attribute's type, less NLA_F_NESTED and NLA_F_NET_BYTEORDER
NFULA_TYPES: Final = 0x100  # NFULA_* types are far below it; read the other way, 1 is 0x100

# How deep a chain of tags and encapsulations is followed: a crafted frame must not loop.
MAX_LAYERS: Final = 16


def _ip_version_at(data: bytes, at: int) -> bool:
    return len(data) > at and data[at] >> 4 in (4, 6)


def _ip_of(data: bytes, ethertype: int, at: int) -> int:
    """`at`, where the IP header of the family a frame's own ethertype names begins: one of
    the other family's version there is tshark's bogus IP version, a malformed packet, not
    read as it. Only for the frame's own Ethernet header: a guessed reading (an MPLS
    pseudowire's) must be free to be wrong, and a tunnel's protocol field (GRE's 0x0800) is
    read by the version, as tshark reads it."""
    if len(data) > at:
        version, named = data[at] >> 4, 4 if ethertype == ETHERTYPE_IPV4 else 6
        if version in (4, 6) and version != named:  # neither 4 nor 6: ip_tcp names it
            raise Undecodable(f"IP version {version} under the IPv{named} ethertype")
    return at


def after_ethertype(data: bytes, ethertype: int, at: int) -> int | None:
    """The IP header's offset, given the ethertype read just before `at`; None if no IP."""
    for _ in range(MAX_LAYERS):
        if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):
            return at
        if ethertype in ETHERTYPE_VLAN:
            step, type_at = VLAN_TAG, VLAN_TYPE
        elif ethertype in ETHERTYPE_MPLS:
            return after_mpls(data, at)
        elif ethertype == ETHERTYPE_PPPOE_SESSION:
            return _ppp_protocol(data, at + PPPOE_HEADER)
        elif ethertype == ETHERTYPE_PBB:
            step, type_at = PBB_I_TAG + MAC_PAIR + 2, PBB_I_TAG + MAC_PAIR
        elif ethertype == ETHERTYPE_FABRICPATH:
            step, type_at = FABRICPATH_FTAG + ETHERNET_HEADER, FABRICPATH_FTAG + ETHERNET_TYPE
        elif ethertype == ETHERTYPE_VN_TAG:
            step, type_at = VN_TAG + 2, VN_TAG
        elif ethertype == ETHERTYPE_E_TAG:
            step, type_at = E_TAG + 2, E_TAG
        elif ethertype == ETHERTYPE_MACSEC:
            if len(data) < at + MACSEC_SECTAG:
                return None
            if data[at] & MACSEC_ENCRYPTED:
                raise Undecodable("MACsec (802.1AE) encrypted frames")
            step = MACSEC_SECTAG + (MACSEC_SCI if data[at] & MACSEC_SC else 0) + 2
            type_at = step - 2
        elif ethertype == ETHERTYPE_NSH:
            return nsh(data, at)
        elif ethertype < ETHERTYPE_MAX_LENGTH:
            return llc(data, at)
        else:
            return None  # ARP, LLDP and the like: no IP
        if len(data) < at + step:
            return None
        ethertype = u16(data, at + type_at)
        at += step
    raise Undecodable("more than 16 nested link-layer headers")


def nsh(data: bytes, at: int) -> int | None:
    """Below a network service header (RFC 8300: its length in 4-byte words, then its next
    protocol): the IP header's offset."""
    if len(data) < at + 4:
        return None
    inner, following = at + (data[at + 1] & 0x3F) * 4, data[at + 3]
    if following in (NSH_NEXT_IPV4, NSH_NEXT_IPV6):
        return inner
    if following == NSH_NEXT_ETHERNET:
        return ethernet_at(data, inner)
    raise Undecodable(f"NSH next protocol {following}")


def after_mpls(data: bytes, at: int) -> int | None:
    """Below the bottom label: IP (its version nibble says which), or an Ethernet pseudowire,
    behind a control word (first nibble 0) or not (RFC 4448 makes the word optional). Nothing
    but the first nibble tells them apart, and an Ethernet address may begin with any: the
    reading whose IP header holds is taken (as Wireshark's pseudowire heuristic tries each)."""
    while len(data) >= at + MPLS_LABEL:
        bottom = data[at + MPLS_BOTTOM_OF_STACK] & 0x01
        at += MPLS_LABEL
        if bottom:
            ip = _ip_version_at(data, at)
            if ip and _ip_header_holds(data, at):
                return at
            control_word = len(data) > at and data[at] >> 4 == 0
            for start in (at + PW_CONTROL_WORD, at) if control_word else (at,):
                inner = ethernet_at(data, start)
                if inner is not None and _ip_header_holds(data, inner):
                    return inner
            if ip:
                return at  # no Ethernet reading holds either: IP it is (its header cut short)
            if control_word and _other_ethertype(data, at + PW_CONTROL_WORD):
                return None  # a pseudowire's frame of another kind (ARP): no IP in it
            raise Undecodable("MPLS payload of unknown kind")
    return None


def _ip_header_holds(data: bytes, at: int) -> bool:
    """An IPv4 header whose own checksum holds (one cut by the snapshot length is taken as it
    is), or an IPv6 header whose payload length fits what was captured (or is 0: a
    jumbogram's, or segmentation offload's)."""
    if len(data) < at + 1:
        return False
    version = data[at] >> 4
    if version == 4:
        length = (data[at] & 0x0F) * 4
        if length < 20 or len(data) < at + length:
            return len(data) >= at + 20 and length >= 20  # cut by the snapshot length: trusted
        total = 0
        for i in range(at, at + length, 2):
            total += (data[i] << 8) | data[i + 1]
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        return total == 0xFFFF
    if version == 6:
        payload = u16(data, at + 4) if len(data) >= at + 40 else -1
        return payload == 0 or 0 < payload <= len(data) - at - 40
    return False


def _other_ethertype(data: bytes, at: int) -> bool:
    """An Ethernet header at `at` whose type is a real ethertype (not a length), not IP's."""
    return len(data) >= at + ETHERNET_HEADER and u16(data, at + ETHERNET_TYPE) >= ETHERTYPE_MAX_LENGTH


def llc(data: bytes, at: int) -> int | None:
    """An 802.2 LLC header: with SNAP (AA AA 03) its ethertype is followed, else no IP."""
    if len(data) < at + LLC_SNAP or data[at] != 0xAA or data[at + 1] != 0xAA or data[at + 2] != 0x03:
        return None
    return after_ethertype(data, u16(data, at + 6), at + LLC_SNAP)


def _ppp_protocol(data: bytes, at: int) -> int | None:
    """A PPP protocol field (one byte when compressed: its low bit set), then its packet."""
    if len(data) < at + 1:
        return None
    if data[at] & 0x01:
        protocol, at = data[at], at + 1
    elif len(data) >= at + 2:
        protocol, at = u16(data, at), at + 2
    else:
        return None
    if protocol in (PPP_IPV4, PPP_IPV6):
        return at
    if protocol == PPP_MPLS:
        return after_mpls(data, at)
    if protocol in PPP_VJ_COMPRESSED:
        raise Undecodable("PPP with Van Jacobson compressed TCP headers")
    return None


def ppp_at(data: bytes, at: int) -> int | None:
    """PPP, with or without the HDLC address and control bytes (FF 03)."""
    if len(data) >= at + 2 and u16(data, at) == PPP_ADDRESS_CONTROL:
        at += 2
    return _ppp_protocol(data, at)


def ethernet_at(data: bytes, at: int) -> int | None:
    if len(data) < at + ETHERNET_HEADER:
        return None
    ethertype = u16(data, at + ETHERNET_TYPE)
    if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):  # nearly every frame
        return at + ETHERNET_HEADER
    return after_ethertype(data, ethertype, at + ETHERNET_HEADER)


def ethernet(data: bytes) -> int | None:
    if len(data) >= ETHERNET_HEADER:
        ethertype = u16(data, ETHERNET_TYPE)
        if ethertype in (ETHERTYPE_IPV4, ETHERTYPE_IPV6):  # nearly every frame
            return _ip_of(data, ethertype, ETHERNET_HEADER)
    return ethernet_at(data, 0)


def linux_sll(data: bytes) -> int | None:
    if len(data) < SLL_HEADER:
        return None
    return after_ethertype(data, u16(data, SLL_PROTOCOL), SLL_HEADER)


def linux_sll2(data: bytes) -> int | None:
    if len(data) < SLL2_HEADER:
        return None
    return after_ethertype(data, u16(data, SLL2_PROTOCOL), SLL2_HEADER)


def bsd_null(data: bytes) -> int | None:
    # The family is in the byte order of the machine that captured: accept either.
    if len(data) < BSD_FAMILY:
        return None
    little, big = u32(data, 0, little=True), u32(data, 0)
    return BSD_FAMILY if little in _BSD_AF_IP or big in _BSD_AF_IP else None


def bsd_loop(data: bytes) -> int | None:
    if len(data) < BSD_FAMILY:
        return None
    return BSD_FAMILY if u32(data, 0) in _BSD_AF_IP else None


def raw_ip(data: bytes) -> int | None:
    return 0


def nflog(data: bytes) -> int | None:
    """NFLOG: the packet is the PAYLOAD TLV's value. The TLVs are in the byte order of the
    host that wrote them (Wireshark takes the file's); told here from the first TLV, read
    both ways: its type is below 256 (NFULA_*, past the two flag bits) and its length fits the
    frame, one way only where the two differ (the packet header TLV: type 1, 8 bytes)."""
    at = NFLOG_HEADER
    if len(data) < at + NFLOG_TLV_HEADER:
        return None
    big = not _nflog_tlv_fits(data, at, data[at] | data[at + 1] << 8, data[at + 2] | data[at + 3] << 8) and (
        _nflog_tlv_fits(data, at, u16(data, at), u16(data, at + 2))
    )
    while at + NFLOG_TLV_HEADER <= len(data):
        if big:
            length, kind = u16(data, at), u16(data, at + 2)
        else:
            length, kind = data[at] | data[at + 1] << 8, data[at + 2] | data[at + 3] << 8
        if length < NFLOG_TLV_HEADER:
            return None
        if kind == NFULA_PAYLOAD:
            return at + NFLOG_TLV_HEADER
        at += (length + 3) & ~3
    return None


def _nflog_tlv_fits(data: bytes, at: int, length: int, kind: int) -> bool:
    """Whether a TLV read so at `at` can be an NFLOG one."""
    return NFLOG_TLV_HEADER <= length <= len(data) - at and kind & NLA_TYPE_MASK < NFULA_TYPES


def fddi(data: bytes) -> int | None:
    return llc(data, FDDI_HEADER)


def token_ring(data: bytes) -> int | None:
    if len(data) < TOKEN_RING_HEADER + 1:
        return None
    at = TOKEN_RING_HEADER
    if data[8] & TOKEN_RING_ROUTED:  # the source address's first byte
        at += data[at] & 0x1F  # the routing field's own length
    return llc(data, at)


def ppp(data: bytes) -> int | None:
    return ppp_at(data, 0)


def ppp_with_direction(data: bytes) -> int | None:
    return ppp_at(data, 1)


def pppoe(data: bytes) -> int | None:
    return _ppp_protocol(data, PPPOE_HEADER)


def cisco_hdlc(data: bytes) -> int | None:
    if len(data) < C_HDLC_HEADER:
        return None
    return after_ethertype(data, u16(data, 2), C_HDLC_HEADER)


def cisco_hdlc_with_direction(data: bytes) -> int | None:
    if len(data) < C_HDLC_HEADER + 1:
        return None
    return after_ethertype(data, u16(data, 3), C_HDLC_HEADER + 1)


def atm_rfc1483(data: bytes) -> int | None:
    """LLC/SNAP encapsulation, or (VC multiplexing) the IP packet itself."""
    return 0 if _ip_version_at(data, 0) else llc(data, 0)


def mpls(data: bytes) -> int | None:
    return after_mpls(data, 0)


def openbsd_enc(data: bytes) -> int | None:
    return ENC_HEADER


def pflog(data: bytes) -> int | None:
    """OpenBSD pflog: the header's length in its first byte, padded to 4 bytes."""
    if not data:
        return None
    return (data[0] + 3) & ~3


def ipnet(data: bytes) -> int | None:
    if len(data) < IPNET_HEADER:
        return None
    return IPNET_HEADER if data[1] in _IPNET_AF_IP else None


def ip_over_infiniband(data: bytes) -> int | None:
    if len(data) < IPOIB_HEADER:
        return None
    return after_ethertype(data, u16(data, IPOIB_TYPE), IPOIB_HEADER)


def ip_over_ieee1394(data: bytes) -> int | None:
    if len(data) < IEEE1394_HEADER:
        return None
    return after_ethertype(data, u16(data, IEEE1394_HEADER - 2), IEEE1394_HEADER)


def netanalyzer(data: bytes) -> int | None:
    return ethernet_at(data, NETANALYZER_HEADER)


def netanalyzer_transparent(data: bytes) -> int | None:
    return ethernet_at(data, NETANALYZER_HEADER + NETANALYZER_PREAMBLE)


def ethernet_mpacket(data: bytes) -> int | None:
    return ethernet_at(data, NETANALYZER_PREAMBLE)


def ieee80211_at(data: bytes, at: int) -> int | None:
    """An 802.11 data frame's LLC payload; management, control and null frames carry no IP."""
    if len(data) < at + WLAN_HEADER:
        return None
    control, flags = data[at], data[at + 1]
    if (control >> 2) & 0x03 != WLAN_DATA_TYPE:
        return None
    subtype = control >> 4
    if subtype & WLAN_NULL_SUBTYPE:
        return None
    header = WLAN_HEADER
    if flags & WLAN_TO_FROM_DS == WLAN_TO_FROM_DS:
        header += WLAN_ADDRESS4
    if subtype & WLAN_QOS_SUBTYPE:
        if len(data) > at + header and data[at + header] & WLAN_AMSDU:
            raise Undecodable("802.11 aggregated frames (A-MSDU)")
        header += WLAN_QOS_CONTROL
        if flags & WLAN_ORDER:
            header += WLAN_HT_CONTROL
    if flags & WLAN_PROTECTED:
        raise Undecodable("802.11 protected (encrypted) data frames")
    return llc(data, at + header)


def ieee80211(data: bytes) -> int | None:
    return ieee80211_at(data, 0)


def radiotap(data: bytes) -> int | None:
    if len(data) < 4:
        return None
    return ieee80211_at(data, data[2] | data[3] << 8)


def prism(data: bytes) -> int | None:
    if len(data) < PRISM_LENGTH + 4:
        return None
    return ieee80211_at(data, u32(data, PRISM_LENGTH, little=True))


def avs(data: bytes) -> int | None:
    if len(data) < 8:
        return None
    return ieee80211_at(data, u32(data, 4))


def _inner_link(data: bytes, at: int, linktype: int) -> int | None:
    """A frame of `linktype` starting at `at` (PPI and PKTAP wrap other link types)."""
    locate = IP_OFFSET.get(linktype)
    if locate is None or linktype in (LINKTYPE_PPI, LINKTYPE_PKTAP):
        raise Undecodable(f"link type {linktype} inside a PPI or PKTAP header")
    inner = locate(data[at:])
    return None if inner is None else at + inner


def ppi(data: bytes) -> int | None:
    if len(data) < 8:
        return None
    return _inner_link(data, data[2] | data[3] << 8, u32(data, 4, little=True))


def pktap(data: bytes) -> int | None:
    """Apple's PKTAP: its own length and the wrapped frame's link type, little-endian."""
    if len(data) < 8:
        return None
    return _inner_link(data, u32(data, 0, little=True), u32(data, 4, little=True))


# The bytes a frame of the common link types holds before anything could be IP: a frame
# captured shorter was cut by the snapshot length (tcpdump -s 10), not some other protocol.
LINK_HEADER_LEAST: Final[dict[int, int]] = {
    LINKTYPE_NULL: 4,
    LINKTYPE_LOOP: 4,
    LINKTYPE_ETHERNET: 14,
    LINKTYPE_LINUX_SLL: 16,
    LINKTYPE_LINUX_SLL2: 20,
    LINKTYPE_RAW: 1,
    LINKTYPE_RAW_BSD[0]: 1,
    LINKTYPE_RAW_BSD[1]: 1,
}

IP_OFFSET: dict[int, Callable[[bytes], int | None]] = {
    LINKTYPE_NULL: bsd_null,
    LINKTYPE_ETHERNET: ethernet,
    LINKTYPE_IEEE802_5: token_ring,
    LINKTYPE_PPP: ppp,
    LINKTYPE_FDDI: fddi,
    LINKTYPE_RAW_BSD[0]: raw_ip,
    LINKTYPE_RAW_BSD[1]: raw_ip,
    LINKTYPE_PPP_HDLC: ppp,
    LINKTYPE_PPP_ETHER: pppoe,
    LINKTYPE_ATM_RFC1483: atm_rfc1483,
    LINKTYPE_RAW: raw_ip,
    LINKTYPE_C_HDLC: cisco_hdlc,
    LINKTYPE_IEEE802_11: ieee80211,
    LINKTYPE_LOOP: bsd_loop,
    LINKTYPE_ENC: openbsd_enc,
    LINKTYPE_LINUX_SLL: linux_sll,
    LINKTYPE_PFLOG: pflog,
    LINKTYPE_IEEE802_11_PRISM: prism,
    LINKTYPE_IEEE802_11_RADIOTAP: radiotap,
    LINKTYPE_APPLE_IP_OVER_IEEE1394: ip_over_ieee1394,
    LINKTYPE_IEEE802_11_AVS: avs,
    LINKTYPE_PPI: ppi,
    LINKTYPE_PPP_WITH_DIR: ppp_with_direction,
    LINKTYPE_C_HDLC_WITH_DIR: cisco_hdlc_with_direction,
    LINKTYPE_MPLS: mpls,
    LINKTYPE_IPNET: ipnet,
    LINKTYPE_IPV4: raw_ip,
    LINKTYPE_IPV6: raw_ip,
    LINKTYPE_NFLOG: nflog,
    LINKTYPE_NETANALYZER: netanalyzer,
    LINKTYPE_NETANALYZER_TRANSPARENT: netanalyzer_transparent,
    LINKTYPE_IPOIB: ip_over_infiniband,
    LINKTYPE_PKTAP: pktap,
    LINKTYPE_ETHERNET_MPACKET: ethernet_mpacket,
    LINKTYPE_LINUX_SLL2: linux_sll2,
}

# Names for the warning about link types not read (libpcap's names, shortened).
LINKTYPE_NAMES: Final[dict[int, str]] = {
    3: "AX.25",
    7: "ARCNET",
    8: "SLIP",
    107: "Frame Relay",
    114: "LocalTalk",
    143: "DOCSIS",
    147: "user-defined 0",
    187: "Bluetooth HCI",
    189: "USB Linux",
    195: "IEEE 802.15.4",
    197: "Endace ERF",
    201: "Bluetooth HCI with direction",
    215: "IEEE 802.15.4 without FCS",
    220: "USB Linux (mmapped)",
    227: "SocketCAN",
    249: "USBPcap",
    252: "Wireshark upper PDU",
    253: "OpenFlow",
    263: "Linux vsock",
    279: "Linux USB (mmapped)",
}


def linktype_name(linktype: int) -> str:
    name = LINKTYPE_NAMES.get(linktype)
    return f"link type {linktype} ({name})" if name else f"link type {linktype}"
