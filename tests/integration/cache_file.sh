# The cache across restarts (cache-file): answers saved on a clean stop
# come back at the next start without asking the upstream, with the TTL
# they had left by the wall clock; one that expired meanwhile is asked
# again, or served stale (TTL 30) only when the upstream fails;
# flush-cache (all) removes the file, flush-cache NAME shows in the next
# save; cache-save-interval saves while running; the file is 0600, owned by
# the user stubd runs as. The caps at the load: cache_file_caps.sh; damage:
# cache_file_damage.sh; SIGKILL during a save: cache_file_kill.sh.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

# stubd runs as nobody here (no user stubd): its cache directory must be
# nobody's.
mkdir "$TMP/c"
chown nobody:nogroup "$TMP/c"

# asked FAKEUP NAME [TYPE]: how many times NAME (TYPE, A by default) reached that fakeup.
asked() { count_log "$1" " ${2//./\\.}\. ${3:-A} "; }
# ttl_of NAME [TYPE]: the TTL of stubd's first answer record for NAME.
ttl_of() { q +noall +answer "$1" "${2:-A}" | awk -v t="${2:-A}" '$4 == t { print $2; exit }'; }
# cache_status FIELD: a field of "stubctl status --json"'s cache section.
cache_status() { ctl status --json | jq -r ".cache.$1"; }
# log_of PID: the log of a stubd stopped by stubd_stop.
log_of() { cat "$TMP/stubd.$1.log"; }
# ttl_counted DESCRIPTION: keep1's TTL (300 when stored, between t0 and t1)
# has dropped by the seconds since, as measured around the query that
# reads it (a dig on a busy machine may take a second), give or take one
# for the rounding. Sets TTL.
ttl_counted() {
	local before after lo hi
	before=$(now_ms)
	TTL=$(ttl_of keep1.example.test)
	after=$(now_ms)
	lo=$((300 - (after - t0 + 999) / 1000 - 1))
	hi=$((300 - (before - t1) / 1000 + 1))
	check_between "$1 (TTL $TTL)" "$lo" "$hi" "$TTL"
}
# stubd_kill: SIGKILL, no save on the way out; the log is kept as stubd_stop keeps it.
stubd_kill() {
	kill -KILL "$STUBD_PID"
	stubd_stop
}
# header_count FILE: the record count in FILE's header (offset 24, 8 bytes, big-endian).
header_count() { od -An -tu1 -j24 -N8 "$1" | awk '{ n = 0; for (i = 1; i <= NF; i++) n = n * 256 + $i; print n }'; }

# ---- 1. a restart keeps the answers ------------------------------------------
F=$TMP/c/cache
fakeup_start UP
UP_PID=${PIDS[-1]}
printf 'upstream-timeout = 200\nquery-timeout = 600\n' >"$TMP/fast.conf"
stubd_start -u "$UP" -c "$TMP/fast.conf" --cache-file "$F"
t0=$(now_ms)
check_eq "first answer, from the upstream" 300 "$(ttl_of keep1.example.test)"
t1=$(now_ms)
q +short keep2.example.test A >/dev/null
q +short keep3.example.test A >/dev/null
check_eq "an AAAA answer" "2001:db8::1" "$(q +short keep1.example.test AAAA)"
check_match "an NXDOMAIN answer" 'status: NXDOMAIN' "$(q nx.keep.example.test A)"
check_eq "a TTL 2 answer" 2 "$(ttl_of ttl2.gone.example.test)"
pid=$STUBD_PID
stubd_stop
check_match "the stop saves the 6 answers, and says so" \
	"stubd\[info\]: cache saved to $F: 6 answers in [0-9]+ ms" "$(log_of "$pid")"
check_eq "the file holds 6 records" 6 "$(header_count "$F")"
check_eq "the file is 0600, owned by the user stubd runs as" "600 nobody nogroup" \
	"$(stat -c '%a %U %G' "$F")"
# Down for 3 s: ttl2.gone expires meanwhile.
sleep 3
stubd_start -u "$UP" -c "$TMP/fast.conf" --cache-file "$F"
log=$(cat "$TMP/stubd.log")
check_match "the start says what it loaded" \
	"stubd\[info\]: cache loaded from $F: 6 answers \(saved ([3-9]|[1-9][0-9]) s ago; 0 expired, 0 over the caps, 0 refused\) in [0-9]+ ms" \
	"$log"
loaded_line=$(grep -n 'cache loaded from' <<<"$log" | cut -d: -f1)
ready_line=$(grep -n 'ready: serving' <<<"$log" | cut -d: -f1)
check "loaded before serving (line $loaded_line, ready at $ready_line)" test "$loaded_line" -lt "$ready_line"
check_eq "status: loaded at start" 6 "$(cache_status loaded_at_start)"
check_eq "status: the file" "$F" "$(cache_status file)"
check_eq "status: no file problem" null "$(cache_status file_error)"
ttl_counted "after the restart, the TTL has dropped by the time between"
check "... by at least the 3 s down (TTL $TTL)" test "$TTL" -le 297
check_eq "keep1 A was not asked again" 1 "$(asked UP keep1.example.test)"
check_eq "keep2 answers" 192.0.2.1 "$(q +short keep2.example.test A)"
check_eq "keep3 answers" 192.0.2.1 "$(q +short keep3.example.test A)"
check_eq "keep1 AAAA answers" "2001:db8::1" "$(q +short keep1.example.test AAAA)"
check_match "the NXDOMAIN still answers" 'status: NXDOMAIN' "$(q nx.keep.example.test A)"
check_eq "keep2, keep3, AAAA and NXDOMAIN: not asked again" "1 1 1 1" \
	"$(asked UP keep2.example.test) $(asked UP keep3.example.test) $(asked UP keep1.example.test AAAA) $(asked UP nx.keep.example.test)"
check_eq "cache hits counted" 5 "$(cache_status hits)"

# ---- 2. expired during the downtime: asked again, stale only on failure ------
check_eq "expired while down, the upstream up: a fresh answer (TTL 2)" 2 "$(ttl_of ttl2.gone.example.test)"
check_eq "... which the upstream was asked for again" 2 "$(asked UP ttl2.gone.example.test)"

q +short ttl2.stale.example.test A >/dev/null
check_eq "ttl2.stale asked once" 1 "$(asked UP ttl2.stale.example.test)"
stubd_stop
kill -TERM "$UP_PID"
wait "$UP_PID" 2>/dev/null || true
sleep 3
# The upstream is gone (its port closed): every question to it fails.
stubd_start -u "$UP" -c "$TMP/fast.conf" --cache-file "$F"
check_match "loaded again" "cache loaded from $F: [0-9]+ answers" "$(cat "$TMP/stubd.log")"
check_match "a name never cached: SERVFAIL (the upstream fails)" 'status: SERVFAIL' \
	"$(q never.example.test A)"
out=$(q +noall +answer ttl2.stale.example.test A)
check_match "expired while down, the upstream failing: served stale, TTL 30" \
	'^ttl2\.stale\.example\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1' "$out"
ttl_counted "a fresh answer across two restarts: its TTL still counts down"
check_match "stale answers counted" '"stale": *[1-9]' "$(ctl --json statistics)"

# stale-max-age = 0: expired answers are dropped at the load.
stubd_stop
cp "$TMP/fast.conf" "$TMP/nostale.conf"
printf 'stale-max-age = 0\n' >>"$TMP/nostale.conf"
stubd_start -u "$UP" -c "$TMP/nostale.conf" --cache-file "$F"
check_match "stale-max-age 0: the expired answers are dropped at the load" \
	"cache loaded from $F: [0-9]+ answers \(saved [0-9]+ s ago; 2 expired, 0 over the caps, 0 refused\)" \
	"$(cat "$TMP/stubd.log")"
check_match "... so the upstream failing gives SERVFAIL" 'status: SERVFAIL' \
	"$(q ttl2.stale.example.test A)"
check_eq "... while a fresh one still answers" 192.0.2.1 "$(q +short keep1.example.test A)"
stubd_stop

# ---- 3. flush-cache: all removes the file; NAME shows in the next save --------
fakeup_start FL
F=$TMP/c/flush
stubd_start -u "$FL" --cache-file "$F"
for n in f1 f2 f3; do q +short "$n.flush.test" A >/dev/null; done
stubd_stop
stubd_start -u "$FL" --cache-file "$F"
check_eq "3 answers loaded" 3 "$(cache_status loaded_at_start)"
check "the file is there" test -f "$F"
ctl flush-cache >/dev/null
check "flush-cache: the file is gone at once" test ! -e "$F"
# SIGKILL: no save on the way out, so only what is on disk counts.
stubd_kill
stubd_start -u "$FL" --cache-file "$F"
check_eq "after flush-cache and a SIGKILL, nothing is loaded" 0 "$(cache_status loaded_at_start)"
check_match "... the start found no file" "$F: no saved cache yet" "$(cat "$TMP/stubd.log")"
for n in f1 f2 f3; do q +short "$n.flush.test" A >/dev/null; done
check_eq "f1, f2, f3 were asked again" "2 2 2" \
	"$(asked FL f1.flush.test) $(asked FL f2.flush.test) $(asked FL f3.flush.test)"
ctl flush-cache f2.flush.test >/dev/null
pid=$STUBD_PID
stubd_stop
check_match "flush-cache f2: the next save has 2 answers" "cache saved to $F: 2 answers" \
	"$(log_of "$pid")"
stubd_start -u "$FL" --cache-file "$F"
check_eq "2 answers loaded" 2 "$(cache_status loaded_at_start)"
for n in f1 f2 f3; do q +short "$n.flush.test" A >/dev/null; done
check_eq "f1 and f3 from the cache, f2 (flushed) asked again" "2 3 2" \
	"$(asked FL f1.flush.test) $(asked FL f2.flush.test) $(asked FL f3.flush.test)"
stubd_stop

# ---- 4. saved while running, every cache-save-interval; mode 0600 -------
fakeup_start PE
F=$TMP/c/periodic
printf 'cache-save-interval = 500ms\n' >"$TMP/periodic.conf"
# With umask 0 the file is still 0600: the mode is stubd's own choice.
umask 000
stubd_start -u "$PE" -c "$TMP/periodic.conf" --cache-file "$F"
umask 022
for n in p1 p2 p3 p4; do q +short "$n.periodic.test" A >/dev/null; done
saved() { [ "$(cache_status saved_answers)" = "$1" ]; }
check "a periodic save of the 4 answers, without stopping" wait_for 10 saved 4
check "the file is there" test -f "$F"
check_eq "its header counts 4 records" 4 "$(header_count "$F")"
at=$(cache_status last_saved_at)
now=$(date +%s)
check_between "status: last_saved_at is now" $((now - 3)) "$now" "$at"
check_match "status: last saved ... ago" 'ago' "$(cache_status last_saved)"
check_eq "mode 0600 (umask 0 at start), owned by the user stubd runs as" "600 nobody nogroup" \
	"$(stat -c '%a %U %G' "$F")"
q +short p5.periodic.test A >/dev/null
check "the next save has the 5th answer" wait_for 10 saved 5
check "no temporary file left beside it" test -z "$(find "$TMP/c" -name 'periodic.tmp*')"
stubd_kill
stubd_start -u "$PE" --cache-file "$F"
check_eq "after a SIGKILL, the periodic save's 5 answers are loaded" 5 "$(cache_status loaded_at_start)"
for n in p1 p2 p3 p4 p5; do q +short "$n.periodic.test" A >/dev/null; done
check_eq "none was asked again" 5 "$(count_log PE '\.periodic\.test\. A')"
stubd_stop

# cache-save-interval = 0: only on stop.
F=$TMP/c/zero
printf 'cache-save-interval = 0\n' >"$TMP/zero.conf"
stubd_start -u "$PE" -c "$TMP/zero.conf" --cache-file "$F"
q +short z1.periodic.test A >/dev/null
sleep 1.2
check "interval 0: no save while running" test ! -e "$F"
check_eq "status: never saved" 0 "$(cache_status last_saved_at)"
stubd_stop
check_eq "interval 0: saved on stop" 1 "$(header_count "$F")"
pass
