# SIGKILL during a save leaves the previous cache file whole: the save
# writes a temporary file beside it and renames it over the old one, so
# whenever stubd dies, the path holds one complete file. A cache of 20,000
# answers is saved every 100 ms; stubd is killed at random moments, at the
# moment a save's temporary file appears (in the middle of the write), and
# during the save on a stop; after each, the next start loads every answer
# and nothing is moved aside as damaged. Last, flush-cache during a save:
# the save, once done, is removed too.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

mkdir "$TMP/c" "$TMP/leftover"
chown nobody:nogroup "$TMP/c"
F=$TMP/c/cache

cache_status() { ctl status --json | jq -r ".cache.$1"; }
header_count() { od -An -tu1 -j24 -N8 "$1" | awk '{ n = 0; for (i = 1; i <= NF; i++) n = n * 256 + $i; print n }'; }
# tmp_files: the save's temporary files beside $F (atomicfile: PATH.tmpXXXXXX).
tmp_files() { find "$TMP/c" -name 'cache.tmp*'; }
saving() { compgen -G "$F.tmp*" >/dev/null; }
# wait_saving SECONDS: returns as soon as a save's temporary file is
# there (a tight loop of builtins: a write lasts only tens of ms), or when
# stubd is gone; 1 after SECONDS.
wait_saving() {
	local deadline=$((SECONDS + $1))
	until saving; do
		stubd_alive || return 1
		[ $SECONDS -lt "$deadline" ] || return 1
	done
}
# kill_now: SIGKILL (stubd may have exited on its own), then stubd_stop's bookkeeping.
kill_now() {
	kill -KILL "$STUBD_PID" 2>/dev/null || true
	stubd_stop
}
# A SIGKILL may leave a temporary file behind (stubd cannot remove it); it
# is counted, then put aside so the next round can see its own.
LEFT=0
put_aside_tmp() {
	local f
	for f in $(tmp_files); do
		LEFT=$((LEFT + 1))
		mv "$f" "$TMP/leftover/"
	done
}

fakeup_start UP
printf 'max-inflight = 100000\ncache-size = 100000\n' >"$TMP/fill.conf"
stubd_start -u "$UP" -c "$TMP/fill.conf" --cache-file "$F"
# 20,000 random names, 250 at a time: a busy machine may drop some of a
# batch on the way, so batches go on until the cache holds 20,000.
t_fill=$SECONDS
s=0 have=0
while [ "$have" -lt 20000 ] && [ $s -lt 200 ]; do
	for ((i = 0; i < (20000 - have + 249) / 250; i++)); do
		s=$((s + 1))
		dq namesflood 250 kill.test --seed "$s"
		sleep 0.02
	done
	sleep 0.3
	have=$(cache_status entries)
done
t_fill=$((SECONDS - t_fill))
pid=$STUBD_PID
stubd_stop
N=$(sed -n "s|.*\[info\]: cache saved to $F: \([0-9]*\) answers.*|\1|p" "$TMP/stubd.$pid.log")
check "the stop saved at least 20,000 answers (${N:-none})" test "${N:-0}" -ge 20000
check_eq "the file's header says so" "$N" "$(header_count "$F")"

printf 'max-inflight = 100000\ncache-size = 100000\ncache-save-interval = 100ms\n' >"$TMP/kill.conf"
# loads_whole ROUND: the start that just happened loaded all N answers.
loads_whole() {
	check_match "$1: the file loads whole, all $N answers" \
		"cache loaded from $F: $N answers \(saved [0-9]+ s ago; 0 expired, 0 over the caps, 0 refused\)" \
		"$(cat "$TMP/stubd.log")"
	check "$1: nothing moved aside as damaged" test ! -e "$F.damaged"
	check_eq "$1: status: $N loaded" "$N" "$(cache_status loaded_at_start)"
}
MID=0 UNSEEN=0
for round in 1 2 3 4 5 6 7 8; do
	stubd_start -u "$UP" -c "$TMP/kill.conf" --cache-file "$F"
	loads_whole "before kill $round"
	if [ $((round % 2)) = 1 ]; then
		# At a random moment, 50 to 650 ms in: a few saves have run.
		sleep "0.$(printf '%03d' $((50 + RANDOM % 600)))"
	else
		# The moment a save's temporary file appears: in the middle of
		# writing it. (A busy machine may starve this loop through
		# every short write for a while: then it is one more random
		# moment.)
		wait_saving 10 || UNSEEN=$((UNSEEN + 1))
	fi
	kill_now
	if saving; then MID=$((MID + 1)); fi
	put_aside_tmp
	check_eq "kill $round: the file at the path is whole: its header counts $N" "$N" "$(header_count "$F")"
done

# SIGKILL during the save a stop makes.
stubd_start -u "$UP" -c "$TMP/kill.conf" --cache-file "$F"
loads_whole "before the stop"
kill -TERM "$STUBD_PID"
wait_saving 5 || true
kill_now
if saving; then MID=$((MID + 1)); fi
put_aside_tmp

stubd_start -u "$UP" -c "$TMP/kill.conf" --cache-file "$F"
loads_whole "after the last kill"
# The answers are the upstream's: a name of the flood answers from the cache.
name=$(awk '{ print $2; exit }' "$TMP/UP.log")
check_eq "a flooded name ($name) answers" 192.0.2.1 "$(q +short "$name" A)"
check_eq "... from the cache" 1 "$(count_log UP " ${name//./\\.} A ")"
check "at least one kill landed while a temporary file was being written ($MID)" test "$MID" -ge 1
check "stubd still runs" stubd_alive
stubd_stop

# flush-cache (all) while a save is being written: that save, done, is
# removed too, so the flushed answers are not back on disk. One save a
# second: the next one (of an empty cache) comes well after the checks.
printf 'max-inflight = 100000\ncache-size = 100000\ncache-save-interval = 1s\n' >"$TMP/flush.conf"
stubd_start -u "$UP" -c "$TMP/flush.conf" --cache-file "$F"
loads_whole "before the flush"
# (If the flush comes just before or after the save, it must hold all the same.)
wait_saving 5 || true
ctl flush-cache >/dev/null
during=no
if saving; then during=yes; fi
deadline=$((SECONDS + 5))
while saving && [ $SECONDS -lt $deadline ]; do :; done
sleep 0.3
# Absent, or a later save's (of the empty cache): never the flushed answers.
left=0
[ -e "$F" ] && left=$(header_count "$F")
check_eq "flush-cache during a save: once it is over, no answer on disk" 0 "$left"
kill_now
put_aside_tmp
stubd_start -u "$UP" -c "$TMP/kill.conf" --cache-file "$F"
check_eq "... and after a SIGKILL, nothing is loaded" 0 "$(cache_status loaded_at_start)"
# Not a failure: a SIGKILL cannot clean up. Said so that it shows.
echo "[$TEST_NAME] kills in the middle of a write: $MID of 9 ($UNSEEN waits for a write saw none); temporary files left behind: $LEFT ($(find "$TMP/leftover" -type f -printf '%f ')); the flush came while the save's file was still there: $during; filling took $t_fill s, $SECONDS s in all"
pass
