# The DNS-over-TLS test bench, proved with standard clients before stubd
# has a TLS client: a test CA and server certificates made by openssl here
# (tls_ca_make, tls_cert_make), Unbound from Debian serving DNS over TLS on
# a loopback address and forwarding to a fakeup (unbound_tls_start), and
# the count of TCP connections to it (tcp_conns). kdig and openssl s_client
# must accept the certificate for the name or the address it carries, and
# refuse one for another name, an expired one and a self-signed one.
#
# What the stubd tests of DNS over TLS take from here (all in lib.sh):
#   tls_cert_make dot.test "$ADDR"       # TLS_CA, TLS_CERT, TLS_KEY
#   unbound_tls_start DOT "$ADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
#   stubd_conf "dns-over-tls = yes" "tls-ca-file = $TLS_CA"
#   stubd_start -c "$TMP/stubd.conf" -u "$ADDR:$PORT#dot.test"
# - the names and addresses: a certificate carries DNS:NAME and IP:ADDR
#   only as asked, so "#NAME" and "no name, the address" are both testable
#   (kdig with +tls-ca and no +tls-hostname checks the address: below);
#   the negative cases are tls_cert_make --expired NAME, --self-signed
#   NAME and tls_cert_make OTHER.NAME, each behind an Unbound of its own
#   (one certificate per Unbound).
# - fakeup's log ($TMP/UP.log) shows what went through Unbound, over UDP;
#   Unbound caches, so a test that counts upstream queries uses fresh names.
#   Unbound's log ($TMP/DOT.log) has one line per query it got ("info:
#   127.0.0.1 NAME. A IN"): a query that came in plain text to a
#   TLS-only port is not there (it fails the handshake: "ssl handshake
#   failed"), so "never asked in plain text" is a grep there.
# - connection reuse: tcp_conns "$DOT" counts established connections to
#   Unbound at the client's end; 100 concurrent queries must show at most 2.
#   Unbound itself takes 100 queries pipelined on one connection and
#   answers them all there, out of order (checked below), so a second
#   connection would be stubd's doing.
# - Unbound pads its replies over TLS (to 468 bytes, pad-responses) only
#   when the query carried an EDNS Padding option: kdig's replies below
#   are 468 bytes because kdig pads its queries.
# - extra "server:" lines go after UPSTREAM, e.g. "tcp-idle-timeout: 1000"
#   (Unbound closes idle connections: the reconnect test) or
#   "edns-tcp-keepalive: yes"; unbound_tls_stop DOT and the same start call
#   again give a server that went away and came back.
# The ports are random high ones, not 853: stubd's upstream is ADDR:PORT.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || fail "openssl not found: tools/deps test installs it"
ADDR=$(rand_addr)
PORT=$(rand_port)
fakeup_start UP --answer 192.0.2.53

tls_ca_make
tls_cert_make dot.test "$ADDR"
check "the certificate chains to the test CA" openssl verify -CAfile "$TLS_CA" "$TLS_CERT" >/dev/null
san=$(openssl x509 -in "$TLS_CERT" -noout -ext subjectAltName)
check_match "subjectAltName has the name and the address" "DNS:dot\.test, IP Address:$ADDR\$" "$san"
unbound_tls_start DOT "$ADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
check_eq "VAR is ADDR:PORT" "$ADDR:$PORT" "$DOT"

# kd [kdig args...]: one try at Unbound, 3 s at most.
kd() { kdig +retry=0 +timeout=3 @"$ADDR" -p "$PORT" "$@"; }

out=$(kd +tls-ca="$TLS_CA" +tls-hostname=dot.test www.example.test A) ||
	fail "kdig over TLS with the test CA and dot.test failed: $out"
check_match "over TLS" '^;; TLS session \(TLS1\.[23]\)' "$out"
check_match "fakeup's answer through Unbound" '^www\.example\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.53$' "$out"
check_eq "fakeup got the query from Unbound" 1 "$(count_log UP 'www\.example\.test\. A')"
check_eq "Unbound logged it" 1 "$(grep -c 'info: 127\.[0-9.]* www\.example\.test\. A IN' "$TMP/DOT.log")"
check_eq "no name given: kdig checks the address, which the certificate carries" 192.0.2.53 \
	"$(kd +tls-ca="$TLS_CA" +short byaddr.example.test A)"

# What a client must refuse. kdig exits 1 and says why.
out=$(kd +tls-ca="$TLS_CA" +tls-hostname=other.test other.example.test A 2>&1) &&
	fail "kdig took the certificate of dot.test for other.test: $out"
check_match "another name: the certificate check fails" 'handshake failed \(Error in the certificate' "$out"
out=$(kd +tls-ca +tls-hostname=dot.test store.example.test A 2>&1) &&
	fail "the test CA is in the system's trust store?: $out"
check_match "the system's trust store does not know the test CA" 'handshake failed' "$out"
check_eq "a refused certificate: nothing reached fakeup" 0 "$(count_log UP 'other\.example\.test\|store\.example\.test')"

tls_cert_make --expired dot.test "$ADDR"
check_match "--expired: notAfter in 2020" 'notAfter=.* 2020 GMT' "$(openssl x509 -in "$TLS_CERT" -noout -enddate)"
EADDR=$(rand_addr)
unbound_tls_start EXP "$EADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
out=$(kdig +retry=0 +timeout=3 @"$EADDR" -p "$PORT" +tls-ca="$TLS_CA" +tls-hostname=dot.test exp.example.test A 2>&1) &&
	fail "kdig took an expired certificate: $out"
check_match "expired certificate: the check fails" 'handshake failed \(Error in the certificate' "$out"
check_match "openssl s_client says why" 'certificate has expired' \
	"$(openssl s_client -connect "$EADDR:$PORT" -CAfile "$TLS_CA" -verify_hostname dot.test -verify_return_error \
		-brief </dev/null 2>&1 || true)"

tls_cert_make --self-signed dot.test "$ADDR"
SADDR=$(rand_addr)
unbound_tls_start SELF "$SADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
out=$(kdig +retry=0 +timeout=3 @"$SADDR" -p "$PORT" +tls-ca="$TLS_CA" +tls-hostname=dot.test self.example.test A 2>&1) &&
	fail "kdig took a self-signed certificate: $out"
check_match "self-signed certificate: the check fails" 'handshake failed \(Error in the certificate' "$out"
# Unbound itself is fine: without a check (kdig's opportunistic profile)
# the same servers answer.
check_eq "opportunistic TLS to the expired one answers" 192.0.2.53 \
	"$(kdig +retry=0 +timeout=3 @"$EADDR" -p "$PORT" +tls +short exp.example.test A)"
check_eq "opportunistic TLS to the self-signed one answers" 192.0.2.53 \
	"$(kdig +retry=0 +timeout=3 @"$SADDR" -p "$PORT" +tls +short self.example.test A)"

# The connection counter: 0 when idle, 1 while openssl s_client holds one
# verified connection open (its input is a FIFO held by fd 7), 0 again
# once it quits.
check_eq "idle: no connection" 0 "$(tcp_conns "$DOT")"
mkfifo "$TMP/hold"
openssl s_client -connect "$ADDR:$PORT" -CAfile "$TLS_CA" -verify_hostname dot.test -verify_return_error \
	-brief -nocommands <"$TMP/hold" >"$TMP/s_client.out" 2>&1 &
sc=$!
PIDS+=("$sc")
exec 7>"$TMP/hold"
conns_are() { [ "$(tcp_conns "$1")" = "$2" ]; }
check "openssl s_client's connection is counted" wait_for 5 conns_are "$DOT" 1
check_eq "connections to other addresses on the same port are not" 0 "$(tcp_conns "$EADDR:$PORT")"
exec 7>&-
wait "$sc" || fail "openssl s_client failed: $(cat "$TMP/s_client.out")"
check_match "openssl s_client verified dot.test" '^Verification: OK' "$(cat "$TMP/s_client.out")"
check "closed: counted no more" wait_for 5 conns_are "$DOT" 0

# kdig +keepopen: three queries on one connection, each taking fakeup's
# "slow" 300 ms; sampled meanwhile, the count is 1 and never more.
kd +tls-ca="$TLS_CA" +tls-hostname=dot.test +keepopen +short \
	slow.a.example.test A slow.b.example.test A slow.c.example.test A >"$TMP/keepopen.out" 2>&1 &
k=$!
max=0 seen=0
while kill -0 "$k" 2>/dev/null; do
	c=$(tcp_conns "$DOT")
	[ "$c" -gt 0 ] && seen=$((seen + 1))
	[ "$c" -gt "$max" ] && max=$c
	sleep 0.02
done
wait "$k" || fail "kdig +keepopen failed: $(cat "$TMP/keepopen.out")"
check_eq "kdig +keepopen: three answers" "192.0.2.53 192.0.2.53 192.0.2.53" "$(grep -v '^;' "$TMP/keepopen.out" | xargs)"
check "kdig's connection was seen while it ran" test "$seen" -gt 0
check_eq "kdig +keepopen: one connection" 1 "$max"
check "after kdig: no connection" wait_for 5 conns_are "$DOT" 0

# 100 queries written at once on one TLS connection (openssl s_client,
# the bytes through a FIFO): 100 answers on it, not in the order asked
# (the first query is fakeup's "slow", 300 ms), and no second connection.
hex=$(tcp_frame "$(query_hex 0 slow.pipe.example.test)")
for i in $(seq 1 99); do
	hex+=$(tcp_frame "$(query_hex "$(printf %x "$i")" "p$i.example.test")")
done
# frame_ids FILE: the IDs of the complete length-prefixed messages in FILE.
frame_ids() {
	python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
while len(d) >= 4 and len(d) >= 2 + (d[0] << 8 | d[1]):
    print(d[2] << 8 | d[3])
    d = d[2 + (d[0] << 8 | d[1]):]' "$1"
}
got_100() { [ "$(frame_ids "$TMP/pipe.out" | wc -l)" = 100 ]; }
openssl s_client -connect "$ADDR:$PORT" -CAfile "$TLS_CA" -verify_hostname dot.test -verify_return_error \
	-brief -nocommands <"$TMP/hold" >"$TMP/pipe.out" 2>"$TMP/pipe.err" &
sc=$!
PIDS+=("$sc")
exec 7>"$TMP/hold"
xxd -r -p <<<"$hex" >&7
check "100 pipelined queries: 100 answers on the connection" wait_for 10 got_100
check_match "out of order: the slow first query not answered first" '^[1-9]' "$(frame_ids "$TMP/pipe.out" | head -n 1)"
check_eq "all on one connection" 1 "$(tcp_conns "$DOT")"
check_eq "fakeup asked for each name" 99 "$(grep -o ' p[0-9]*\.example\.test\. A' "$TMP/UP.log" | sort -u | wc -l)"
exec 7>&-
wait "$sc" || fail "openssl s_client failed: $(cat "$TMP/pipe.err")"

for u in DOT EXP SELF; do
	pid_var=${u}_PID
	check "unbound $u still running" kill -0 "${!pid_var}"
done
unbound_tls_stop DOT
rc=0
unbound_tls_ready "$ADDR" "$PORT" || rc=$?
check "unbound_tls_stop: no TLS answer any more" test "$rc" -ne 0
pass
