#!/usr/bin/env python3
"""fake_control.py - a stand-in for stubd's control socket, for the tests
of stubctl's own side (control_proto.h).

    fake_control.py SOCKET LOG [--exit N] [--body TEXT] [--reply-file FILE]
                    [--ready FILE]

Listens on the unix socket SOCKET and serves one connection at a time:
reads the request up to the client's shutdown and appends it to LOG as one
line (its final newline taken off, any other shown as \\n and a missing
one as <no newline>, so that a malformed request cannot pass for a good
one), then answers "STUBCTL1 N\\n" and TEXT (default: exit 0, no body).
With --reply-file, a FILE that exists holds the exit status on its first
line and the body after it, read afresh for each connection, so that a
test can change the answer without a restart. --ready FILE is created once
the socket listens. Runs until killed.
Python 3 standard library only.
"""
import argparse
import os
import socket
import sys


def read_request(conn):
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk


def reply_for(args):
    if args.reply_file and os.path.exists(args.reply_file):
        with open(args.reply_file, "rb") as f:
            status, _, body = f.read().partition(b"\n")
        return b"STUBCTL1 " + status.strip() + b"\n" + body
    return b"STUBCTL1 %d\n" % args.exit + args.body.encode()


def main():
    p = argparse.ArgumentParser(description="fake stubd control socket")
    p.add_argument("socket")
    p.add_argument("log")
    p.add_argument("--exit", type=int, default=0)
    p.add_argument("--body", default="")
    p.add_argument("--reply-file")
    p.add_argument("--ready")
    args = p.parse_args()

    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    srv.listen(8)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        conn, _ = srv.accept()
        with conn:
            req = read_request(conn)
            ended = req.endswith(b"\n")
            line = (req[:-1] if ended else req).replace(b"\n", b"\\n")
            if not ended:
                line += b"<no newline>"
            with open(args.log, "ab") as log:
                log.write(line + b"\n")
            try:
                conn.sendall(reply_for(args))
            except OSError as e:
                print("fake_control: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    main()
