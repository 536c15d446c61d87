"""Write one small pcap per encapsulation into this folder, each carrying the same 10-packet TCP
conversation, check every file with tshark and write EXPECTED.tsv from what tshark measured.

    .venv/bin/python tests/data/tunnels/make_tunnel_captures.py

Deterministic: fixed times, ISNs, addresses, IP ids and MACs, so a second run gives the same bytes.
Headers of the encapsulations are packed by hand (struct) so that their layout is the one written
here; scapy builds the Ethernet, IP, UDP and TCP around them and computes lengths and checksums.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import subprocess
import sys
import zlib
from decimal import Decimal
from pathlib import Path

from scapy.layers.dot11 import Dot11, Dot11QoS
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import LLC, SNAP, Dot1AD, Dot1Q, Dot3, Ether
from scapy.packet import Raw
from scapy.utils import RawPcapWriter

HERE = Path(__file__).resolve().parent
T0 = Decimal(1700000000)
STEP = Decimal("0.001")
C4, S4, C6, S6 = "10.1.0.1", "10.2.0.2", "2001:db8:1::1", "2001:db8:2::2"
O4 = ("192.0.2.1", "192.0.2.2")  # outer addresses: client side, server side
O6 = ("2001:db8:ff::1", "2001:db8:ff::2")
MID4 = ("198.51.100.1", "198.51.100.2")  # middle level of nested.pcap
MAC = ("02:00:00:00:00:01", "02:00:00:00:00:02")  # outer Ethernet
IMAC = ("02:00:0a:00:01:01", "02:00:0a:00:01:02")  # inner Ethernet (OUI 0a:00:01 unknown: see mpls_pw)
BSSID = "02:00:00:00:00:aa"
CISN, SISN = 1_000_000, 3_000_000
UDP_SPORT = 54321  # entropy source port of VXLAN, GENEVE, GRE-in-UDP (above every dport, unregistered)
TEREDO_CPORT = 40001
SYN_OPTS = [("MSS", 1460), ("NOP", None), ("WScale", 7), ("NOP", None), ("NOP", None), ("SAckOK", b"")]
SNAP_IP = bytes.fromhex("aaaa03000000") + b"\x08\x00"
PPP_IP = b"\xff\x03\x00\x21"  # address, control, protocol IPv4


def conversation(v6: bool) -> list[tuple[bool, str, int, int, bytes]]:
    """(from_client, tcp flags, tcp seq, tcp payload length, IP packet bytes) for the 10 packets."""
    cl, sv = (C6, S6) if v6 else (C4, S4)
    c, s = CISN, SISN
    steps = [  # from_client, flags, seq, ack, payload length
        (True, "S", c, 0, 0), (False, "SA", s, c + 1, 0), (True, "A", c + 1, s + 1, 0),
        (True, "PA", c + 1, s + 1, 100), (False, "A", s + 1, c + 101, 0), (False, "PA", s + 1, c + 101, 200),
        (True, "A", c + 101, s + 201, 0), (True, "FA", c + 101, s + 201, 0),
        (False, "FA", s + 201, c + 102, 0), (True, "A", c + 102, s + 202, 0),
    ]  # fmt: skip
    out = []
    for i, (fc, flags, seq, ack, n) in enumerate(steps):
        src, dst = (cl, sv) if fc else (sv, cl)
        ip = IPv6(src=src, dst=dst, hlim=64) if v6 else IP(src=src, dst=dst, ttl=64, id=0x100 + i, flags="DF")
        window = (64240 if fc else 65160) if "S" in flags else (502 if fc else 510)
        tcp = TCP(sport=40000 if fc else 80, dport=80 if fc else 40000, flags=flags, seq=seq, ack=ack,
                  window=window, options=SYN_OPTS if "S" in flags else [])  # fmt: skip
        payload = ((b"client-data." if fc else b"server-data.") * 20)[:n]
        out.append((fc, flags, seq, n, bytes(ip / tcp / payload)))
    return out


# ---- helpers: fc = "this packet goes from the client", p = the inner IP packet (bytes) ----
def pick(pair, fc):
    return pair if fc else pair[::-1]


def eth(fc, etype=None, macs=MAC):
    src, dst = pick(macs, fc)
    return Ether(src=src, dst=dst) if etype is None else Ether(src=src, dst=dst, type=etype)


def mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def ip_type(p):
    return 0x86DD if p[0] >> 4 == 6 else 0x0800


def inner_eth(fc, p):
    return bytes(eth(fc, ip_type(p), IMAC) / Raw(p))


def ip4(fc, proto, addrs=O4):
    src, dst = pick(addrs, fc)
    return IP(src=src, dst=dst, proto=proto, ttl=64, id=0, flags="DF")


def ip6(fc, nh):
    src, dst = pick(O6, fc)
    return IPv6(src=src, dst=dst, nh=nh, hlim=64)


def over4(fc, proto, payload):
    return eth(fc) / ip4(fc, proto) / Raw(payload)


def udp4(fc, sport, dport, payload, v6=False):
    return eth(fc) / (ip6(fc, 17) if v6 else ip4(fc, 17)) / UDP(sport=sport, dport=dport) / Raw(payload)


def gre(proto, key=None, seq=None):
    flags = (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    opt = b"".join(struct.pack("!I", v) for v in (key, seq) if v is not None)
    return struct.pack("!HH", flags, proto) + opt


def vxlan(vni=42):
    return struct.pack("!II", 0x08000000, vni << 8)  # flags I, reserved, VNI, reserved


def mpls(label, bottom, ttl=64):
    return struct.pack("!I", label << 12 | bottom << 8 | ttl)


# ---- one builder per encapsulation: (fc, p, i) -> frame, or a list of (time offset, frame) ----
def ipip(fc, p, i):
    return over4(fc, 4, p)


def sixin4(fc, p, i):
    return over4(fc, 41, p)


def fourin6(fc, p, i):
    return eth(fc) / ip6(fc, 4) / Raw(p)


def sixin6(fc, p, i):
    return eth(fc) / ip6(fc, 41) / Raw(p)


def gre_keyed(fc, p, i):
    return over4(fc, 47, gre(0x0800, key=42, seq=i + 1) + p)


def gre_ipv6_outer(fc, p, i):
    return eth(fc) / ip6(fc, 47) / Raw(gre(0x86DD) + p)


def gre_teb(fc, p, i):
    return over4(fc, 47, gre(0x6558) + inner_eth(fc, p))


def erspan1(fc, p, i):
    return over4(fc, 47, gre(0x88BE) + inner_eth(fc, p))


def erspan2(fc, p, i):
    # ver 1 | VLAN 100; COS 0, En 3 (VLAN tag kept in frame), T 0, session 1; reserved 0 | index 0
    hdr = struct.pack("!HHI", 1 << 12 | 100, 3 << 11 | 1, 0)
    src, dst = pick(IMAC, fc)
    frame = Ether(src=src, dst=dst, type=0x8100) / Dot1Q(vlan=100, type=0x0800) / Raw(p)
    return over4(fc, 47, gre(0x88BE, seq=i + 1) + hdr + bytes(frame))


def erspan3(fc, p, i):
    # ver 2 | VLAN 0; COS/BSO/T 0, session 1; timestamp (100 us units); SGT 0; P FT HW D Gra 0, O 1
    hdr = struct.pack("!HHIHH", 2 << 12, 1, i * 10, 0, 0x0001)
    sub = struct.pack("!II", 3 << 26 | 5, 0)  # platform id 3: port index 5; upper 32 bits of timestamp
    return over4(fc, 47, gre(0x22EB, seq=i + 1) + hdr + sub + inner_eth(fc, p))


def gre_in_udp(fc, p, i):
    return udp4(fc, UDP_SPORT, 4754, gre(0x0800) + p)


def pptp_gre(fc, p, i):
    ppp = PPP_IP + p  # flags K S, version 1; payload length, peer's call id, sequence number
    return over4(fc, 47, struct.pack("!HHHHI", 0x3001, 0x880B, len(ppp), 0x100 if fc else 0x200, i + 1) + ppp)


def vxlan4(fc, p, i):
    return udp4(fc, UDP_SPORT, 4789, vxlan() + inner_eth(fc, p))


def vxlan6(fc, p, i):
    return udp4(fc, UDP_SPORT, 4789, vxlan() + inner_eth(fc, p), v6=True)


def geneve(fc, p, i):
    # ver 0 | opt len 2 (words); O C 0; protocol TEB; VNI 42; option: class, type, len 1 word, 4 bytes data
    hdr = struct.pack("!BBHI", 2, 0, 0x6558, 42 << 8) + struct.pack("!HBB", 0xFF01, 0x01, 1) + b"opt1"
    return udp4(fc, UDP_SPORT, 6081, hdr + inner_eth(fc, p))


def teredo(fc, p, i):
    if fc:
        return udp4(fc, TEREDO_CPORT, 3544, p)
    obf_addr = bytes(b ^ 0xFF for b in socket.inet_aton(O4[0]))  # origin: client's mapped port and address
    origin = struct.pack("!HH", 0x0000, TEREDO_CPORT ^ 0xFFFF) + obf_addr
    return udp4(fc, 3544, TEREDO_CPORT, origin + p)


def ayiya(fc, p, i):
    # idlen 2^4=16 | idtype 1 (integer); siglen 5 words | hash 2 (SHA1); auth 1 | opcode 1; next header 41
    hdr = struct.pack("!BBBBI", 0x41, 0x52, 0x11, 41, int(T0)) + p[8:24]  # identity: sender's IPv6
    return udp4(fc, 5072, 5072, hdr + hashlib.sha1(hdr + p).digest() + p)


def gtpu(fc, p, i):
    teid = 0x1001 if fc else 0x2002  # client->server: flags 0x30; server->client: 0x32 with sequence
    if fc:
        return udp4(fc, 2152, 2152, struct.pack("!BBHI", 0x30, 0xFF, len(p), teid) + p)
    return udp4(fc, 2152, 2152, struct.pack("!BBHIHBB", 0x32, 0xFF, len(p) + 4, teid, i, 0, 0) + p)


def l2tp(fc, p, i):
    ppp, peer = PPP_IP + p, 1 if fc else 2  # flags L, version 2; length; peer's tunnel id; peer's session id
    return udp4(fc, 1701, 1701, struct.pack("!HHHH", 0x4002, 8 + len(ppp), peer, peer) + ppp)


def pppoe_session(p):
    return struct.pack("!BBHHH", 0x11, 0, 0x1234, len(p) + 2, 0x0021) + p


def pppoe(fc, p, i):
    return eth(fc, 0x8864) / Raw(pppoe_session(p))


def pppoe_qinq(fc, p, i):
    tags = Dot1AD(vlan=100, type=0x8100) / Dot1Q(vlan=200, type=0x8864)
    return eth(fc, 0x88A8) / tags / Raw(pppoe_session(p))


def pbb(fc, p, i):
    itag = struct.pack("!I", 5000)  # PCP DEI UCA 0, I-SID 5000; then customer DA, SA, ethertype
    return eth(fc, 0x88A8) / Dot1AD(vlan=300, type=0x88E7) / Raw(itag + inner_eth(fc, p))


def fabricpath(fc, p, i):
    # outer DA, SA: hierarchical MACs (U/L 1, switch id 2 or 1, sub-switch 0, LID 1); 0x8903; FTag 1 | TTL 32;
    # the classical Ethernet frame; FCS over the whole frame (tshark 4.0's cfp always cuts 4 bytes of FCS)
    swids = pick((1, 2), fc)
    da, sa = (struct.pack("!BHBH", 0x02, sw, 0, 1) for sw in (swids[1], swids[0]))
    frame = da + sa + struct.pack("!HH", 0x8903, 1 << 6 | 32) + inner_eth(fc, p)
    return frame + struct.pack("<I", zlib.crc32(frame))


def mpls_pw(fc, p, i):
    # labels 16000 and 100 (bottom), control word 0, Ethernet. tshark's pw-eth heuristic reads "no control word"
    # when bytes 0-2 and 6-8 are known OUIs (00:00:00 Xerox, then the inner DA's bytes 2-4): IMAC avoids that
    return eth(fc, 0x8847) / Raw(mpls(16000, 0) + mpls(100, 1) + b"\0\0\0\0" + inner_eth(fc, p))


def llc_snap(fc, p, i):
    src, dst = pick(MAC, fc)
    return Dot3(src=src, dst=dst) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / Raw(p)


def fddi(fc, p, i):
    # FC, DA, SA, LLC/SNAP; addresses bit-reversed per byte (FDDI order: tshark shows 02:00:00:00:00:0x)
    src, dst = (bytes(int(f"{b:08b}"[::-1], 2) for b in mac_bytes(m)) for m in pick(MAC, fc))
    return Raw(b"\x50" + dst + src + SNAP_IP + p)


def ipoib(fc, p, i):
    # 40-byte pseudo header (wiretap's IP_OVER_IB_PCAP): bytes 0-19 zero (no GRH, unicast), 20 reserved,
    # 21-23 destination QPN, 24-39 destination GID; then RFC 4391 header: ethertype, reserved
    dgid = socket.inet_pton(socket.AF_INET6, "fe80::2" if fc else "fe80::1")
    return Raw(bytes(20) + struct.pack("!I", 0x48) + dgid + struct.pack("!HH", 0x0800, 0) + p)


def ppp(fc, p, i):
    return Raw(PPP_IP + p)


def chdlc(fc, p, i):
    return Raw(b"\x0f\x00\x08\x00" + p)


def wifi(fc, p, i):
    # QoS data (type 2, subtype 8); to-DS: BSSID, SA, DA; from-DS: DA, BSSID, SA; QoS control 0; LLC/SNAP
    addrs = (BSSID, MAC[0], MAC[1]) if fc else (MAC[0], BSSID, MAC[1])
    return (Dot11(type=2, subtype=8, FCfield=1 if fc else 2, addr1=addrs[0], addr2=addrs[1], addr3=addrs[2],
                  SC=i << 4) / Dot11QoS() / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800) / Raw(p))  # fmt: skip


def radiotap(fc, p, i):
    return Raw(struct.pack("<BBHI", 0, 0, 8, 0) + bytes(wifi(fc, p, i)))  # version, pad, length, present


def pflog(fc, p, i):
    # length 61 (rounded up to 64 by the reader), af 2 (AF_INET), action 0 pass, reason 0, ifname, ruleset,
    # rulenr, subrulenr -1, uid, pid, rule_uid, rule_pid, dir 1 in / 2 out, 3 pad bytes
    hdr = struct.pack("!BBBB16s16siiIiIiB3x", 61, 2, 0, 0, b"em0", b"", 1, -1, 0, 0, 0, 0, 1 if fc else 2)
    return Raw(hdr + p)


def direct_and_gre(fc, p, i):
    direct = eth(fc, 0x0800) / Raw(p)
    tap = eth(True) / ip4(True, 47) / Raw(gre(0x0800) + p)  # always 192.0.2.1 -> 192.0.2.2
    return [(Decimal(0), direct), (Decimal("0.00002"), tap)]


def nested(fc, p, i):
    middle = ip4(fc, 17, MID4) / UDP(sport=UDP_SPORT, dport=4789) / Raw(vxlan() + inner_eth(fc, p))
    return over4(fc, 47, gre(0x0800) + bytes(middle))


def nsh(fc, p, i):
    # RFC 8300: version 0, TTL 63, length 2 words; MD type 2; next protocol 1 (IPv4); path 42, index 255
    return eth(fc, 0x894F) / Raw(struct.pack("!BBBBI", 0x0F, 0xC2, 0x02, 0x01, 42 << 8 | 255) + p)


def macsec(fc, p, i):
    # 802.1AE SecTAG, integrity only (E and C clear): TCI/AN with SC (an SCI follows), short length 0,
    # packet number, SCI; then the ethertype and the packet, then a 16-byte ICV
    sectag = struct.pack("!BBI", 0x20, 0, i + 1) + mac_bytes(pick(MAC, fc)[0]) + struct.pack("!H", 1)
    return eth(fc, 0x88E5) / Raw(sectag + struct.pack("!H", ip_type(p)) + p + b"\x5a" * 16)


def lisp(fc, p, i):
    # RFC 9300 data header: flags N and I, nonce, instance ID 42
    return udp4(fc, UDP_SPORT, 4341, struct.pack("!II", 0x88000000 | (i + 1), 42 << 8) + p)


def mpls_udp(fc, p, i):
    return udp4(fc, UDP_SPORT, 6635, mpls(100, 0) + mpls(200, 1) + p)


ETH, PPP_LT, FDDI, PPP_HDLC, CHDLC, WIFI, PFLOG, RADIOTAP, IPOIB = 1, 9, 10, 50, 104, 105, 117, 127, 242
FILES = {  # file: (linktype, inner IPv6, builder)
    "ipip.pcap": (ETH, False, ipip),
    "sixin4.pcap": (ETH, True, sixin4),
    "fourin6.pcap": (ETH, False, fourin6),
    "sixin6.pcap": (ETH, True, sixin6),
    "gre.pcap": (ETH, False, gre_keyed),
    "gre-ipv6-outer.pcap": (ETH, True, gre_ipv6_outer),
    "gre-teb.pcap": (ETH, False, gre_teb),
    "erspan1.pcap": (ETH, False, erspan1),
    "erspan2.pcap": (ETH, False, erspan2),
    "erspan3.pcap": (ETH, False, erspan3),
    "gre-in-udp.pcap": (ETH, False, gre_in_udp),
    "pptp-gre.pcap": (ETH, False, pptp_gre),
    "vxlan.pcap": (ETH, False, vxlan4),
    "vxlan-ipv6.pcap": (ETH, True, vxlan6),
    "geneve.pcap": (ETH, False, geneve),
    "teredo.pcap": (ETH, True, teredo),
    "ayiya.pcap": (ETH, True, ayiya),
    "gtpu.pcap": (ETH, False, gtpu),
    "l2tp.pcap": (ETH, False, l2tp),
    "pppoe.pcap": (ETH, False, pppoe),
    "pppoe-qinq.pcap": (ETH, False, pppoe_qinq),
    "pbb.pcap": (ETH, False, pbb),
    "fabricpath.pcap": (ETH, False, fabricpath),
    "mpls-pw.pcap": (ETH, False, mpls_pw),
    "llc-snap.pcap": (ETH, False, llc_snap),
    "fddi.pcap": (FDDI, False, fddi),
    "ipoib.pcap": (IPOIB, False, ipoib),
    "ppp.pcap": (PPP_LT, False, ppp),
    "ppp-hdlc.pcap": (PPP_HDLC, False, ppp),
    "chdlc.pcap": (CHDLC, False, chdlc),
    "ieee80211.pcap": (WIFI, False, wifi),
    "radiotap.pcap": (RADIOTAP, False, radiotap),
    "pflog.pcap": (PFLOG, False, pflog),
    "direct-and-gre.pcap": (ETH, False, direct_and_gre),
    "nested.pcap": (ETH, False, nested),
    "nsh.pcap": (ETH, False, nsh),
    "macsec.pcap": (ETH, False, macsec),
    "lisp.pcap": (ETH, False, lisp),
    "mpls-in-udp.pcap": (ETH, False, mpls_udp),
}
DECODE_AS: dict[str, list[str]] = {}  # file: tshark -d options it needs (none: all decode by default)


def write(name, linktype, v6, builder):
    writer = RawPcapWriter(str(HERE / name), linktype=linktype, endianness="<")
    writer.write_header(None)
    for i, (fc, _flags, _seq, _n, p) in enumerate(conversation(v6)):
        frames = builder(fc, p, i)
        for offset, frame in frames if isinstance(frames, list) else [(Decimal(0), frames)]:
            t = T0 + i * STEP + offset
            writer.write_packet(bytes(frame), sec=int(t), usec=int((t - int(t)) * 1_000_000))
    writer.close()


def tshark(name, *args):
    cmd = ["tshark", "-n", "-r", str(HERE / name), *DECODE_AS.get(name, []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def check(name, v6, copies):
    """Problems with what tshark sees in the file: the inner TCP segments, malformed packets, bad checksums."""
    rows = tshark(name, "-Y", "tcp", "-T", "fields", "-e", "tcp.flags.str", "-e", "ip.src", "-e", "ipv6.src",
                  "-e", "tcp.seq_raw", "-e", "tcp.len").splitlines()  # fmt: skip
    ends = (C6, S6) if v6 else (C4, S4)
    want = [
        (sorted(f), pick(ends, fc)[0], seq, n) for fc, f, seq, n, _ in conversation(v6) for _ in range(copies)
    ]
    got = []
    for row in rows:  # the innermost address is the last one tshark lists
        flags, ip_src, ipv6_src, seq, n = row.split("\t")
        src = (ipv6_src if v6 else ip_src).split(",")[-1]
        got.append((sorted(c for c in flags if c.isalpha()), src, int(seq), int(n)))
    problems = [] if got == want else [f"inner TCP (flags, src, seq, len) {got} != {want}"]
    checks = [arg for proto in ("ip", "tcp", "udp") for arg in ("-o", f"{proto}.check_checksum:TRUE")]
    bad = tshark(name, *checks, "-Y", "_ws.malformed or ip.checksum.status == 0 or tcp.checksum.status == 0"
                 " or udp.checksum.status == 0 or _ws.expert.severity == error")  # fmt: skip
    if bad.strip():
        problems.append(f"malformed, bad checksum or expert error:\n{bad}")
    return len(rows), problems


def main():
    table, failures = [], []
    for name, (linktype, v6, builder) in FILES.items():
        write(name, linktype, v6, builder)
        copies = 2 if builder is direct_and_gre else 1
        count, problems = check(name, v6, copies)
        protocols = tshark(name, "-c", "1", "-T", "fields", "-e", "frame.protocols").strip()
        table.append((name, linktype, count, protocols, " ".join(DECODE_AS.get(name, [])) or "-"))
        failures += [f"{name}: {problem}" for problem in problems]
    with open(HERE / "EXPECTED.tsv", "w") as out:
        out.write("file\tlinktype\ttshark_tcp_packets\ttshark_protocols_of_frame_1\n")
        out.writelines(f"{name}\t{lt}\t{count}\t{protocols}\n" for name, lt, count, protocols, _ in table)
    width = max(len(row[0]) for row in table)
    print(f"{'file':{width}}  link  tcp  decode-as  frame.protocols of frame 1")
    for name, lt, count, protocols, decode_as in table:
        print(f"{name:{width}}  {lt:4}  {count:3}  {decode_as:9}  {protocols}")
    if failures:
        print("\n".join(["", "FAILED:", *failures]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
