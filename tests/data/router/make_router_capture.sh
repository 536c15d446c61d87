#!/bin/bash
# Makes router-uplink-queue.pcap: `tcpdump -i any` on a Linux router between a client and a
# server, each in a network namespace of its own, whose port towards the server has a slow
# queue (tbf: 2 Mbit/s, 40 ms): every packet captured as it came in and, its TTL one lower,
# as it left, the client's up to 40 ms later, what GRO coalesced on the way in leaving in
# GSO pieces, and what the queue dropped resent by the client. Two connections (100 bytes,
# 80,000 bytes, each half-closed by the client) and one refused. Cut to 128 bytes a frame
# (editcap -s 128): the headers are what the tests read. Run as root; it touches nothing
# outside the three namespaces it makes (and deletes).
# tshark's count of retransmissions among the frames as they came in (TTL 64), measured then:
#   tshark -r router-uplink-queue.pcap -Y 'ip.ttl==64 && tcp.analysis.retransmission' | wc -l  -> 33
set -euo pipefail
out=${1:-router-uplink-queue.pcap}
work=$(mktemp -d)
names=(rq-client rq-router rq-server)
cleanup() {
    [ -n "${dump:-}" ] && kill "$dump" 2>/dev/null || true
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
    for n in "${names[@]}"; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
for n in "${names[@]}"; do ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add cr0 netns rq-client type veth peer name rc0 netns rq-router
ip link add rs0 netns rq-router type veth peer name sr0 netns rq-server
ip -n rq-client addr add 10.7.1.1/24 dev cr0 && ip -n rq-client link set cr0 up
ip -n rq-client route add default via 10.7.1.254
ip -n rq-router addr add 10.7.1.254/24 dev rc0 && ip -n rq-router link set rc0 up
ip -n rq-router addr add 10.7.2.254/24 dev rs0 && ip -n rq-router link set rs0 up
ip -n rq-server addr add 10.7.2.2/24 dev sr0 && ip -n rq-server link set sr0 up
ip -n rq-server route add default via 10.7.2.254
ip netns exec rq-router sysctl -qw net.ipv4.ip_forward=1
ip netns exec rq-router tc qdisc add dev rs0 root tbf rate 2mbit burst 3000 latency 40ms
ip netns exec rq-server python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.7.2.2", 8080)); s.listen()
for _ in range(2):
    c, _ = s.accept(); got = b""
    while chunk := c.recv(65536):
        got += chunk
    c.sendall(b"ok %d" % len(got)); c.close()
' &
server=$!
sleep 0.5
ip netns exec rq-router tcpdump -i any -U -w "$work/full.pcap" 2>/dev/null &
dump=$!
sleep 1
ip netns exec rq-client python3 -c '
import socket
for n in (100, 80000):
    c = socket.create_connection(("10.7.2.2", 8080)); c.sendall(b"x" * n); c.shutdown(socket.SHUT_WR)
    c.recv(100); c.close()
c = socket.socket(); c.settimeout(3)
try:
    c.connect(("10.7.2.2", 8081))
except OSError:
    pass
'
sleep 1
kill "$dump"; wait "$dump" || true; dump=
editcap -s 128 "$work/full.pcap" "$out"
