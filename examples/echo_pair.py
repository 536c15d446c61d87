"""A client and a server in two processes: the server echoes one message, then both close.

Try it under the microscope:  make run CMD="python3 examples/echo_pair.py"
"""

import os
import socket
import time

PORT = 7000

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", PORT))
listener.listen(1)

if os.fork() == 0:  # the client
    listener.close()
    client = socket.create_connection(("127.0.0.1", PORT))
    client.sendall(b"hello")
    print("client got", client.recv(1024))
    client.close()
    os._exit(0)

connection, _peer = listener.accept()  # the server
data = connection.recv(1024)
connection.sendall(data)
time.sleep(0.1)  # the client closes first: it holds TIME_WAIT
print("server got EOF:", connection.recv(1024) == b"")
connection.close()
listener.close()
os.wait()
