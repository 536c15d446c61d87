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


# One Python program, strace 6.1: the main thread listens, connects and talks as the client;
# a thread accepts, another handles the connection (each strace pid is a thread).
THREADED = """\
30100 1796122619.725921 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[90493]> <0.000048>
30100 1796122619.726257 setsockopt(3<TCP:[90493]>, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0 <0.000039>
30100 1796122619.726532 bind(3<TCP:[90493]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000045>
30100 1796122619.726812 listen(3<TCP:[127.0.0.1:9100]>, 5) = 0 <0.000040>
30141 1796122619.727910 accept4(3<TCP:[127.0.0.1:9100]>,  <unfinished ...>
30100 1796122619.731522 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 5<TCP:[90494]> <0.000042>
30100 1796122619.731803 connect(5<TCP:[90494]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000215>
30141 1796122619.732220 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(34940), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:9100->127.0.0.1:34940]> <0.004286>
30100 1796122619.732422 sendto(5<TCP:[127.0.0.1:34940->127.0.0.1:9100]>, "hello", 5, 0, NULL, 0 <unfinished ...>
30100 1796122619.732673 <... sendto resumed>) = 5 <0.000057>
30100 1796122619.733047 recvfrom(5<TCP:[127.0.0.1:34940->127.0.0.1:9100]>,  <unfinished ...>
30142 1796122619.733708 recvfrom(4<TCP:[127.0.0.1:9100->127.0.0.1:34940]>, "hello", 100, 0, NULL, NULL) = 5 <0.000026>
30142 1796122619.733792 sendto(4<TCP:[127.0.0.1:9100->127.0.0.1:34940]>, "hi", 2, 0, NULL, 0 <unfinished ...>
30100 1796122619.733856 <... recvfrom resumed>"hi", 10, 0, NULL, NULL) = 2 <0.000797>
30142 1796122619.733875 <... sendto resumed>) = 2 <0.000063>
30100 1796122619.733901 close(5<TCP:[127.0.0.1:34940->127.0.0.1:9100]> <unfinished ...>
30142 1796122619.733917 close(4<TCP:[127.0.0.1:9100->127.0.0.1:34940]> <unfinished ...>
30100 1796122619.733952 <... close resumed>) = 0 <0.000042>
30142 1796122619.733988 <... close resumed>) = 0 <0.000062>
30100 1796122619.736554 close(3<TCP:[127.0.0.1:9100]>) = 0 <0.000037>
"""


def test_a_call_is_the_side_its_socket_is_on_whatever_thread_made_it() -> None:
    """Before, the handler thread (which never listens or accepts) was the client, and all
    of one process's calls one side. Each call is tagged with its socket, the same number for
    an inode-named socket() and the addresses its descriptor shows next."""
    calls = calls_from_strace(THREADED)
    assert [(c["side"], c["call"], c["socket"]["id"] if c["socket"] else None) for c in calls] == [
        ("server", "socket(SOCK_STREAM)", 0),
        ("server", "setsockopt(SO_REUSEADDR, 1)", 0),
        ("server", "bind(127.0.0.1:9100)", 0),
        ("server", "listen(5)", 0),
        ("server", "accept()", 0),
        ("client", "socket(SOCK_STREAM)", 2),
        ("client", "connect(127.0.0.1:9100)", 2),
        ("client", 'send("hello")', 2),
        ("client", "recv()", 2),
        ("server", "recv()", 1),
        ("server", 'send("hi")', 1),
        ("client", "close()", 2),
        ("server", "close()", 1),
        ("server", "close() listener", 0),
    ]
    accept = calls[4]
    assert accept["accepted"] == {"id": 1, "fd": 4, "local": "127.0.0.1:9100", "peer": "127.0.0.1:34940"}
    assert calls[5]["socket"] == {"id": 2, "fd": 5, "local": "127.0.0.1:34940", "peer": "127.0.0.1:9100"}
    assert calls[0]["socket"] == {"id": 0, "fd": 3, "local": "127.0.0.1:9100", "peer": None}


def test_ipv6_socket_names_are_read_whole() -> None:
    line = (
        "30100 1796122619.800000 accept4(3<TCPv6:[[::1]:9100]>, {sa_family=AF_INET6}, [28], 0) = "
        "4<TCPv6:[[::1]:9100->[::1]:34950]> <0.000100>\n"
        "30100 1796122619.700000 listen(3<TCPv6:[[::1]:9100]>, 5) = 0 <0.000010>\n"
    )
    listen, accept = calls_from_strace(line)
    assert listen["socket"] == {"id": 0, "fd": 3, "local": "[::1]:9100", "peer": None}
    assert accept["accepted"] == {"id": 1, "fd": 4, "local": "[::1]:9100", "peer": "[::1]:34950"}


def test_eagain_after_a_send_timeout_is_kept_a_non_blocking_one_is_not() -> None:
    """A blocking send() that gave up after its 2 s SO_SNDTIMEO is the error the program
    saw; a non-blocking recv() with nothing to read yet is noise."""
    trace = (
        '20617 1795365124.000000 sendto(5<TCP:[127.0.0.1:40000->127.0.0.1:80]>, "xxxx"..., 65536, 0, NULL, 0) '
        "= -1 EAGAIN (Resource temporarily unavailable) <2.001342>\n"
        "20617 1795365126.100000 recvfrom(5<TCP:[127.0.0.1:40000->127.0.0.1:80]>, 0x7ffd, 1024, 0, NULL, NULL) "
        "= -1 EAGAIN (Resource temporarily unavailable) <0.000005>\n"
    )
    [send] = calls_from_strace(trace)
    assert (send["call"], send["errno"], round(send["end_time"] - send["time"], 3)) == (
        'send("xxxx"...)',
        "EAGAIN",
        2.001,
    )


# From a review: a client whose connection was reset before its socket had an address
# (strace names it by inode throughout), whose fd 4 accept() hands out next.
RESET_THEN_REUSED_FD = """\
100 1796124204.790461 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[142733]> <0.000052>
100 1796124204.791328 bind(3<TCP:[142733]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000046>
100 1796124204.791616 listen(3<TCP:[127.0.0.1:9100]>, 5) = 0 <0.000046>
100 1796124204.791969 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 4<TCP:[142734]> <0.000039>
100 1796124204.792250 connect(4<TCP:[142734]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000110>
100 1796124204.843417 recvfrom(4<TCP:[142734]>, 0x7f732dbb66f0, 10, 0, NULL, NULL) = -1 ECONNRESET (Connection reset by peer) <0.000049>
100 1796124204.843807 close(4<TCP:[142734]>) = 0 <0.000036>
100 1796124204.849530 accept4(3<TCP:[127.0.0.1:9100]>, {sa_family=AF_INET, sin_port=htons(41930), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:9100->127.0.0.1:41930]> <0.000100>
100 1796124204.849936 sendto(4<TCP:[127.0.0.1:9100->127.0.0.1:41930]>, "x", 1, 0, NULL, 0) = 1 <0.000060>
100 1796124204.850342 close(4<TCP:[127.0.0.1:9100->127.0.0.1:41930]>) = 0 <0.000049>
"""

# Two processes, each with its own fd 3.
TWO_PROCESSES_ONE_FD = """\
100 1796124204.700000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[142733]> <0.000052>
100 1796124204.701000 bind(3<TCP:[142733]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("0.0.0.0")}, 16) = 0 <0.000046>
100 1796124204.702000 listen(3<TCP:[0.0.0.0:9100]>, 5) = 0 <0.000046>
200 1796124204.800000 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[150001]> <0.000039>
200 1796124204.800300 connect(3<TCP:[150001]>, {sa_family=AF_INET, sin_port=htons(9100), sin_addr=inet_addr("127.0.0.1")}, 16) = 0 <0.000110>
100 1796124204.801000 accept4(3<TCP:[0.0.0.0:9100]>, {sa_family=AF_INET, sin_port=htons(41930), sin_addr=inet_addr("127.0.0.1")}, [16], SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:9100->127.0.0.1:41930]> <0.000100>
200 1796124204.900000 sendto(3<TCP:[127.0.0.1:41930->127.0.0.1:9100]>, "hello", 5, 0, NULL, 0) = 5 <0.000060>
"""

# A dual-stack listener ([::]) and an IPv4 client: its sockets are ::ffff:127.0.0.1.
DUAL_STACK = """\
100 1796124204.700000 listen(3<TCPv6:[[::]:9100]>, 5) = 0 <0.000046>
100 1796124204.801000 accept4(3<TCPv6:[[::]:9100]>, {sa_family=AF_INET6, sin6_port=htons(41930)}, [28], SOCK_CLOEXEC) = 4<TCPv6:[[::ffff:127.0.0.1]:9100->[::ffff:127.0.0.1]:41930]> <0.000100>
100 1796124204.802000 recvfrom(4<TCPv6:[[::ffff:127.0.0.1]:9100->[::ffff:127.0.0.1]:41930]>, "hello", 100, 0, NULL, NULL) = 5 <0.000026>
100 1796124204.803000 close(4<TCPv6:[[::ffff:127.0.0.1]:9100->[::ffff:127.0.0.1]:41930]>) = 0 <0.000026>
"""


def _shown(calls: list) -> list[tuple]:
    return [(c["side"], c["call"], c["socket"]["id"]) for c in calls]


def test_a_closed_inode_named_socket_keeps_its_own_number_and_side() -> None:
    """Its close() does not take the name of the next socket given fd 4 (the accepted one),
    its calls stay the client's (its connect() says so), and the accepted socket is new."""
    assert _shown(calls_from_strace(RESET_THEN_REUSED_FD)) == [
        ("server", "socket(SOCK_STREAM)", 0),
        ("server", "bind(127.0.0.1:9100)", 0),
        ("server", "listen(5)", 0),
        ("client", "socket(SOCK_STREAM)", 1),
        ("client", "connect(127.0.0.1:9100)", 1),
        ("client", "recv()", 1),
        ("client", "close()", 1),
        ("server", "accept()", 0),
        ("server", 'send("x")', 2),
        ("server", "close()", 2),
    ]


def test_descriptors_of_two_processes_are_not_mixed() -> None:
    calls = calls_from_strace(TWO_PROCESSES_ONE_FD)
    assert _shown(calls)[:5] == [
        ("server", "socket(SOCK_STREAM)", 0),
        ("server", "bind(0.0.0.0:9100)", 0),
        ("server", "listen(5)", 0),
        ("client", "socket(SOCK_STREAM)", 1),
        ("client", "connect(127.0.0.1:9100)", 1),
    ]
    assert calls[3]["socket"]["peer"] == "127.0.0.1:9100"


def test_a_dual_stack_servers_calls_are_the_ipv4_connections() -> None:
    from analyzer.call_sockets import calls_on

    calls = calls_from_strace(DUAL_STACK)
    ends = (("127.0.0.1", 41930), ("127.0.0.1", 9100))
    mine = calls_on(calls, ends, 1796124204.80, 1796124204.81)
    assert [c["call"] for c in mine] == ["listen(5)", "accept()", "recv()", "close()"]


def test_one_4_tuple_used_twice_is_two_sockets() -> None:
    line = "100 {t} {call}(5<TCP:[127.0.0.1:40000->127.0.0.1:80]>{rest}) = 0 <0.000010>\n"
    trace = "".join(
        line.format(t=t, call=call, rest=rest)
        for t, call, rest in [
            ("1.0", "sendto", ', "a", 1, 0, NULL, 0'), ("1.1", "close", ""),
            ("2.0", "sendto", ', "b", 1, 0, NULL, 0'), ("2.1", "close", ""),
        ]
    )  # fmt: skip
    assert [c["socket"]["id"] for c in calls_from_strace(trace)] == [0, 0, 1, 1]


def test_a_call_a_signal_interrupted_says_so_not_the_kernels_errno() -> None:
    # A background server the sandbox ended with SIGTERM, waiting in accept().
    trace = """\
100 1700000000.000100 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[123]> <0.000010>
100 1700000000.000200 listen(3<TCP:[127.0.0.1:8000]>, 5) = 0 <0.000010>
100 1700000000.000300 accept4(3<TCP:[127.0.0.1:8000]>, 0x7ffd, 0x7ffd, SOCK_CLOEXEC) = ? ERESTARTSYS (To be restarted if SA_RESTART is set) <2.000010>
100 1700000002.000400 --- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---
100 1700000002.000500 +++ killed by SIGTERM +++
"""
    accept = calls_from_strace(trace)[-1]
    assert (accept["call"], accept["result"], accept["errno"]) == (
        "accept()",
        "interrupted by a signal",
        None,
    )
