# serve-stale (RFC 8767): when every upstream fails, an expired answer is
# served with TTL 30 instead of SERVFAIL; with serve-stale = no, SERVFAIL.
. "$(dirname "$0")/lib.sh"

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
pass
