"""A client and a server that end their connections with RSTs, four ways, one after another:

1. the server answers, shuts its side down and closes with the request's rest unread
   (the kernel's reason: TCP_ABORT_ON_CLOSE, from FIN_WAIT_1 or FIN_WAIT_2);
2. the client closes with SO_LINGER {on, 0 s} (TCP_STATE: close() goes through tcp_disconnect);
3. the client connects to a port nobody listens on (NO_SOCKET: refused);
4. the server closes, and the client sends after it (a closed socket answers data).

Try it under the microscope:  make run CMD="python3 examples/abort_pair.py"
"""

import os
import socket
import struct
import time

PORT, CLOSED_PORT = 7001, 7002

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", PORT))
listener.listen(4)

if os.fork() == 0:  # the client
    listener.close()
    # 1. a request longer than the server reads
    client = socket.create_connection(("127.0.0.1", PORT))
    client.sendall(b"GET / " + b"x" * 2000)
    print("client 1 got", client.recv(1024))
    time.sleep(0.2)
    client.close()
    # 2. an abortive close
    client = socket.create_connection(("127.0.0.1", PORT))
    client.sendall(b"hello")
    client.recv(1024)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    # 3. nobody listens
    try:
        socket.create_connection(("127.0.0.1", CLOSED_PORT))
    except ConnectionRefusedError:
        print("client 3 refused")
    # 4. data after the server's close
    client = socket.create_connection(("127.0.0.1", PORT))
    client.recv(1024)  # b"": the server has closed
    time.sleep(0.1)
    client.sendall(b"anyone?")
    time.sleep(0.1)
    client.close()
    os._exit(0)

# the server
connection, _peer = listener.accept()
connection.recv(10)  # the rest stays unread
connection.sendall(b"HTTP/1.0 400 too long\r\n\r\n")
connection.shutdown(socket.SHUT_WR)
time.sleep(0.1)
connection.close()
connection, _peer = listener.accept()
connection.sendall(connection.recv(1024))
time.sleep(0.2)
connection.close()
connection, _peer = listener.accept()
connection.close()
time.sleep(0.5)
listener.close()
os.wait()
