# Abuse: a random-subdomain flood cannot grow the cache past its memory cap
# and other names still answer; a cap on questions in flight bites with a
# counter; a crowd of idle TCP connections is capped and closed while UDP
# goes on. (Malformed input and slow TCP clients: malformed.sh, tcp.sh.)
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

ctl() { "$STUBCTL" -s "$TMP/control.sock" "$@"; }
json_num() { grep -o "\"$1\": [0-9]*" | head -n 1 | awk '{print $2}'; }

# --- random-subdomain flood against a 64 KiB cache (a few hundred answers) ---
fakeup_start UP
# Under AddressSanitizer freed memory sits in a quarantine that would look
# like growth; keep it small so RSS measures the cache (no-op otherwise).
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
printf 'cache-memory = 64K\ncache-size = 1000000\n' >"$TMP/flood.conf"
stubd_start -u "$UP" -c "$TMP/flood.conf"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$STUBD_PID/status")
# In bursts, so that even a sanitizer build answers a good share of them.
for seed in $(seq 1 20); do
	"$DNSQ" "$STUBD_ADDR:$STUBD_PORT" namesflood 1000 flood.example.test --seed "$seed"
	sleep 0.05
done
check "the flood reached the upstream" wait_for 10 bash -c "[ \$(grep -c 'flood\\.example\\.test' $TMP/UP.log) -ge 2000 ]"
sleep 0.5
bytes=$(ctl --json statistics | json_num bytes)
check "cache bytes stay under the 64 KiB cap (got $bytes)" test "$bytes" -le 65536
evictions=$(ctl --json statistics | json_num evictions)
check "the cap evicted (got $evictions)" test "$evictions" -gt 0
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$STUBD_PID/status")
check "RSS grew by less than 16 MiB (before ${rss_before} KiB, after ${rss_after} KiB)" \
	test $((rss_after - rss_before)) -lt 16384
check_eq "other names still answer" "192.0.2.1" "$(q +short normal.example.test)"
check "stubd still running" stubd_alive
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" || true

# --- max-inflight ----------------------------------------------------------
fakeup_start DEAD --mode dead
printf 'max-inflight = 2\nupstream-timeout = 1000\nquery-timeout = 2000\n' >"$TMP/inflight.conf"
stubd_start -u "$DEAD" -c "$TMP/inflight.conf"
for i in 1 2; do q +short "hold$i.example.test" >/dev/null & done
wait_for 3 bash -c "[ \$(grep -c 'hold' $TMP/DEAD.log) -ge 2 ]" || fail "the first two questions did not go upstream"
t0=$(now_ms)
out=$(q over.example.test A)
dt=$(($(now_ms) - t0))
check_match "over the cap: SERVFAIL" 'status: SERVFAIL' "$out"
check "at once, not after a timeout (${dt} ms)" test "$dt" -lt 800
check_eq "not sent upstream" 0 "$(count_log DEAD 'over\.example')"
check_match "counted" '"inflight_refused": [1-9]' "$(ctl --json statistics)"
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" || true

# --- a crowd of TCP connections --------------------------------------------
printf 'tcp-max-clients = 50\ntcp-idle-timeout = 1500\n' >"$TMP/crowd.conf"
stubd_start -u "$UP" -c "$TMP/crowd.conf"
perl -MIO::Socket::INET -e '
	my @s;
	for (1 .. 1000) { my $c = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1]); push @s, $c if $c; }
	sleep 4;' "$STUBD_ADDR" "$STUBD_PORT" &
crowd=$!
PIDS+=($crowd)
sleep 0.5
check_eq "UDP served while 1000 connections are held" "192.0.2.1" "$(q +short crowd.example.test)"
# The crowd connects as fast as perl can; on a busy machine it may still
# be at it, so give it until the held connections' end.
refused=0
for _ in $(seq 1 30); do
	refused=$(ctl --json statistics | json_num tcp_refused)
	[ "$refused" -ge 900 ] && break
	sleep 0.1
done
check "connections past tcp-max-clients closed at once (got $refused)" test "$refused" -ge 900
check "idle connections closed after tcp-idle-timeout" wait_for 4 bash -c \
	"[ \$('$STUBCTL' -s '$TMP/control.sock' --json statistics | grep -o '\"tcp_idle_closed\": [0-9]*' | awk '{print \$2}') -ge 50 ]"
check_eq "TCP served again once they are gone" "192.0.2.1" "$(q +tcp +short after.example.test)"
pass
