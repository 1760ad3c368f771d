#!/usr/bin/env python3
"""fake_tls.py - a DNS-over-TLS server (RFC 7858) that misbehaves on
request, for the tests of stubd's TLS client (tests/integration/dot_faults.sh).

    fake_tls.py --listen ADDR:PORT --cert PEM --key PEM --mode MODE
                [--answer IPV4] [--log FILE] [--ready FILE]
                [--split-delay MS] [--bad-conns N] [--tls-max 1.2|1.3]
                [--seed N] [--handshake-delay MS]

ADDR is a loopback address (127.x.y.z or [::1]): nothing else is served.
Every connection gets a thread of its own. Modes:

  ok             answers each query: the question echoed, and for type A
                 one record with --answer (TTL 300); an OPT record when the
                 query had one. Queries whose first label is "slow" are
                 answered 300 ms later, after the ones behind them.
  garbage        completes the handshake, then answers each query with
                 random bytes (64 to 512, no framing: the length prefix the
                 client reads is random too)
  garbage-framed like garbage, but each answer is a well-formed length
                 prefix followed by that many random bytes (12 to 512)
                 (--seed N makes the random bytes of both the same each run)
  short-frame    answers each query with a frame too short to be a DNS
                 message: the length prefix 00 02 and two bytes
  not-tls        a plain TCP listener: reads the ClientHello and writes
                 junk (not a TLS record) back, then closes
  stall          accepts TCP, reads the ClientHello and never answers it
  split          answers as in ok, each answer written one byte per TLS
                 record (one send per byte), --split-delay ms apart
                 (default 3)
  hang-65535     answers a query with the length prefix ff ff and nothing
                 more, and keeps the connection open
  close-inflight the first --bad-conns connections (default 1) read
                 queries for 200 ms after the first one and close without
                 answering; later connections answer as in ok

The log (--log) has one line per event, flushed at once, so that a test
can count; CONN is the connection's number, from 1:
  conn CONN PEER                        a TCP connection accepted
  tls CONN VERSION resumed=yes|no sni=NAME|-   handshake done
  handshake-failed CONN REASON          handshake refused or broken
  query CONN NAME TYPE id=ID len=LEN    a query read (LEN without prefix)
  bad-query CONN WHY len=LEN            a message that is no query
  close CONN                            the server closed it (on purpose)
  eof CONN                              the client closed it
  error CONN WHY                        the connection broke
--handshake-delay MS holds every TLS handshake that long before answering
the ClientHello (a far server on a slow link), in the modes that do TLS.
--ready FILE is created once the port listens. SIGTERM or SIGINT ends it.
Python 3 standard library only.
"""
import argparse
import ipaddress
import os
import random
import select
import signal
import socket
import ssl
import struct
import sys
import threading
import time

MODES = ("ok", "garbage", "garbage-framed", "short-frame", "not-tls", "stall",
         "split", "hang-65535", "close-inflight")
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX",
         16: "TXT", 28: "AAAA", 33: "SRV", 41: "OPT", 65: "HTTPS", 255: "ANY"}

log_lock = threading.Lock()
log_file = None
conn_lock = threading.Lock()
conn_count = 0
rng = random.Random()


def junk(lo, hi):
    n = rng.randint(lo, hi)
    return bytes(rng.getrandbits(8) for _ in range(n))


def log(line):
    with log_lock:
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()


def parse_listen(s):
    """ADDR:PORT or [ADDR6]:PORT, loopback only."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    addr = ipaddress.ip_address(host)
    if not addr.is_loopback:
        raise ValueError("%s is not a loopback address" % host)
    return addr, int(port)


def parse_question(msg):
    """(id, rd, name, qtype, has_opt) of a query; ValueError if it is not
    one: QR set, QDCOUNT not 1, a compressed or overlong name."""
    if len(msg) < 12:
        raise ValueError("short message (%d bytes)" % len(msg))
    qid, flags, qd, _an, _ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if flags & 0x8000 or qd != 1:
        raise ValueError("not a query (flags %04x, qdcount %d)" % (flags, qd))
    labels, i = [], 12
    while True:
        if i >= len(msg):
            raise ValueError("name runs past the end")
        n = msg[i]
        i += 1
        if n == 0:
            break
        if n > 63 or i + n > len(msg):
            raise ValueError("bad label length %d" % n)
        labels.append(msg[i:i + n].decode("ascii", "replace"))
        i += n
    if i + 4 > len(msg):
        raise ValueError("no type and class")
    qtype, _qclass = struct.unpack("!HH", msg[i:i + 4])
    return qid, flags & 0x0100, ".".join(labels) + ".", qtype, msg[12:i + 4], ar > 0


def answer_for(msg, answer4):
    qid, rd, _name, qtype, question, has_opt = parse_question(msg)
    an = 1 if qtype in (1, 255) else 0
    reply = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, an, 0, 1 if has_opt else 0)
    reply += question
    if an:
        reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + answer4
    if has_opt:
        reply += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return reply


class Conn:
    """One client connection and the mode it is served in."""

    def __init__(self, n, sock, args, ctx):
        self.n, self.sock, self.args, self.ctx = n, sock, args, ctx
        self.answer4 = socket.inet_aton(args.answer)

    def recv_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def read_query(self):
        """The next message, or None at the client's EOF."""
        prefix = self.recv_exact(2)
        if prefix is None:
            return None
        (length,) = struct.unpack("!H", prefix)
        msg = self.recv_exact(length)
        if msg is None:
            return None
        try:
            qid, _rd, name, qtype, _q, _o = parse_question(msg)
            log("query %d %s %s id=%d len=%d" % (self.n, name, TYPES.get(qtype, "TYPE%d" % qtype), qid, length))
        except ValueError as e:
            log("bad-query %d %s len=%d" % (self.n, e, length))
        return msg

    def send(self, data):
        self.sock.sendall(data)

    def send_answer(self, msg):
        try:
            reply = answer_for(msg, self.answer4)
        except ValueError:
            return
        framed = struct.pack("!H", len(reply)) + reply
        if self.args.mode != "split":
            return self.send(framed)
        for i in range(len(framed)):
            self.send(framed[i:i + 1])
            time.sleep(self.args.split_delay / 1000.0)

    def readable(self, timeout):
        """Whether a read would not block for long: decrypted bytes are
        waiting, or the socket has some within timeout (None: forever)."""
        if self.sock.pending():
            return True
        return bool(select.select([self.sock], [], [], timeout)[0])

    def serve(self):
        mode = self.args.mode
        if mode in ("not-tls", "stall"):
            return self.serve_raw(mode)
        if self.args.handshake_delay:
            time.sleep(self.args.handshake_delay / 1000.0)
        tls = self.ctx.wrap_socket(self.sock, server_side=True, do_handshake_on_connect=False)
        tls.sni = "-"
        self.sock = tls
        tls.settimeout(10)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            log("handshake-failed %d %s" % (self.n, getattr(e, "reason", None) or e))
            return
        tls.settimeout(None)
        log("tls %d %s resumed=%s sni=%s" % (self.n, tls.version(), "yes" if tls.session_reused else "no", tls.sni))
        if mode == "close-inflight" and self.n <= self.args.bad_conns:
            return self.close_inflight()
        # One thread reads and writes (an SSL object is not to be shared
        # among threads): "slow" answers wait here, due in order.
        slow = []
        while True:
            now = time.monotonic()
            while slow and slow[0][0] <= now:
                self.send_answer(slow.pop(0)[1])
            if not self.readable(slow[0][0] - now if slow else None):
                continue
            msg = self.read_query()
            if msg is None:
                log("eof %d" % self.n)
                return
            if mode == "garbage":
                self.send(junk(64, 512))
            elif mode == "garbage-framed":
                data = junk(12, 512)
                self.send(struct.pack("!H", len(data)) + data)
            elif mode == "short-frame":
                self.send(b"\x00\x02" + msg[:2])
            elif mode == "hang-65535":
                self.send(b"\xff\xff")
            elif msg[12:13] == b"\x04" and msg[13:17].lower() == b"slow":
                slow.append((time.monotonic() + 0.3, msg))
            else:
                self.send_answer(msg)

    def close_inflight(self):
        """Reads the first query, and whatever follows within 200 ms, then
        closes: every query sent on this connection is left unanswered."""
        if self.read_query() is None:
            log("eof %d" % self.n)
            return
        deadline = time.monotonic() + 0.2
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                if self.read_query() is None:
                    log("eof %d" % self.n)
                    return
            except (socket.timeout, ssl.SSLError):
                break
        log("close %d" % self.n)
        self.sock.settimeout(0.2)
        try:
            self.sock.unwrap()  # close_notify, as a server that means it
        except (ssl.SSLError, OSError):
            pass

    def serve_raw(self, mode):
        """not-tls and stall: TCP only, the ClientHello read and either
        answered with junk or left unanswered until the client gives up."""
        self.sock.settimeout(5)
        try:
            hello = self.sock.recv(4096)
        except OSError:
            hello = b""
        if not hello:
            log("eof %d" % self.n)
            return
        if mode == "not-tls":
            # Starts like an HTTP answer: no TLS record type (0x14-0x18).
            self.sock.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + os.urandom(200))
            log("close %d" % self.n)
            return
        self.sock.settimeout(None)
        while self.sock.recv(4096):
            pass
        log("eof %d" % self.n)


def handle(n, sock, args, ctx):
    conn = Conn(n, sock, args, ctx)
    try:
        conn.serve()
    except (OSError, ssl.SSLError) as e:
        log("error %d %s" % (n, e))
    finally:
        try:
            conn.sock.close()
        except OSError:
            pass


def make_context(args):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if args.tls_max == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    def on_sni(tls, name, _ctx):
        tls.sni = name or "-"
    ctx.sni_callback = on_sni
    return ctx


def main():
    global log_file, conn_count
    p = argparse.ArgumentParser(description="fault-injecting DNS-over-TLS server")
    p.add_argument("--listen", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument("--answer", default="192.0.2.1")
    p.add_argument("--log")
    p.add_argument("--ready")
    p.add_argument("--split-delay", type=float, default=3)
    p.add_argument("--bad-conns", type=int, default=1)
    p.add_argument("--tls-max", choices=("1.2", "1.3"), default="1.3")
    p.add_argument("--seed", type=int)
    p.add_argument("--handshake-delay", type=float, default=0)
    args = p.parse_args()
    if args.seed is not None:
        rng.seed(args.seed)
    addr, port = parse_listen(args.listen)
    socket.inet_aton(args.answer)

    def on_term(_sig, _frame):
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    log_file = open(args.log, "a") if args.log else None
    ctx = make_context(args)
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((str(addr), port))
    srv.listen(128)
    if args.ready:
        open(args.ready, "w").close()
    while True:
        sock, peer = srv.accept()
        with conn_lock:
            conn_count += 1
            n = conn_count
        log("conn %d %s:%d" % (n, peer[0], peer[1]))
        threading.Thread(target=handle, args=(n, sock, args, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
