"""What the application saw beside the packets (analyzer/findings/application.py): a failed
call told with the packet that ended it, also when the capture stamped that packet a little
after the call log says the call returned (strace's clock and tcpdump's are not one)."""

from __future__ import annotations

from analyzer.decode.segment import ACK, RST, SYN, Segment
from analyzer.findings.application import CLOCKS_APART, application_findings
from analyzer.sidecar import CallRecord


def _segment(frame: int, time: float, flags: int, outbound: bool) -> Segment:
    ends = ("127.0.0.1", 53430, "127.0.0.1", 9) if outbound else ("127.0.0.1", 9, "127.0.0.1", 53430)
    src, sport, dst, dport = ends
    return Segment(frame=frame, time=time, family=4, src=src, sport=sport, dst=dst, dport=dport,
                   flags=flags, seq=1000, ack=0 if outbound else 1001, window=65535, payload_len=0,
                   options=None)  # fmt: skip


def _refused(returned: float) -> str:
    call: CallRecord = {
        "time": 10.0, "end_time": returned, "side": "client", "call": "connect(127.0.0.1:9)",
        "result": "ECONNREFUSED", "errno": "ECONNREFUSED", "socket": None,
    }  # fmt: skip
    segments = [_segment(1, 10.000008, SYN, True), _segment(2, 10.000031, RST | ACK, False)]
    [finding] = application_findings([call], segments)
    return finding


def test_a_refusal_after_the_rst_is_told_with_how_long_after() -> None:
    assert (
        _refused(10.000131)
        == "client connect(127.0.0.1:9) raised ECONNREFUSED 100 µs after the RST (frame 2)"
    )


def test_a_rst_stamped_just_after_the_call_returned_is_still_its_cause() -> None:
    """As strace logs a refused connect() on loopback: the return 31 µs before tcpdump's RST."""
    assert _refused(10.0) == (
        "client connect(127.0.0.1:9) raised ECONNREFUSED on the RST (frame 2, stamped by the capture 31 µs "
        "after the call returned: the call log and the capture keep separate clocks)"
    )


def test_a_rst_long_after_the_call_is_not_its_cause() -> None:
    finding = _refused(10.000031 - 2 * CLOCKS_APART)
    assert "RST" not in finding and finding.endswith("raised ECONNREFUSED")
