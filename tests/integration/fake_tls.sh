# fake_tls.py, the misbehaving DNS-over-TLS server of dot_faults.sh, seen
# from standard clients (kdig, openssl s_client, Python's ssl) so that a
# stubd test failing against it is stubd's doing: each mode does what it
# says, and its log counts connections, handshakes and queries.
. "$(dirname "$0")/lib.sh"

ADDR=$(rand_addr)
tls_cert_make dot.test "$ADDR"

# kd PORT [kdig args...]: one try, 2 s at most, the test CA, dot.test.
kd() {
	local port=$1
	shift
	kdig +retry=0 +timeout=2 @"$ADDR" -p "$port" +tls-ca="$TLS_CA" +tls-hostname=dot.test "$@"
}
# pyclient PORT [--resume N] NAME...: Python's ssl client (certificate
# checked for dot.test), every query written at once, then prints per
# reply "ID ANCOUNT" in arrival order and "reads N" (TLS records read),
# once there are as many replies as names or after 1 s of quiet. With --resume N, N connections with one session,
# printing "resumed yes|no" for each.
pyclient() {
	python3 - "$ADDR" "$TLS_CA" "$@" <<-'PY'
		import socket, ssl, struct, sys
		addr, ca, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
		names = sys.argv[4:]
		ctx = ssl.create_default_context(cafile=ca)
		if names[:1] == ["--resume"]:
		    session = None
		    for _ in range(int(names[1])):
		        s = ctx.wrap_socket(socket.create_connection((addr, port)), server_hostname="dot.test", session=session)
		        s.settimeout(0.3)
		        try:
		            s.recv(1)  # TLS 1.3: the tickets come after the handshake
		        except (socket.timeout, ssl.SSLError):
		            pass
		        print("resumed", "yes" if s.session_reused else "no")
		        session = s.session
		        s.close()
		    sys.exit(0)
		s = ctx.wrap_socket(socket.create_connection((addr, port)), server_hostname="dot.test")
		out = b""
		for i, n in enumerate(names):
		    q = struct.pack("!HHHHHH", i + 1, 0x100, 1, 0, 0, 0)
		    q += b"".join(bytes([len(l)]) + l.encode() for l in n.split(".")) + b"\0\0\1\0\1"
		    out += struct.pack("!H", len(q)) + q
		s.sendall(out)
		s.settimeout(1)
		data, reads, replies = b"", 0, 0
		try:
		    while replies < len(names):
		        chunk = s.recv(65536)
		        if not chunk:
		            break
		        reads += 1
		        data += chunk
		        while len(data) >= 2 and len(data) >= 2 + (data[0] << 8 | data[1]):
		            n = data[0] << 8 | data[1]
		            print(struct.unpack("!H", data[2:4])[0], struct.unpack("!H", data[8:10])[0])
		            replies += 1
		            data = data[2 + n:]
		except socket.timeout:
		    pass
		print("reads", reads)
	PY
}

# ok: kdig checks the certificate and gets --answer; the log counts.
fake_tls_start OK "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" ok --answer 192.0.2.7
out=$(kd "${OK##*:}" www.example.test A) || fail "kdig to ok: $out"
check_match "ok: a TLS session" '^;; TLS session \(TLS1\.3\)' "$out"
check_match "ok: the answer" '^www\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7$' "$out"
check_match "ok: the OPT record echoed" 'ADDITIONAL: 1' "$out"
check_eq "ok: AAAA gets no record" "" "$(kd "${OK##*:}" +short www.example.test AAAA)"
check_eq "ok: the log has two connections" 2 "$(count_log OK '^conn ')"
check_eq "ok: two handshakes, SNI logged" 2 "$(count_log OK '^tls [0-9]* TLSv1\.3 resumed=no sni=dot\.test$')"
check_match "ok: the query logged with its length" '^query 1 www\.example\.test\. A id=[0-9]+ len=[0-9]+$' "$(cat "$TMP/OK.log")"
check "ok: each client's EOF logged" wait_for 3 grep -q '^eof 2$' "$TMP/OK.log"
# The "slow" first query is answered last: out of order, on one connection.
out=$(pyclient "${OK##*:}" slow.a.test b.test c.test)
check_eq "ok: pipelined, answered out of order" "2 1 3 1 1 1 reads 3" "$(xargs <<<"$out")"
out=$(pyclient "${OK##*:}" --resume 3)
check_eq "ok: a session resumes" "resumed no resumed yes resumed yes" "$(xargs <<<"$out")"
check_eq "ok: resumptions logged" 2 "$(count_log OK 'resumed=yes')"
out=$(kd "${OK##*:}" +tls-hostname=other.test a.test 2>&1) && fail "kdig took dot.test for other.test"
check "ok: a client refusing the certificate is logged" wait_for 3 grep -q '^handshake-failed ' "$TMP/OK.log"

# --tls-max 1.2
fake_tls_start OLD "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" ok --tls-max 1.2
check_match "--tls-max 1.2: TLS 1.2" '^;; TLS session \(TLS1\.2\)' "$(kd "${OLD##*:}" a.test A)"

# split: the same answers, one byte per TLS record.
fake_tls_start SPLIT "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" split --split-delay 1
out=$(pyclient "${SPLIT##*:}" a.test bb.test)
# 2 + 12 + 8 + 4 + 16 = 42 and 43 bytes with their prefixes.
check_eq "split: both answers, in 85 records" "1 1 2 1 reads 85" "$(xargs <<<"$out")"
check_eq "split: kdig puts it together" 192.0.2.1 "$(kd "${SPLIT##*:}" +short a.test A)"

# garbage: a handshake, then random bytes; garbage-framed: a frame of them.
fake_tls_start GARB "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" garbage
out=$(kd "${GARB##*:}" a.test A 2>&1) && fail "kdig took garbage for an answer: $out"
check_eq "garbage: the query was read after a handshake" 1 "$(count_log GARB '^query 1 a\.test\. A')"
fake_tls_start GARBF "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" garbage-framed
out=$(pyclient "${GARBF##*:}" a.test)
check_match "garbage-framed: one frame, not an answer to ID 1" '^[0-9]+ [0-9]+ reads [1-9]' "$(xargs <<<"$out")"
check_no_match "garbage-framed: no answer to ID 1" '^1 ' "$out"

fake_tls_start SHORT "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" short-frame
out=$(python3 - "$ADDR" "${SHORT##*:}" <<-'PY'
	import socket, ssl, sys
	ctx = ssl.create_default_context()
	ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
	s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2]))))
	s.sendall(bytes.fromhex("001b" "abcd01000001000000000000" "04736c6f7704746573740000010001"))
	print(s.recv(100).hex())
	PY
)
check_eq "short-frame: 00 02 and the query's ID" 0002abcd "$out"

# hang-65535: ff ff and nothing more.
fake_tls_start HANG "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" hang-65535
check_eq "hang-65535: no frame completes" "reads 1" "$(xargs <<<"$(pyclient "${HANG##*:}" a.test)")"

# close-inflight: the first connection's queries are read, never answered;
# the second connection's are.
fake_tls_start CLOSE "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" close-inflight
check_eq "close-inflight: first connection closed unanswered" "reads 0" "$(xargs <<<"$(pyclient "${CLOSE##*:}" a.test b.test)")"
check_eq "close-inflight: both queries were read" 2 "$(count_log CLOSE '^query 1 ')"
check_eq "close-inflight: the server closed it" 1 "$(count_log CLOSE '^close 1$')"
check_eq "close-inflight: the next connection answers" "1 1 2 1 reads 2" "$(xargs <<<"$(pyclient "${CLOSE##*:}" a.test b.test)")"

# not-tls: kdig's handshake fails at once; stall: it times out.
fake_tls_start NOTLS "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" not-tls
out=$(kd "${NOTLS##*:}" a.test A 2>&1) && fail "kdig got an answer from not-tls: $out"
check_match "not-tls: the handshake fails" 'handshake failed' "$out"
check_eq "not-tls: connection logged" 1 "$(count_log NOTLS '^conn 1 ')"
fake_tls_start STALL "$ADDR" "$(rand_port)" "$TLS_CERT" "$TLS_KEY" stall
t0=$(now_ms)
out=$(kdig +retry=0 +timeout=1 @"$ADDR" -p "${STALL##*:}" +tls a.test A 2>&1) && fail "kdig got an answer from stall: $out"
check_between "stall: kdig gives up after its 1 s (ms)" 900 3000 $(($(now_ms) - t0))
check_eq "stall: connection logged, no handshake" "1 0" "$(count_log STALL '^conn ') $(count_log STALL '^tls ')"

# IPv6, and SIGTERM ends it.
fake_tls_start V6 ::1 "$(rand_port)" "$TLS_CERT" "$TLS_KEY" ok
check_match "[::1]:PORT" '^\[::1\]:[0-9]+$' "$V6"
check_eq "on ::1" 192.0.2.1 "$(kdig +retry=0 +timeout=2 @::1 -p "${V6##*:}" +tls +short a.test A)"
kill -TERM "$V6_PID"
# (gone or a zombie: this shell has not waited for it)
gone() { case $(ps -o stat= -p "$1") in "" | Z*) return 0 ;; esac; return 1; }
check "SIGTERM ends it" wait_for 5 gone "$V6_PID"
for v in OK OLD SPLIT GARB GARBF SHORT HANG CLOSE NOTLS STALL; do
	p=${v}_PID
	check "fake_tls $v still running" kill -0 "${!p}"
done
pass
