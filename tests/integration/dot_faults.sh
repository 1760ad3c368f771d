# DNS over TLS to servers that misbehave (issue 17, "Bad input"): one that
# sends garbage after the handshake, one that is no TLS server at all, one
# that stalls the handshake, one that splits its answers at every byte,
# one that sends the length prefix ff ff and nothing after, and one that
# closes a connection with queries in flight. Each is the first of two
# servers (dns-over-tls = yes; the second a well-behaved fake_tls.py):
# stubd says why in its log, the query gets the second server's answer
# (or, for split and close-inflight, the first's), never a hang, and stubd
# lives on and answers. Then opportunistic mode over the same faults falls
# back to plain DNS on the port. The servers are tests/tools/fake_tls.py
# (fake_tls.sh shows each mode to standard clients); their logs count
# connections, handshakes and queries.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

PORT=$(rand_port)
GADDR=$(rand_addr)
ADDRS=()
for i in $(seq 1 12); do ADDRS+=("$(rand_addr)"); done
tls_cert_make dot.test "$GADDR" "${ADDRS[@]}"
CERT=$TLS_CERT KEY=$TLS_KEY
fake_tls_start GOOD "$GADDR" "$PORT" "$CERT" "$KEY" ok --answer 192.0.2.99

f() { upstream_field "$@"; }
check_imatch() { # check_imatch DESCRIPTION REGEX TEXT: as check_match, any case
	CHECKS=$((CHECKS + 1))
	grep -Eiq -- "$2" <<<"$3" || fail "$1: no match for /$2/ (any case) in: $3"
}
# logged SERVER REGEX: stubd's log has "upstream SERVER...TLS failed...REGEX"
# (any case).
logged() { grep -Eiq "upstream ${1//./\\.}[^ ]* .*TLS failed.*($2)" "$TMP/stubd.log"; }
# bad VAR MODE [ARG...]: fake_tls.py in MODE on the next address, port PORT,
# answering 192.0.2.77 when it answers at all.
n=0
bad() {
	local var=$1 mode=$2
	shift 2
	fake_tls_start "$var" "${ADDRS[$n]}" "$PORT" "$CERT" "$KEY" "$mode" --answer 192.0.2.77 "$@"
	n=$((n + 1))
}
# two SERVER [LINE...]: stubd afresh, dns-over-tls = yes, SERVER first and
# GOOD second, each checked for dot.test; each LINE one more setting.
two() {
	local server=$1
	shift
	stubd_conf "dns-over-tls = yes" "tls-ca-file = $TLS_CA" "$@"
	[ -z "${STUBD_PID:-}" ] || stubd_stop
	stubd_start -c "$TMP/stubd.conf" -u "$server#dot.test" -u "$GOOD#dot.test"
}
# timed NAME: sets ANS (stubd's A record for NAME) and DT (ms it took).
timed() {
	local t0
	t0=$(now_ms)
	ANS=$(a "$1")
	DT=$(($(now_ms) - t0))
}
# afterwards CASE: stubd is alive and still answers (from either server).
afterwards() {
	check "$1: stubd still running" stubd_alive
	check_match "$1: and answers afterwards" '^192\.0\.2\.(77|99)$' "$(a "after.$1.example.test")"
}

# ---- garbage after the handshake ---------------------------------------------
# garbage: the stream is random bytes from the start, so is the length
# prefix (with --seed 1, 37336: a frame that never completes);
# garbage-framed: whole frames of random bytes, none an answer; short-frame:
# a frame of 2 bytes, shorter than any DNS header.
for mode in garbage garbage-framed short-frame; do
	v=${mode//-/_}
	bad "$v" "$mode" --seed 1
	two "${!v}"
	timed "$mode.example.test"
	check_eq "$mode: the second server answers" 192.0.2.99 "$ANS"
	check "$mode: no hang (${DT} ms)" test "$DT" -lt 2500
	check_eq "$mode: the query did reach the first over TLS" 1 "$(count_log "$v" "^query 1 $mode\.example\.test\. A ")"
	check_eq "$mode: with SNI dot.test" 1 "$(count_log "$v" '^tls 1 TLSv1\.[23] resumed=no sni=dot\.test$')"
	check "$mode: a log line names the server" wait_for 3 grep -q "upstream ${!v}" "$TMP/stubd.log"
	afterwards "$mode"
done
check "short-frame: a log line says why" wait_for 3 logged "${short_frame}" 'length|short|malformed|garbage'
check_imatch "short-frame: last_error" 'length|short|malformed|garbage' "$(f "$short_frame" last_error)"

# ---- no TLS at all, a stalled handshake -----------------------------------------
bad NOTLS not-tls
two "$NOTLS"
timed not-tls.example.test
check_eq "not-tls: the second server answers" 192.0.2.99 "$ANS"
# The handshake fails at once: no waiting out upstream-timeout (1 s).
check "not-tls: at once (${DT} ms)" test "$DT" -lt 900
check "not-tls: a log line says why" wait_for 3 logged "$NOTLS" 'handshake'
check_imatch "not-tls: last_error" '^TLS: handshake failed' "$(f "$NOTLS" last_error)"
check_eq "not-tls: stubd did connect" 1 "$(count_log NOTLS '^conn 1 ')"
afterwards not-tls

# The handshake timeout is query-timeout (1.5 s here); the query moves on
# after upstream-timeout (1 s), the handshake ends at 1.5 s.
bad STALL stall
two "$STALL" "query-timeout = 1500"
timed stall.example.test
check_eq "stall: the second server answers" 192.0.2.99 "$ANS"
check "stall: no hang (${DT} ms)" test "$DT" -lt 2500
check "stall: a log line says the handshake timed out" wait_for 3 logged "$STALL" 'timeout|timed out'
check_imatch "stall: last_error" 'handshake timeout' "$(f "$STALL" last_error)"
check "stall: stubd closed the stalled connection" wait_for 3 grep -q '^eof 1$' "$TMP/STALL.log"
afterwards stall

# ---- an answer one byte per TLS record --------------------------------------------
bad SPLIT split
two "$SPLIT"
check_eq "split: the first server's answer, put together" 192.0.2.77 "$(a split.example.test)"
check_eq "split: again, on the same connection" 192.0.2.77 "$(a split2.example.test)"
check_eq "split: one connection" 1 "$(count_log SPLIT '^conn ')"
check_eq "split: no failure logged" 0 "$(grep -c "upstream ${SPLIT}.*TLS failed" "$TMP/stubd.log" || true)"
lens=$(sed -n 's/^query .* len=\([0-9]*\)$/\1/p' "$TMP/SPLIT.log" | sort -u | xargs)
check "queries padded to a multiple of 128 (RFC 8467): $lens" \
	awk -v l="$lens" 'BEGIN { n = split(l, a, " "); if (!n) exit 1; for (i = 1; i <= n; i++) if (a[i] % 128) exit 1 }'
afterwards split

# ---- ff ff and nothing more --------------------------------------------------------
bad HANG hang-65535
two "$HANG"
timed hang.example.test
check_eq "hang-65535: the second server answers" 192.0.2.99 "$ANS"
check "hang-65535: no hang (${DT} ms)" test "$DT" -lt 2500
check_eq "hang-65535: the query did reach the first" 1 "$(count_log HANG '^query 1 hang\.example\.test\. A ')"
check "hang-65535: a log line names the server" wait_for 3 logged "$HANG" '.'
timed hang2.example.test
check_eq "hang-65535: a second query answered too" 192.0.2.99 "$ANS"
check "hang-65535: no hang the second time either (${DT} ms)" test "$DT" -lt 2500
afterwards hang-65535

# ---- closed with queries in flight ----------------------------------------------------
# Five queries at once on the first connection, which the server closes
# unanswered: each is sent once more, on a new connection, and answered
# there by the same server.
pipeline5() { # pipeline5 PREFIX: five queries at once through stubd; prints the answers
	local names=() i
	for i in 1 2 3 4 5; do names+=("$1$i.example.test"); done
	"$DNSQ" --timeout 5000 "$STUBD_ADDR:$STUBD_PORT" pipeline "${names[@]}" >"$TMP/p5.out" ||
		fail "pipeline $1: $(tail -n 3 "$TMP/p5.out")"
	awk '/^id=/ && $3 == "rcode=NOERROR"' "$TMP/p5.out" | wc -l
}
bad CLOSE close-inflight
two "$CLOSE"
check_eq "close-inflight: five answers" 5 "$(pipeline5 ci)"
check_eq "close-inflight: the first connection got them" 5 "$(count_log CLOSE '^query 1 ci[1-5]\.')"
check_eq "close-inflight: a second connection got them again" 5 "$(count_log CLOSE '^query 2 ci[1-5]\.')"
check_eq "close-inflight: sent twice, not more" 10 "$(count_log CLOSE '^query [0-9]* ci[1-5]\.')"
check_eq "close-inflight: the second server never asked" 0 "$(count_log GOOD '^query [0-9]* ci[1-5]\.')"
check "close-inflight: a log line says it was closed" wait_for 3 logged "$CLOSE" 'closed'
afterwards close-inflight

# Once only: when the new connection is closed too, the queries go to the
# next server, not round again.
bad CLOSE2 close-inflight --bad-conns 2
two "$CLOSE2"
check_eq "closed twice: five answers" 5 "$(pipeline5 cc)"
check_eq "closed twice: then the second server was asked" 5 "$(count_log GOOD '^query [0-9]* cc[1-5]\.')"
check_eq "closed twice: each sent to the first twice, not more" 10 "$(count_log CLOSE2 '^query [0-9]* cc[1-5]\.')"
afterwards closed-twice

# ---- opportunistic: the same faults, plain DNS on the port ---------------------------------
# A UDP-only fakeup on the TLS server's address and port: the fallback.
# opp VAR MODE: fake_tls.py in MODE and that fakeup as VAR_UDP, stubd
# afresh in opportunistic mode with that one server.
opp() {
	local var=$1 mode=$2 addr=${ADDRS[$n]}
	bad "$var" "$mode"
	fakeup_start_at "${var}_UDP" "$addr:$PORT" --udp-only --answer 192.0.2.55
	stubd_conf "dns-over-tls = opportunistic" "tls-ca-file = $TLS_CA" "query-timeout = 1500"
	stubd_stop
	stubd_start -c "$TMP/stubd.conf" -u "$addr:$PORT#dot.test"
}
opp ONOTLS not-tls
timed onotls.example.test
check_eq "opportunistic, not-tls: the plain answer" 192.0.2.55 "$ANS"
check "opportunistic, not-tls: at once (${DT} ms)" test "$DT" -lt 900
check_eq "opportunistic, not-tls: asked in plain on the port" 1 "$(count_log ONOTLS_UDP '^udp onotls\.')"
check_eq "opportunistic, not-tls: transport" udp-fallback "$(f "$ONOTLS" transport)"
afterwards opportunistic-not-tls

opp OSTALL stall
timed ostall.example.test
check_eq "opportunistic, stall: the plain answer once the handshake timed out" 192.0.2.55 "$ANS"
check "opportunistic, stall: within the 3 s dig waits (${DT} ms)" test "$DT" -lt 3000
check_eq "opportunistic, stall: transport" udp-fallback "$(f "$OSTALL" transport)"
afterwards opportunistic-stall
pass
