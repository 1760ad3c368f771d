# DNS over TLS to servers that misbehave (issue 17, "Bad input"): one that
# sends garbage after the handshake, one that is no TLS server at all, one
# that stalls the handshake, one that splits its answers at every byte,
# one that sends the length prefix ff ff and nothing after, and one that
# closes a connection with queries in flight. Each ends in a log line that
# names the server and says why, never a hang or a crash, and stubd
# answers afterwards.
#   - First, each fault as the first of two servers (dns-over-tls = yes,
#     the second a well-behaved fake_tls.py): the second one answers.
#     (stubd asks an unmeasured server alongside the first, so the answer
#     comes at once; what is checked of the faulty one is its log line.)
#   - Then the faults whose outcome is the faulty server's own, alone:
#     ff ff ends in SERVFAIL, not a hang; a stalled handshake too, with
#     the reason in the status; a split answer is put together; queries a
#     server closed in flight are sent again once, on a new connection.
#   - Last, opportunistic mode over no TLS and a stalled handshake falls
#     back to plain DNS on the port.
# The servers are tests/tools/fake_tls.py (fake_tls.sh shows each mode to
# standard clients); their logs count connections, handshakes and queries.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

PORT=$(rand_port)
GADDR=$(rand_addr)
ADDRS=()
for i in $(seq 1 14); do ADDRS+=("$(rand_addr)"); done
tls_cert_make dot.test "$GADDR" "${ADDRS[@]}"
CERT=$TLS_CERT KEY=$TLS_KEY
fake_tls_start GOOD "$GADDR" "$PORT" "$CERT" "$KEY" ok --answer 192.0.2.99

f() { upstream_field "$@"; }
check_imatch() { # check_imatch DESCRIPTION REGEX TEXT: as check_match, any case
	CHECKS=$((CHECKS + 1))
	grep -Eiq -- "$2" <<<"$3" || fail "$1: no match for /$2/ (any case) in: $3"
}
# logged SERVER REGEX: stubd's log has "upstream SERVER...: TLS failed:
# ...REGEX" (set-up failures) or "...: TLS connection ended: ...REGEX"
# (failures of a connection that was up), REGEX in any case.
logged() { grep -Eiq "upstream ${1//./\\.}[^ ]* .*TLS (failed|connection ended).*($2)" "$TMP/stubd.log"; }
# bad VAR MODE [ARG...]: fake_tls.py in MODE on the next address, port PORT,
# answering 192.0.2.77 when it answers at all.
n=0
bad() {
	local var=$1 mode=$2
	shift 2
	fake_tls_start "$var" "${ADDRS[$n]}" "$PORT" "$CERT" "$KEY" "$mode" --answer 192.0.2.77 "$@"
	n=$((n + 1))
}
# run SERVER... [-- LINE...]: stubd afresh, dns-over-tls = yes, with the
# servers in that order, each checked for dot.test; each LINE is one more
# setting.
run() {
	local ups=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		ups+=(-u "$1#dot.test")
		shift
	done
	[ $# -eq 0 ] || shift
	stubd_conf "dns-over-tls = yes" "tls-ca-file = $TLS_CA" "$@"
	[ -z "${STUBD_PID:-}" ] || stubd_stop
	stubd_start -c "$TMP/stubd.conf" "${ups[@]}"
}
# timed NAME: sets ANS (the status, and stubd's A record for NAME if
# any, e.g. "NOERROR 192.0.2.99") and DT (ms it took).
timed() {
	local t0 out
	t0=$(now_ms)
	out=$(q "$1" A) || true
	DT=$(($(now_ms) - t0))
	ANS=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$out")
	ANS+=$(awk '$4 == "A" && $1 !~ /^;/ { printf " %s", $5 }' <<<"$out")
}
# afterwards CASE: stubd is alive and still answers (from any server, or
# the plain fallback).
afterwards() {
	check "$1: stubd still running" stubd_alive
	check_match "$1: and answers afterwards" '^192\.0\.2\.(77|99|55)$' "$(a "after.$1.example.test")"
}

# ---- each fault in front of a good server ---------------------------------------------
# first CASE VAR REASON [-- LINE...]: the first server VAR got CASE.example.test's
# connection (and, after a handshake, the query with SNI dot.test); the
# second answered without a hang; a log line names VAR and matches REASON.
first() {
	local case=$1 var=$2 reason=$3
	local server=${!var}
	shift 3
	run "$server" "$GOOD" "$@"
	timed "$case.example.test"
	check_eq "$case: the second server answers" "NOERROR 192.0.2.99" "$ANS"
	check "$case: no hang (${DT} ms)" test "$DT" -lt 2500
	check "$case: stubd connected to the first" test "$(count_log "$var" '^conn 1 ')" = 1
	if [ "$(count_log "$var" '^tls 1 ')" != 0 ]; then
		check_eq "$case: with SNI dot.test" 1 "$(count_log "$var" '^tls 1 TLSv1\.[23] resumed=no sni=dot\.test$')"
		check_eq "$case: the query went to the first over TLS" 1 "$(count_log "$var" "^query 1 $case\.example\.test\. A ")"
	fi
	check "$case: a log line names the server and says why (/$reason/)" wait_for 4 logged "$server" "$reason"
	afterwards "$case"
}
# garbage: the stream is random bytes from the start, so is the length
# prefix (with --seed 1, 37336: a message that never completes, so it
# stalls); garbage-framed: whole frames of random bytes, none an answer,
# dropped one by one (debug lines only: "dropped a TLS message that
# answers no query in flight"); short-frame: a frame of 2 bytes, shorter
# than any DNS header.
bad GARB garbage --seed 1
first garbage GARB 'stalled'
bad GARBF garbage-framed --seed 1
run "$GARBF" "$GOOD"
timed garbage-framed.example.test
check_eq "garbage-framed: the second server answers" "NOERROR 192.0.2.99" "$ANS"
check "garbage-framed: no hang (${DT} ms)" test "$DT" -lt 2500
check "garbage-framed: the frames were dropped" wait_for 3 grep -q "upstream $GARBF.*dropped" "$TMP/stubd.log"
afterwards garbage-framed
bad SHORT short-frame
first short-frame SHORT 'bad length prefix'
bad NOTLS not-tls
first not-tls NOTLS 'handshake failed'
# With dns-over-tls = yes, connecting and the handshake get what
# query-timeout leaves after one try: 1.5 s - 0.5 s here.
bad STALL stall
first stall STALL 'handshake timeout' -- "upstream-timeout = 500" "query-timeout = 1500"
check "stall: stubd closed the stalled connection" wait_for 3 grep -q '^eof 1$' "$TMP/STALL.log"
bad HANG hang-65535
first hang-65535 HANG 'stalled'

# ---- each fault alone ----------------------------------------------------------------------
# ff ff and nothing more: the query is sent again once, on a new
# connection, the same happens there, and the client gets SERVFAIL within
# query-timeout (5 s), not a hang.
bad HANG1 hang-65535
run "$HANG1"
timed hang1.example.test
check_eq "hang-65535 alone: SERVFAIL" SERVFAIL "$ANS"
check "hang-65535 alone: within query-timeout (${DT} ms)" test "$DT" -lt 5500
check_eq "hang-65535 alone: sent twice, on two connections" "1 1" \
	"$(count_log HANG1 '^query 1 hang1\.') $(count_log HANG1 '^query 2 hang1\.')"
check_imatch "hang-65535 alone: last_error" 'stalled' "$(f "$HANG1" last_error)"
check "hang-65535 alone: stubd still running" stubd_alive

# A stalled handshake: SERVFAIL once the handshake timeout (1.5 s - 0.5 s)
# ends it, before query-timeout, and the status says why.
bad STALL1 stall
run "$STALL1" -- "upstream-timeout = 500" "query-timeout = 1500"
timed stall1.example.test
check_eq "stall alone: SERVFAIL" SERVFAIL "$ANS"
check "stall alone: within query-timeout (${DT} ms)" test "$DT" -lt 2000
check_imatch "stall alone: last_error" '^TLS: handshake timeout' "$(f "$STALL1" last_error)"
check "stall alone: stubd still running" stubd_alive

# A far server on a slow link: its handshake takes 0.8 s, more than one
# try (upstream-timeout, 0.3 s). With yes, plain text is no way out, and
# the handshake gets what query-timeout leaves after a try (2.7 s): the
# question is answered over TLS, not failed into a back-off.
bad SLOWHS ok --handshake-delay 800
run "$SLOWHS" -- "upstream-timeout = 300" "query-timeout = 3000"
timed slowhs.example.test
check_eq "slow handshake, yes: answered over TLS" "NOERROR 192.0.2.77" "$ANS"
check_eq "slow handshake, yes: one connection, one handshake" "1 1" \
	"$(count_log SLOWHS '^conn ') $(count_log SLOWHS '^tls ')"
check_eq "slow handshake, yes: no TLS failure logged" 0 \
	"$(grep -c "upstream ${SLOWHS}.*TLS \(failed\|connection ended\)" "$TMP/stubd.log" || true)"
check_eq "slow handshake, yes: the next question on that connection" 192.0.2.77 "$(a slowhs2.example.test)"

# Split at every byte: the answers are put together, on one connection.
bad SPLIT split
run "$SPLIT"
check_eq "split: the answer, put together" 192.0.2.77 "$(a split.example.test)"
check_eq "split: again, on the same connection" 192.0.2.77 "$(a split2.example.test)"
check_eq "split: one connection" 1 "$(count_log SPLIT '^conn ')"
check_eq "split: no failure logged" 0 "$(grep -c "upstream ${SPLIT}.*TLS \(failed\|connection ended\)" "$TMP/stubd.log" || true)"
lens=$(sed -n 's/^query .* len=\([0-9]*\)$/\1/p' "$TMP/SPLIT.log" | sort -u | xargs)
check "queries padded to a multiple of 128 (RFC 8467): $lens" \
	awk -v l="$lens" 'BEGIN { n = split(l, a, " "); if (!n) exit 1; for (i = 1; i <= n; i++) if (a[i] % 128) exit 1 }'
check "split: stubd still running" stubd_alive

# Closed with five queries in flight: each is sent once more, on a new
# connection, and answered there.
pipeline5() { # pipeline5 PREFIX: five queries at once through stubd; prints how many got NOERROR
	local names=() i
	for i in 1 2 3 4 5; do names+=("$1$i.example.test"); done
	"$DNSQ" --timeout 5000 "$STUBD_ADDR:$STUBD_PORT" pipeline "${names[@]}" >"$TMP/p5.out" ||
		fail "pipeline $1: $(tail -n 3 "$TMP/p5.out")"
	awk '/^id=/ && $3 == "rcode=NOERROR" && $4 == "an=1"' "$TMP/p5.out" | wc -l
}
bad CLOSE close-inflight
run "$CLOSE"
check_eq "close-inflight: five answers" 5 "$(pipeline5 ci)"
check_eq "close-inflight: the first connection got them" 5 "$(count_log CLOSE '^query 1 ci[1-5]\.')"
check_eq "close-inflight: the second got them again" 5 "$(count_log CLOSE '^query 2 ci[1-5]\.')"
check_eq "close-inflight: sent twice, not more" 10 "$(count_log CLOSE '^query [0-9]* ci[1-5]\.')"
check "close-inflight: a log line says it was closed" wait_for 3 logged "$CLOSE" 'connection closed'
check_eq "close-inflight: the re-open resumed the session" 1 "$(count_log CLOSE '^tls 2 .* resumed=yes')"
afterwards close-inflight

# Once only: the second connection closed too, the queries fail (SERVFAIL,
# there is no other server) rather than go round again.
bad CLOSE2 close-inflight --bad-conns 2
run "$CLOSE2"
t0=$(now_ms)
check_eq "closed twice: no answer" 0 "$(pipeline5 cc)"
dt=$(($(now_ms) - t0))
check_eq "closed twice: SERVFAIL for each" 5 "$(grep -c 'rcode=SERVFAIL' "$TMP/p5.out" || true)"
check "closed twice: at once, not after a timeout (${dt} ms)" test "$dt" -lt 1500
check_eq "closed twice: each sent twice, not more" 10 "$(count_log CLOSE2 '^query [0-9]* cc[1-5]\.')"
check_imatch "closed twice: last_error" 'connection closed' "$(f "$CLOSE2" last_error)"
afterwards closed-twice

# ---- opportunistic: the same faults, plain DNS on the port ---------------------------------
# A UDP-only fakeup on the TLS server's address and port: the fallback.
# opp VAR MODE: fake_tls.py in MODE and that fakeup as VAR_UDP, stubd
# afresh in opportunistic mode with that one server, the handshake
# timeout (upstream-timeout) 0.5 s, query-timeout 3 s.
opp() {
	local var=$1 mode=$2 addr=${ADDRS[$n]}
	bad "$var" "$mode"
	fakeup_start_at "${var}_UDP" "$addr:$PORT" --udp-only --answer 192.0.2.55
	stubd_conf "dns-over-tls = opportunistic" "tls-ca-file = $TLS_CA" "upstream-timeout = 500" "query-timeout = 3000"
	stubd_stop
	stubd_start -c "$TMP/stubd.conf" -u "$addr:$PORT#dot.test"
}
opp ONOTLS not-tls
timed onotls.example.test
check_eq "opportunistic, not-tls: the plain answer" "NOERROR 192.0.2.55" "$ANS"
check "opportunistic, not-tls: at once (${DT} ms)" test "$DT" -lt 900
check_eq "opportunistic, not-tls: asked in plain on the port" 1 "$(count_log ONOTLS_UDP '^udp onotls\.')"
check_eq "opportunistic, not-tls: transport" udp-fallback "$(f "$ONOTLS" transport)"
check "opportunistic, not-tls: logged" logged "$ONOTLS" 'handshake failed.*plain'
afterwards opportunistic-not-tls

# The handshake times out after upstream-timeout (0.5 s): opportunistic
# mode does not wait out what yes would (2.5 s); the same question then
# goes in plain text.
opp OSTALL stall
timed ostall.example.test
check_eq "opportunistic, stall: the plain answer" "NOERROR 192.0.2.55" "$ANS"
check "opportunistic, stall: after the handshake timeout, before query-timeout (${DT} ms)" test "$DT" -lt 2000
check_eq "opportunistic, stall: asked in plain on the port" 1 "$(count_log OSTALL_UDP '^udp ostall\.')"
check "opportunistic, stall: logged" wait_for 4 logged "$OSTALL" 'handshake timeout'
check_eq "opportunistic, stall: transport" udp-fallback "$(f "$OSTALL" transport)"
afterwards opportunistic-stall
pass
