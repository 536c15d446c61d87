"""strace lines -> the call log's entries, on lines strace 6.1 wrote for curl and for a
forking client/server (interrupted calls and their resumption included)."""

from __future__ import annotations

from analyzer.capture.strace_calls import calls_from_strace

CURL_REFUSED = """\
20617 1795365124.293998 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 5<TCP:[79853]> <0.000018>
20617 1795365124.294100 openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 6</etc/hosts> <0.000020>
20617 1795365124.296026 setsockopt(5<TCP:[79853]>, SOL_TCP, TCP_NODELAY, [1], 4) = 0 <0.000019>
20617 1795365124.297873 connect(5<TCP:[79853]>, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress) <0.000092>
20617 1795365124.298000 recvfrom(5<TCP:[79853]>, 0x7ffd, 1024, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable) <0.000005>
20617 1795365124.298524 getsockopt(5<TCP:[79853]>, SOL_SOCKET, SO_ERROR, [ECONNREFUSED], [4]) = 0 <0.000016>
20617 1795365124.299198 close(5<TCP:[79853]>) = 0 <0.000029>
20617 1795365124.299300 close(6</etc/hosts>) = 0 <0.000010>
"""

ECHO_PAIR = """\
20665 1795365164.597700 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[80301]> <0.000020>
20665 1795365164.598300 bind(3<TCP:[80301]>, {sa_family=AF_INET, sin_port=htons(7000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000010>
20665 1795365164.598500 listen(3<TCP:[127.0.0.1:7000]>, 1) = 0 <0.000008>
20665 1795365164.599422 accept4(3<TCP:[127.0.0.1:7000]>,  <unfinished ...>
20706 1795365164.604401 connect(3<TCP:[80302]>, {sa_family=AF_INET, sin_port=htons(7000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000091>
20665 1795365164.604740 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(37414), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:7000->127.0.0.1:37414]> <0.005299>
20706 1795365164.604991 sendto(3<TCP:[127.0.0.1:37414->127.0.0.1:7000]>, "hello", 5, 0, NULL, 0 <unfinished ...>
20706 1795365164.605370 <... sendto resumed>) = 5 <0.000147>
20665 1795365164.605451 recvfrom(4<TCP:[127.0.0.1:7000->127.0.0.1:37414]>, "hello", 1024, 0, NULL, NULL) = 5 <0.000010>
20665 1795365164.606000 shutdown(4<TCP:[127.0.0.1:7000->127.0.0.1:37414]>, SHUT_WR) = 0 <0.000010>
"""


def test_a_refused_non_blocking_connect_as_curl_makes_it() -> None:
    calls = calls_from_strace(CURL_REFUSED)
    assert [(c["call"], c["result"], c["errno"]) for c in calls] == [
        ("socket(SOCK_STREAM)", "fd 5", None),
        ("setsockopt(TCP_NODELAY, 1)", "ok", None),
        ("connect(127.0.0.1:1)", "EINPROGRESS", "EINPROGRESS"),
        ("getsockopt(SO_ERROR)", "ECONNREFUSED", "ECONNREFUSED"),
        ("close()", "ok", None),
    ]  # the file, and the EAGAIN of a socket not yet readable, are left out
    assert {c["side"] for c in calls} == {"client"}
    connect = calls[2]
    assert (
        connect["time"] == 1795365124.297873 and abs(connect["end_time"] - connect["time"] - 0.000092) < 1e-6
    )


def test_two_processes_sides_and_resumed_calls() -> None:
    calls = calls_from_strace(ECHO_PAIR)
    drawn = [(c["side"], c["call"], c["result"]) for c in calls]
    assert drawn == [
        ("server", "socket(SOCK_STREAM)", "fd 3"),
        ("server", "bind(127.0.0.1:7000)", "ok"),
        ("server", "listen(1)", "ok"),
        ("server", "accept()", "fd 4 from port 37414"),
        ("client", "connect(127.0.0.1:7000)", "ok"),
        ("client", 'send("hello")', "ok (5 bytes)"),
        ("server", "recv()", '"hello" (5 bytes)'),
        ("server", "shutdown(SHUT_WR)", "ok"),
    ]
    accept = calls[3]
    # An interrupted call starts when it was made and ends when it returned.
    assert accept["time"] == 1795365164.599422 and accept["end_time"] > 1795365164.6047


def test_lines_that_are_not_calls_are_passed_over() -> None:
    assert calls_from_strace("garbage\n20617 +++ exited with 0 +++\n\n") == []
