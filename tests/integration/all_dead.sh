# When no upstream answers, the client gets SERVFAIL within the configured
# bound, never silence: dead (silent) upstreams, closed ports, and no
# upstream configured at all.
. "$(dirname "$0")/lib.sh"

# timed_q NAME: asks stubd (dig waits up to 8 s); sets OUT and DT (ms).
timed_q() {
	local t0
	t0=$(now_ms)
	OUT=$(dig @"$STUBD_ADDR" -p "$STUBD_PORT" +tries=1 +time=8 "$1" A) || true
	DT=$(($(now_ms) - t0))
}

# 1. Every upstream silent, short timeouts: SERVFAIL after about 1 s.
fakeup_start D1 --mode dead
fakeup_start D2 --mode dead
stubd_conf 'upstream-timeout = 200' 'query-timeout = 1000'
stubd_start -c "$TMP/stubd.conf" -u "$D1" -u "$D2"
timed_q dead.example.test
check_match "all dead: SERVFAIL" 'status: SERVFAIL' "$OUT"
check_match "all dead: question echoed" '^;dead\.example\.test\.[[:space:]]+IN[[:space:]]+A' "$OUT"
check_between "all dead: within the query timeout (ms)" 150 2500 "$DT"
check "all dead: first upstream tried" test "$(count_log D1 '^udp dead\.example\.test\. A ')" -ge 1
check "all dead: second upstream tried" test "$(count_log D2 '^udp dead\.example\.test\. A ')" -ge 1
stubd_stop

# 2. Default timeouts (1 s per try, 5 s per question), one dead upstream.
stubd_start -u "$D1"
timed_q default.example.test
check_match "default timeouts: SERVFAIL" 'status: SERVFAIL' "$OUT"
check_between "default timeouts: within 5.5 s (ms)" 500 5500 "$DT"
stubd_stop

# 3. Every upstream a closed port: ICMP refusals make it quick.
stubd_start -u "$(closed_addr)" -u "$(closed_addr)"
timed_q closed.example.test
check_match "all closed: SERVFAIL" 'status: SERVFAIL' "$OUT"
check_between "all closed: quick (ms)" 0 1000 "$DT"
check "stubd still running" stubd_alive
stubd_stop

# 4. No upstream at all (no -u, empty resolv.conf): stubd still starts, warns,
#    and answers SERVFAIL.
stubd_start
check_match "no upstream: warning logged" 'warning.*no upstream' "$(cat "$TMP/stubd.log")"
timed_q none.example.test
check_match "no upstream: SERVFAIL" 'status: SERVFAIL' "$OUT"
check_match "no upstream: question echoed" '^;none\.example\.test\.[[:space:]]+IN[[:space:]]+A' "$OUT"
check_between "no upstream: immediate (ms)" 0 1000 "$DT"
out=$(q +tcp none.example.test A) || true
check_match "no upstream: SERVFAIL over TCP" 'status: SERVFAIL' "$out"

check "stubd still running" stubd_alive
pass
