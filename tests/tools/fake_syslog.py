#!/usr/bin/env python3
"""fake_syslog.py - a stand-in for syslogd's /dev/log, for the test of
what stubd logs once it has detached from its terminal.

    fake_syslog.py SOCKET LOG [--ready FILE]

Binds the unix datagram socket SOCKET (mode 0666: stubd has dropped root
by the time it logs there) and appends every message it receives to LOG
as one line, raw as syslog(3) sent it ("<PRI>TIMESTAMP stubd[PID]: text"),
any newline inside shown as \\n. --ready FILE is created once the socket
is bound. Runs until killed.
Python 3 standard library only.
"""
import argparse
import os
import socket


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("log")
    p.add_argument("--ready")
    args = p.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(args.socket)
    os.chmod(args.socket, 0o666)
    if args.ready:
        open(args.ready, "w").close()
    with open(args.log, "ab", buffering=0) as out:
        while True:
            msg = s.recv(65536)
            out.write(msg.rstrip(b"\n").replace(b"\n", b"\\n") + b"\n")


if __name__ == "__main__":
    main()
