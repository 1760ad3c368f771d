# serve-stale (RFC 8767): when every upstream fails, an expired answer is
# served with TTL 30 instead of SERVFAIL; with serve-stale = no, SERVFAIL.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

fakeup_start UP
printf 'upstream-timeout = 200\nquery-timeout = 600\n' >"$TMP/stale.conf"
stubd_start -u "$UP" -c "$TMP/stale.conf"

check_eq "fresh answer" "192.0.2.1" "$(q +short ttl2.example.test)"
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true
sleep 2.3
out=$(q +noall +answer ttl2.example.test A)
check_match "stale answer with TTL 30 while the upstream is down" \
	'ttl2\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1' "$out"
check_match "a name never cached gets SERVFAIL" 'status: SERVFAIL' "$(q never.example.test A)"

kill -TERM "$STUBD_PID"; wait "$STUBD_PID" 2>/dev/null || true
fakeup_start UP2
printf 'upstream-timeout = 200\nquery-timeout = 600\nserve-stale = no\n' >"$TMP/nostale.conf"
stubd_start -u "$UP2" -c "$TMP/nostale.conf"
check_eq "fresh answer" "192.0.2.1" "$(q +short ttl2.example.test)"
kill -TERM "${PIDS[2]}"; wait "${PIDS[2]}" 2>/dev/null || true
sleep 2.3
check_match "serve-stale = no: SERVFAIL" 'status: SERVFAIL' "$(q ttl2.example.test A)"

# While every upstream is down (silent, so each try costs a timeout), a
# stale answer comes at once and a refresh still goes upstream behind it.
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" 2>/dev/null || true
fakeup_start UP3
printf 'upstream-timeout = 300\nquery-timeout = 1000\n' >"$TMP/down.conf"
stubd_start -u "$UP3" -c "$TMP/down.conf"
check_eq "fresh answer" "192.0.2.1" "$(q +short ttl2.example.test)"
kill -TERM "${PIDS[4]}"; wait "${PIDS[4]}" 2>/dev/null || true
fakeup_start_at SILENT "$UP3" --mode dead
sleep 2.3
for i in 1 2; do q +short "down$i.example.test" >/dev/null || true; done
check_match "the silent upstream is shown down" ' down ' "$("$STUBCTL" -s "$TMP/control.sock" status)"
t0=$(now_ms)
out=$(q +noall +answer ttl2.example.test A)
dt=$(($(now_ms) - t0))
check_match "stale answer while every upstream is down" 'ttl2\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A' "$out"
check "at once, not after the timeouts (${dt} ms)" test "$dt" -lt 250
check "a refresh still went upstream" wait_for 2 grep -q '^udp ttl2\.example\.test\.' "$TMP/SILENT.log"

# RFC 8767 §5: a server that has not been seen down yet but is silent
# now: a client with a stale answer at hand gets it at
# stale-answer-timeout (its default, 1.8 s), not after every try
# (query-timeout 4 s here).
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" 2>/dev/null || true
fakeup_start UP4
printf 'upstream-timeout = 3000\nquery-timeout = 4000\n' >"$TMP/timer.conf"
stubd_start -u "$UP4" -c "$TMP/timer.conf"
check_eq "fresh answer" "192.0.2.1" "$(q +short ttl2.example.test)"
kill -TERM "${PIDS[-2]}"; wait "${PIDS[-2]}" 2>/dev/null || true
fakeup_start_at SILENT2 "$UP4" --mode dead
sleep 2.3
t0=$(now_ms)
out=$(q +tries=1 +time=5 +noall +answer ttl2.example.test A)
dt=$(($(now_ms) - t0))
check_match "stale answer at the client-response timer" 'ttl2\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A' "$out"
check_between "at stale-answer-timeout, long before query-timeout (ms)" 1700 2500 "$dt"
check "the refresh went on upstream" wait_for 2 grep -q '^udp ttl2\.example\.test\.' "$TMP/SILENT2.log"
check_match "counted as stale" '"stale": *[1-9]' "$("$STUBCTL" -s "$TMP/control.sock" --json statistics)"

# Nothing can be asked (max-inflight 1, taken by a silent question): a
# stale answer at hand beats SERVFAIL.
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" 2>/dev/null || true
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
fakeup_start UP5
printf 'max-inflight = 1\nupstream-timeout = 2000\nquery-timeout = 4000\n' >"$TMP/full.conf"
stubd_start -u "$UP5" -c "$TMP/full.conf"
check_eq "fresh answer" "192.0.2.1" "$(q +short ttl2.example.test)"
sleep 2.3
q +tries=1 +time=1 drop.example.test A >/dev/null 2>&1 &
blocker=$!
sleep 0.2
out=$(q +tries=1 +time=2 +noall +answer ttl2.example.test A)
check_match "max-inflight reached: the stale answer, not SERVFAIL" 'ttl2\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A' "$out"
wait "$blocker" || true
pass
