#!/usr/bin/env python3
"""Console-socket receiver for e2e tests (runc's --console-socket protocol).

Usage: console_recv.py SOCKET OUTFILE [INPUT]
Listens on SOCKET, accepts one connection, receives the pty master over
SCM_RIGHTS, optionally writes INPUT to it, and copies everything the pty
prints to OUTFILE until the container side closes. The pty name sent as the
message data is written to OUTFILE.name.
"""
import array
import os
import socket
import sys


def main():
    path, out = sys.argv[1], sys.argv[2]
    data = sys.argv[3] if len(sys.argv) > 3 else None
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    open(path + ".ready", "w").close()
    conn, _ = srv.accept()
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, typ, payload in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    with open(out + ".name", "w") as f:
        f.write(msg.decode(errors="replace"))
    if not fds:
        sys.exit("no fd received")
    master = fds[0]
    if data is not None:
        os.write(master, data.encode())
    with open(out, "wb") as f:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            f.write(chunk)
            f.flush()


if __name__ == "__main__":
    main()
