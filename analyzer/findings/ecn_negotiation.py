"""What the ECN flags of a SYN and of the SYN/ACK answering it negotiate: classic ECN
(RFC 3168 6.1.1) or Accurate ECN (AccECN, RFC 9768 3.1.1, its Table 2).

A SYN asks for classic ECN with ECE and CWR, for Accurate ECN with AE, CWR and ECE (Apple's
stacks send such SYNs, Linux too where net.ipv4.tcp_ecn asks for it). The SYN/ACK answers:
- to either, ECE alone: classic ECN; none of the three: no ECN;
- to an AccECN SYN, CWR alone, CWR and ECE, AE alone, or AE and CWR: Accurate ECN, the
  flags feeding back the IP header's ECN field the SYN arrived with (not ECN-capable,
  ECT(1), ECT(0), CE); AE and ECE, a combination kept for later use, is taken as Accurate
  ECN with the field arrived as sent (3.1.3); all three, the SYN's flags reflected, is a
  broken server: no ECN (3.1.2, Table 2's last row);
- to a classic SYN, ECE without CWR, AE or not (a classic client does not read AE): classic
  ECN; else no ECN.
A SYN with any other combination is read as asking for nothing: no client sends one (3.1.3,
where an AccECN server answers it as an AccECN request all the same).

Once classic ECN is agreed, ECE on later segments echoes congestion and CWR answers it
(findings/ecn.py); with Accurate ECN the three flags are a counter of CE-marked packets
(ACE, 3.2.2), not signals.
"""

from __future__ import annotations

from typing import Final

from analyzer.decode.segment import AE, CWR, ECE

NONE: Final = ""
CLASSIC: Final = "ECN"
ACCURATE: Final = "AccECN"

_BITS: Final = AE | CWR | ECE
# An AccECN SYN/ACK's flags: the ECN field of the SYN's IP header as it arrived.
_ARRIVED: Final = {CWR: "Not-ECT", CWR | ECE: "ECT(1)", AE: "ECT(0)", AE | CWR: "CE", AE | ECE: ""}
_FIELD: Final = {
    "Not-ECT": "Not-ECT (not ECN-capable, as SYNs are usually sent)",
    "ECT(1)": "marked ECT(1)",
    "ECT(0)": "marked ECT(0)",
    "CE": "marked CE: congestion on the way",
}


def asked(syn_flags: int) -> str:
    """What a SYN asks for: ACCURATE, CLASSIC or NONE."""
    bits = syn_flags & _BITS
    if bits == _BITS:
        return ACCURATE
    return CLASSIC if bits == CWR | ECE else NONE


def agreed(asked_for: str, synack_flags: int) -> str:
    """What a SYN/ACK agrees to, answering a SYN that asked for `asked_for`."""
    bits = synack_flags & _BITS
    if asked_for == NONE:
        return NONE
    if asked_for == CLASSIC:
        return CLASSIC if bits & (CWR | ECE) == ECE else NONE
    if bits == ECE:
        return CLASSIC
    return ACCURATE if bits in _ARRIVED else NONE


def flags_named(flags: int, order: tuple[int, ...] = (AE, ECE, CWR)) -> str:
    """'AE, CWR and ECE', 'ECE and CWR', 'ECE' ...: the ECN flags a SYN or SYN/ACK carries, in
    `order` (RFC 3168 names ECE first; RFC 9768's table AE, CWR, ECE)."""
    names = [_NAMES[bit] for bit in order if flags & bit]
    return " and ".join(names) if len(names) < 3 else f"{names[0]}, {names[1]} and {names[2]}"


_NAMES: Final = {AE: "AE", CWR: "CWR", ECE: "ECE"}
_TABLE_ORDER: Final = (AE, CWR, ECE)


def explain(syn_flags: int, synack_flags: int | None) -> str:
    """The negotiation in words, from a SYN that asked for ECN and the SYN/ACK that answered it
    (None: none seen); "" when the SYN asked for nothing."""
    asked_for = asked(syn_flags)
    if asked_for == NONE:
        return ""
    order = _TABLE_ORDER if asked_for == ACCURATE else (AE, ECE, CWR)
    request = f"the SYN asked for {_mode(asked_for)} ({flags_named(syn_flags, order)})"
    if synack_flags is None:
        return request
    result = agreed(asked_for, synack_flags)
    if asked_for == CLASSIC and result == CLASSIC:
        return "ECN agreed (the SYN asked with ECE and CWR, the SYN/ACK answered with ECE)"
    if result == ACCURATE:
        arrived = _ARRIVED[synack_flags & _BITS]
        field = (
            f"the SYN arrived {_FIELD[arrived]}"
            if arrived
            else "a combination kept for later use, taken as AccECN with the SYN arrived as sent (RFC 9768 3.1.3)"
        )
        return (
            f"Accurate ECN agreed (RFC 9768: the SYN asked with AE, CWR and ECE, the SYN/ACK answered with "
            f"{flags_named(synack_flags, _TABLE_ORDER)}: {field}); the three flags then count CE marks (ACE), "
            "they are no congestion signals"
        )
    if result == CLASSIC:
        return f"{request}, the SYN/ACK agreed to classic ECN (ECE): its sender has no AccECN"
    if synack_flags & _BITS == _BITS:
        return (
            f"{request}, the SYN/ACK reflected its flags: a server that does not know them, "
            "no ECN (RFC 9768 3.1.2)"
        )
    return f"{request}, the SYN/ACK did not agree"


def _mode(mode: str) -> str:
    return "Accurate ECN" if mode == ACCURATE else "ECN"
