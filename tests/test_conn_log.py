"""The Zeek conn.log (`analyze --format conn`): Zeek's header, a row a connection in id order and
a row a UDP flow, its columns saying what the JSON says and, on the corpus, what Zeek wrote."""

from __future__ import annotations

import io
import json

import pytest
from conftest import CAPTURES, run, stored_captures
from pcap_builder import handshake_packets, write_capture
from scapy.layers.inet import IP

from analyzer.analysis import stream_file
from analyzer.output.conn_log import COLUMNS, write_conn_log
from analyzer.output.json_report import write_document
from analyzer.sidecar import load_sidecar, sidecar_path_for

HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
]


def parse_log(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """(header lines, rows as {field: value}), as zeek-cut reads a log."""
    header = [line for line in text.splitlines() if line.startswith("#")]
    [fields] = [line.split("\t")[1:] for line in header if line.startswith("#fields\t")]
    rows = [
        dict(zip(fields, line.split("\t"), strict=True))
        for line in text.splitlines()
        if not line.startswith("#")
    ]
    return header, rows


def _both(pcap) -> tuple[list[str], list[dict[str, str]], dict]:
    path = sidecar_path_for(pcap)
    sidecar = load_sidecar(path) if path.exists() else None
    log, document = io.StringIO(), io.StringIO()
    write_conn_log(stream_file(str(pcap), sidecar=sidecar), log)
    write_document(stream_file(str(pcap), sidecar=sidecar), document)
    header, rows = parse_log(log.getvalue())
    return header, rows, json.loads(document.getvalue())


@pytest.mark.parametrize("pcap", stored_captures(), ids=lambda p: p.name)
def test_a_row_a_connection_saying_what_the_json_says(pcap) -> None:
    header, rows, whole = _both(pcap)
    assert header == [
        *HEADER,
        "#fields\t" + "\t".join(name for name, _kind in COLUMNS),
        "#types\t" + "\t".join(kind for _name, kind in COLUMNS),
    ]
    tcp = [row for row in rows if row["proto"] == "tcp"]
    assert len(tcp) == len(whole["connections"]) and len(rows) == len(tcp) + len(whole["udp"])
    for row, connection in zip(tcp, whole["connections"], strict=True):  # in id order
        zeek = connection["compatibility"]["zeek"]
        handshake = connection["handshake"]
        assert row["uid"] == f"C{connection['id']}"
        assert row["ts"] == f"{connection['first_time']:.6f}"
        assert (row["conn_state"], row["history"]) == (zeek["conn_state"], zeek["history"] or "-")
        assert int(row["orig_pkts"]) + int(row["resp_pkts"]) == connection["packets"]
        client, server = connection["client"], connection["server"]
        ends = ((row["id.orig_h"], int(row["id.orig_p"])), (row["id.resp_h"], int(row["id.resp_p"])))
        ours = ((client["ip"], client["port"]), (server["ip"], server["port"]))
        # Zeek's originator is our client but where Zeek flipped the roles ('^').
        assert ends == (ours[::-1] if zeek["history"].startswith("^") else ours)
        assert row["client_basis"] == connection["client_basis"]
        assert row["handshake"] == handshake["status"]
        # How it ended: fin-wait-2-timeout's FINs (shape four-way) ended by a RST say so.
        assert row["close_shape"] == connection["close"]["ending"]
        assert row["rst_cause"] == (",".join(r["cause"] for r in connection["resets"]) or "-")
        assert int(row["syn_count"]) == len(handshake["syn_times"])
        assert int(row["synack_count"]) == len(handshake["synack_times"])
        assert (row["proto"], row["ip_proto"], row["service"]) == ("tcp", "6", "-")
        if row["duration"] == "-":
            assert row["orig_bytes"] == row["resp_bytes"] == "-"
        else:
            assert 0 < float(row["duration"]) <= connection["last_time"] - connection["first_time"] + 1e-6


def test_a_udp_flow_is_a_row_of_its_own() -> None:
    _header, rows, whole = _both(CAPTURES / "udp.pcap")
    [row] = rows
    [flow] = whole["udp"]
    sent = [d for d in flow["datagrams"] if d["sender"] == "client"]
    answered = [d for d in flow["datagrams"] if d["sender"] == "server"]
    assert (row["uid"], row["proto"], row["ip_proto"]) == ("CU0", "udp", "17")
    assert (row["id.orig_h"], int(row["id.orig_p"])) == (flow["client"]["ip"], flow["client"]["port"])
    assert (int(row["orig_pkts"]), int(row["resp_pkts"])) == (len(sent), len(answered))
    assert (int(row["orig_bytes"]), int(row["resp_bytes"])) == (
        sum(d["length"] for d in sent),
        sum(d["length"] for d in answered),
    )
    assert (row["conn_state"], row["history"]) == ("SF", "Dd")
    assert row["handshake"] == row["syn_count"] == "-"


def test_the_byte_counts_are_zeeks_not_the_payloads_summed(tmp_path) -> None:
    """'hello' sent twice (a retransmission) is 5 bytes in Zeek's count, as the sequence
    numbers say; and a connection of one packet has no duration and no byte counts."""
    packets = handshake_packets()
    resent = packets[3].copy()
    resent[IP].id += 1  # sent again, not captured again: the IP identification moves on
    packets.insert(4, resent)  # the client's "hello" again
    _header, rows, whole = _both(write_capture(tmp_path / "resent.pcap", packets))
    [row] = rows
    assert whole["connections"][0]["sequence"]["counts"]  # the copy is seen as a resend
    assert (row["orig_bytes"], row["resp_bytes"]) == ("5", "5")
    assert (row["orig_pkts"], row["resp_pkts"]) == ("6", "5")
    assert row["conn_state"] == "SF" and row["history"].startswith("ShAD")
    _header, rows, _whole = _both(write_capture(tmp_path / "syn.pcap", packets[:1]))
    [row] = rows
    assert (row["duration"], row["orig_bytes"], row["resp_bytes"], row["conn_state"]) == ("-", "-", "-", "S0")


def test_several_files_each_with_its_header() -> None:
    files = [str(CAPTURES / "backlog.pcap"), str(CAPTURES / "udp.pcap"), str(CAPTURES / "refused.pcap")]
    result = run("analyze", "--format", "conn", "--jobs", "2", *files)
    assert result.returncode == 0, result.stderr
    logs = result.stdout.split("#separator ")[1:]
    assert len(logs) == 3
    assert [len(parse_log("#separator " + log)[1]) for log in logs] == [2, 1, 1]


# Corpus files where Zeek and we split the capture into the same connections, with each
# column Zeek logged. Elsewhere the connections differ (ssh.client-side-half-duplex,
# retransmit-timeout with max_timer_expires=0, pop3's refused SYNs a Windows client sent
# again, one connect() each for us and tshark, three connections for Zeek); retransmit-
# fast009's history differs in its content-gap letters (all in
# tests/corpus_known_disagreements.tsv).
ZEEK_AGREES = [
    "zeek_ctu-64702-888.pcap",
    "zeek_ftp__ipv6.pcap",
    "zeek_http-on-irc-port-missing-syn.pcapng",
    "zeek_irc-starttls.pcap",
    "zeek_missing-syn.pcap",
    "zeek_one-sided-2745.pcap",
    "zeek_retransmit-fast009.pcap",
    "zeek_retransmit-timeout.pcapng",
]
COMPARED = ("duration", "orig_bytes", "resp_bytes", "conn_state", "history", "orig_pkts", "resp_pkts")


def _zeek_rows(path) -> list[dict[str, str]]:
    """A btest baseline: a full log, or zeek-cut's columns under a line of names."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("###")]
    if any(line.startswith("#fields\t") for line in lines):
        return parse_log("\n".join(lines))[1]
    names, *rows = lines
    return [dict(zip(names.split("\t"), row.split("\t"), strict=True)) for row in rows]


@pytest.mark.parametrize("name", ZEEK_AGREES)
def test_the_columns_zeek_logged_are_what_zeek_wrote(corpus_dir, name) -> None:
    logged = _zeek_rows(corpus_dir / "oracle" / f"{name}.zeek-conn.log")
    log = io.StringIO()
    write_conn_log(stream_file(str(corpus_dir / "pcaps" / name)), log)
    ours = parse_log(log.getvalue())[1]
    assert len(ours) == len(logged)
    # Zeek logs a connection when it is removed; match rows by their endpoints, in order.
    endpoints = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")
    for row in logged:
        [match, *_] = [mine for mine in ours if all(mine[k] == row[k] for k in endpoints)]
        ours.remove(match)
        expected = {k: row[k] for k in COMPARED if k in row}
        if name == "zeek_retransmit-fast009.pcap":
            expected.pop("history")
        assert {k: match[k] for k in expected} == expected


def test_a_connection_given_up_by_its_timer_says_which_in_the_log_and_the_summary(tmp_path) -> None:
    """A SYN resent 6 s later: the first attempt is given up (attempt timer), the second not."""
    from pcap_builder import tcp_packet

    syn = tcp_packet(4, "10.0.0.1", 40000, "10.0.0.2", 80, "S", 100)
    path = write_capture(tmp_path / "late.pcap", [syn, syn], step=6.0)
    rows = [line.split("\t") for line in run("analyze", "--format", "conn", str(path)).stdout.splitlines()]
    fields = next(row for row in rows if row[0] == "#fields")[1:]
    data = [dict(zip(fields, row, strict=True)) for row in rows if not row[0].startswith("#")]
    assert [row["expired"] for row in data] == ["attempt", "-"]
    summary = json.loads(run("analyze", "--summary", "--format", "json", str(path)).stdout)
    assert summary["expired"] == {"attempt": 1}
    assert (
        "attempts (only SYNs and SYN/ACKs, or never answered)"
        in run("analyze", "--summary", str(path)).stdout
    )


def test_fins_ended_by_a_reset_are_logged_as_fin_then_reset() -> None:
    """fin-wait-2-timeout: both FINs sent, the second answered by a RST from the client whose
    socket was gone. The FINs' shape is four-way; the log tells how it ended."""
    _header, rows, whole = _both(CAPTURES / "fin-wait-2-timeout.pcap")
    [connection] = whole["connections"]
    assert (connection["close"]["shape"], connection["close"]["ending"]) == ("four-way", "fin-then-reset")
    assert [row["close_shape"] for row in rows] == ["fin-then-reset"]
