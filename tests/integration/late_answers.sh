# Answers that come later, from upstream, are held until the loop has run
# the wake-up's callbacks and then sent together (one sendmmsg() per
# listening socket): every client still gets its own answer, under its own
# ID, from the address it asked, when a burst is larger than one batch and
# when the answers of one read go to clients of two listening addresses.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

ctl() { "$STUBCTL" -s "$TMP/control.sock" "$@"; }
json_num() { grep -o "\"$1\": [0-9]*" | head -n 1 | awk '{print $2}'; }
# names PREFIX N: PREFIX1.example.test ... PREFIXN.example.test
names() { local i; for ((i = 1; i <= $2; i++)); do echo "$1$i.example.test"; done; }
# burst_ok OUT ASKED N: dnsq printed an answer (NOERROR, one record) for
# each of ids 1..N, each carrying the name asked under its id.
burst_ok() {
	awk -v n="$3" '
		FNR == NR { want[FNR] = $0 "."; next }
		/^id=/ { split($1, a, "="); id = a[2]; name = substr($2, 6)
			 if ($3 == "rcode=NOERROR" && $4 == "an=1" && name == want[id]) ok[id] = 1 }
		END { for (i = 1; i <= n; i++) if (!ok[i]) { print "no good answer for id " i; exit 1 } }
	' "$2" "$1"
}

# Every answer waits 300 ms upstream: a burst's answers come back together.
fakeup_start UP --delay 300
second="$(rand_addr):$(rand_port)"
stubd_start -u "$UP" -l "$second"
check_match "stubd listens on both addresses" "$second" "$(ctl status)"

# 1. 100 questions at once from one socket: more answers come back in one
#    go than one batch holds (32).
names a 100 >"$TMP/a.asked"
mapfile -t asked <"$TMP/a.asked"
"$DNSQ" --timeout 5000 "$STUBD_ADDR:$STUBD_PORT" burst "${asked[@]}" >"$TMP/a.out" ||
	fail "burst 1: $(tail -n 3 "$TMP/a.out")"
check "a burst of 100 misses: each client question got its own answer" burst_ok "$TMP/a.out" "$TMP/a.asked" 100

# 2. Two bursts at once, one to each listening address: the answers of a
#    read go out from the socket each question came to (dnsq's connected
#    socket drops anything from elsewhere).
names b 60 >"$TMP/b.asked"
names c 60 >"$TMP/c.asked"
mapfile -t asked_b <"$TMP/b.asked"
mapfile -t asked_c <"$TMP/c.asked"
"$DNSQ" --timeout 5000 "$STUBD_ADDR:$STUBD_PORT" burst "${asked_b[@]}" >"$TMP/b.out" &
first_pid=$!
"$DNSQ" --timeout 5000 "$second" burst "${asked_c[@]}" >"$TMP/c.out" ||
	fail "burst to the second address: $(tail -n 3 "$TMP/c.out")"
wait "$first_pid" || fail "burst to the first address: $(tail -n 3 "$TMP/b.out")"
check "bursts to two addresses: the first address's clients got their answers" \
	burst_ok "$TMP/b.out" "$TMP/b.asked" 60
check "bursts to two addresses: the second address's clients got theirs" \
	burst_ok "$TMP/c.out" "$TMP/c.asked" 60
check_eq "no reply failed to send" 0 "$(ctl --json statistics | json_num send_errors)"
check "stubd is alive" stubd_alive

# 3. A stop with questions still upstream: the listeners close (and with
#    them what is held for sending) cleanly.
names d 20 >"$TMP/d.asked"
mapfile -t asked_d <"$TMP/d.asked"
"$DNSQ" --timeout 1000 "$STUBD_ADDR:$STUBD_PORT" burst "${asked_d[@]}" >"$TMP/d.out" &
burst_pid=$!
wait_for 5 bash -c "[ \$(grep -c 'd[0-9]*\.example' '$TMP/UP.log') -ge 20 ]" ||
	fail "the last burst did not reach upstream"
kill -TERM "$STUBD_PID"
rc=0
wait "$STUBD_PID" || rc=$?
check_eq "stubd exits 0 with questions still upstream" 0 "$rc"
wait "$burst_pid" || true

pass
