# Client TCP (RFC 7766): pipelined queries on one connection are answered
# concurrently and out of order; at most tcp-max-queries are in flight per
# connection; idle connections are closed after tcp-idle-timeout; beyond
# tcp-max-clients new connections are closed at once while UDP carries on.
. "$(dirname "$0")/lib.sh"

fakeup_start UP

# --- pipelining: 10 queries in one write, 4 of them slow (300 ms upstream) ---
stubd_start -u "$UP"
names=(slow.p1.example.test f2.example.test slow.p3.example.test f4.example.test f5.example.test
	slow.p6.example.test f7.example.test f8.example.test slow.p9.example.test f10.example.test)
t0=$(now_ms)
out=$(dq --timeout 4000 pipeline "${names[@]}") || fail "pipeline: not every query answered: $out"
dt=$(($(now_ms) - t0))
check_eq "pipeline: 10 replies" 10 "$(grep -c '^id=' <<<"$out")"
for i in "${!names[@]}"; do
	n=${names[$i]}
	check_match "pipeline: $n answered (ID $((i + 1)))" "^id=$((i + 1)) name=${n//./\\.}\\. rcode=NOERROR an=1\$" "$out"
	check_eq "pipeline: $n asked upstream once" 1 "$(count_log UP "^udp ${n//./\\.}\\. A ")"
done
# dnsq prints replies in arrival order: every fast one before every slow one.
last_fast=$(grep -n '^id=[0-9]* name=f' <<<"$out" | tail -n 1 | cut -d: -f1)
first_slow=$(grep -n '^id=[0-9]* name=slow' <<<"$out" | head -n 1 | cut -d: -f1)
check "pipeline: fast answers not held behind slow ones (last fast line $last_fast, first slow line $first_slow)" \
	test "$last_fast" -lt "$first_slow"
# Concurrent, not one after the other (4 x 300 ms would be 1.2 s).
check_between "pipeline: slow queries in parallel (ms)" 250 1000 "$dt"

# A client that sends 3000 queries for huge answers (about 3.2 KB each) and
# never reads: stubd must not block on it; UDP and other TCP clients are
# served as usual meanwhile.
one=$(tcp_frame "$(query_hex 0001 huge.stuck.test)")
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
printf "$one%.0s" $(seq 1 3000) | xxd -r -p >&3 &
writer=$!
PIDS+=($writer)
# The first question goes upstream; the cache answers the rest, so the
# replies pile up unread in stubd until it stops reading this client.
stuck_seen() { [ "$(count_log UP "^tcp huge\\.stuck\\.test\\. ")" -ge 1 ]; }
wait_for 3 stuck_seen || fail "the stuck client's queries did not reach the upstream"
sleep 0.5
t0=$(now_ms)
out=$(q unstuck.example.test A)
check_match "non-reading client: UDP still answered" '^unstuck\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"
out=$(q +tcp unstuck2.example.test A)
check_match "non-reading client: other TCP clients answered" '^unstuck2\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"
check_between "non-reading client: others answered promptly (ms)" 0 1000 "$(($(now_ms) - t0))"
kill "$writer" 2>/dev/null || true
exec 3<&-
stubd_stop

# --- tcp-max-queries = 2: 6 slow queries on one connection are all answered,
#     but no more than 2 at a time (3 rounds of 300 ms) ---
stubd_conf 'tcp-max-queries = 2'
stubd_start -c "$TMP/stubd.conf" -u "$UP"
t0=$(now_ms)
out=$(dq --timeout 5000 pipeline slow.m1.test slow.m2.test slow.m3.test slow.m4.test slow.m5.test slow.m6.test) ||
	fail "max-queries: not every query answered: $out"
dt=$(($(now_ms) - t0))
check_eq "max-queries: 6 NOERROR answers" 6 "$(grep -c '^id=[1-6] name=slow\.m[1-6]\.test\. rcode=NOERROR an=1$' <<<"$out")"
check_between "max-queries: limited to 2 in flight (ms)" 850 3000 "$dt"
stubd_stop

# --- idle timeout: 600 ms (long enough that a loaded machine running the
# sanitizer build still sends its query before it) ---
stubd_conf 'tcp-idle-timeout = 600'
stubd_start -c "$TMP/stubd.conf" -u "$UP"
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
t0=$(now_ms)
rc=0
timeout 3 cat <&3 >/dev/null || rc=$?
dt=$(($(now_ms) - t0))
exec 3<&-
check_eq "idle connection closed by stubd (EOF, not our timeout)" 0 "$rc"
check_between "idle connection closed after about 600 ms (ms)" 450 2500 "$dt"
# The clock starts again after a query: an answered connection lives on
# for the idle timeout, then closes.
frame=$(tcp_frame "$(query_hex 0101 idle.example.test)") # ready before connecting
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
fd_send_hex 3 "$frame"
f=$(fd_read_frame 3)
check_eq "idle: query on the connection answered" 0101 "${f:0:4}"
t0=$(now_ms)
rc=0
timeout 3 cat <&3 >/dev/null || rc=$?
dt=$(($(now_ms) - t0))
exec 3<&-
check_eq "idle after a query: closed by stubd" 0 "$rc"
check_between "idle after a query: about 600 ms (ms)" 450 2500 "$dt"
# A client that stops halfway through a frame counts as idle too.
half="0040$(dns_hdr 0102 0100 1 0 0 0)"
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
fd_send_hex 3 "$half"
t0=$(now_ms)
rc=0
timeout 3 cat <&3 >/dev/null || rc=$?
dt=$(($(now_ms) - t0))
exec 3<&-
check_eq "half a frame, then nothing: closed by stubd" 0 "$rc"
check_between "half a frame, then nothing: about 600 ms (ms)" 450 2500 "$dt"
stubd_stop

# --- tcp-max-clients = 3 ---
stubd_conf 'tcp-max-clients = 3' 'tcp-idle-timeout = 10000'
stubd_start -c "$TMP/stubd.conf" -u "$UP"
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
exec 4<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
exec 5<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
# Make sure stubd has taken all three before the fourth arrives.
for fd in 3 4 5; do
	fd_send_hex $fd "$(tcp_frame "$(query_hex 020$fd held$fd.example.test)")"
	f=$(fd_read_frame $fd)
	check_eq "max-clients: connection on fd $fd served" "020$fd" "${f:0:4}"
done
exec 6<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
t0=$(now_ms)
rc=0
timeout 3 cat <&6 >/dev/null || rc=$?
dt=$(($(now_ms) - t0))
exec 6<&-
check_eq "max-clients: 4th connection closed (EOF)" 0 "$rc"
check_between "max-clients: 4th connection closed at once (ms)" 0 700 "$dt"
out=$(q udp.example.test A)
check_match "max-clients: UDP still answered" '^udp\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"
# The three held connections are still open and usable.
rc=0
timeout 0.5 cat <&3 >/dev/null || rc=$?
check_eq "max-clients: held connections stay open" 124 "$rc"
fd_send_hex 4 "$(tcp_frame "$(query_hex 0214 again.example.test)")"
f=$(fd_read_frame 4)
check_eq "max-clients: held connection still answers" 0214 "${f:0:4}"
exec 3<&- 4<&- 5<&-
# Once they are gone, TCP is served again.
tcp_ok() { q +tcp tcpagain.example.test A 2>/dev/null | grep -q '^tcpagain\.example\.test\..*192\.0\.2\.1$'; }
check "max-clients: TCP answered again after the 3 closed" wait_for 3 tcp_ok

check "stubd still running" stubd_alive
pass
