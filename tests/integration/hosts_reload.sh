# Reloading a large hosts file: 100,000 lines are read on a thread of
# stubd's own while it goes on answering. A stream of questions for a cached
# name, one at a time, runs across every reload and none of them fails;
# after "stubctl reload" returns, the new file's names answer and the old
# ones are gone; reloads asked while one is still reading end with the
# newest file's names. No timing is checked: that is tools/bench's reload
# cell.
. "$(dirname "$0")/lib.sh"

LINES=100000
# hosts_file PREFIX BASE FILE: LINES lines "10.BASE+i/65536.x.y PREFIXNNNNNN.reload.test",
# every name and address distinct.
hosts_file() {
	awk -v n=$LINES -v p="$1" -v b="$2" 'BEGIN { for (i = 0; i < n; i++)
		printf "10.%d.%d.%d %s%06d.reload.test\n", b + int(i / 65536), int(i / 256) % 256, i % 256, p, i }' >"$3"
}
# The address the file of hosts_file PREFIX BASE gives line I.
addr_of() { echo "10.$(($1 + $2 / 65536)).$(($2 / 256 % 256)).$(($2 % 256))"; }
# replace PREFIX BASE: a new file in place of the old, by rename.
replace() {
	hosts_file "$1" "$2" "$hosts.new"
	mv "$hosts.new" "$hosts"
}
loads() { grep -c "hosts: $LINES name-address pairs" "$TMP/stubd.log" || true; }

fakeup_start UP
hosts="$TMP/hosts"
hosts_file a 100 "$hosts"
check_eq "the file has $LINES lines" "$LINES" "$(wc -l <"$hosts")"
stubd_start -u "$UP" --hosts "$hosts"
check_eq "all $LINES names loaded at start" 1 "$(loads)"
check_eq "a name from the middle answers" "$(addr_of 100 50000)" "$(a a050000.reload.test)"
check_eq "the last name answers" "$(addr_of 100 99999)" "$(a a099999.reload.test)"
check_eq "PTR for an address of the file" "a050000.reload.test." "$(q +short -x "$(addr_of 100 50000)")"
check_eq "a name outside the file goes upstream" 192.0.2.1 "$(a stream.example.test)"

# The stream: stream.example.test, now cached, asked one at a time until
# told to stop; each answer is a line of $TMP/stream.out ("ok" or what
# came instead).
stream() {
	local got
	until [ -e "$TMP/stream.stop" ]; do
		got=$(q +short stream.example.test A 2>&1 | head -n 1)
		if [ "$got" = 192.0.2.1 ]; then echo ok; else echo "failed: ${got:-no answer}"; fi
	done >"$TMP/stream.out"
}
streamed() { wc -l <"$TMP/stream.out"; }
stream &
STREAM_PID=$!
PIDS+=("$STREAM_PID")
check "the stream answers" wait_for 10 bash -c "[ \$(wc -l <'$TMP/stream.out') -ge 5 ]"

# One reload of a new file: stubctl answers once its names are in.
replace b 110
before=$(streamed)
out=$(ctl reload)
check_match "stubctl reload says reloaded" 'reloaded' "$out"
check_eq "a new name answers right after the reload" "$(addr_of 110 50000)" "$(a b050000.reload.test)"
check_eq "another new name" "$(addr_of 110 1234)" "$(a b001234.reload.test)"
check_eq "PTR for a new address" "b050000.reload.test." "$(q +short -x "$(addr_of 110 50000)")"
check_eq "an old name is gone: it goes upstream" 192.0.2.1 "$(a a050000.reload.test)"
check "the stream went on across the reload" wait_for 10 bash -c "[ \$(wc -l <'$TMP/stream.out') -ge $((before + 5)) ]"

# Reloads asked while one is still reading: two SIGHUPs back to back, each
# with another file, then stubctl reload. Whatever the first reads, the
# last load is of the newest file, and stubctl answers after it.
replace c 120
kill -HUP "$STUBD_PID"
replace d 130
kill -HUP "$STUBD_PID"
out=$(ctl reload)
check_match "stubctl reload says reloaded after two SIGHUPs" 'reloaded' "$out"
check_eq "the newest file's names answer" "$(addr_of 130 50000)" "$(a d050000.reload.test)"
check_eq "the newest file's last name" "$(addr_of 130 99999)" "$(a d099999.reload.test)"
check_eq "the file read in between is gone" 192.0.2.1 "$(a c050000.reload.test)"
check_eq "the file before is gone" 192.0.2.1 "$(a b050000.reload.test)"
check "the stream went on across the reloads" wait_for 10 bash -c "[ \$(wc -l <'$TMP/stream.out') -ge $((before + 10)) ]"

: >"$TMP/stream.stop"
wait "$STREAM_PID"
failed=$(grep -v '^ok$' "$TMP/stream.out" || true)
check_eq "no question of the stream failed ($(streamed) asked)" "" "$failed"
check_eq "every streamed answer came from the cache" 1 "$(count_log UP 'stream\.example\.test')"
check "every load read all $LINES lines" test "$(loads)" -ge 3
check_no_match "no load failed" 'cannot read' "$(cat "$TMP/stubd.log")"
check "stubd still running" stubd_alive
pass
