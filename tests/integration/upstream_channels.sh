# Upstream channels: many questions in flight at once share a few UDP
# sockets to the server and each gets its own answer, even with spoofed
# replies among them; the sockets are renewed as questions go by and the
# old ones closed; late replies are dropped and counted; a refusing server
# moves every question on to the next one at once.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

ctl() { "$STUBCTL" -s "$TMP/control.sock" "$@"; }
json_num() { grep -o "\"$1\": [0-9]*" | head -n 1 | awk '{print $2}'; }
mismatched() { ctl --json statistics | json_num mismatched; }
# ports VAR: distinct source ports of the UDP queries in fakeup VAR's log.
ports() { sed -n 's/^udp .* port=\([0-9]*\)$/\1/p' "$TMP/$1.log" | sort -u | wc -l; }
# names PREFIX N: PREFIX1.example.test ... PREFIXN.example.test
names() { local i; for ((i = 1; i <= $2; i++)); do echo "$1$i.example.test"; done; }
# pipeline_ok OUT N: dnsq printed an answer (NOERROR, one record) for each
# of ids 1..N, and every reply carries the name asked under its id.
pipeline_ok() {
	awk -v n="$2" '
		FNR == NR { want[FNR] = $0 "."; next }
		/^id=/ { split($1, a, "="); id = a[2]; name = substr($2, 6)
			 if ($3 == "rcode=NOERROR" && $4 == "an=1" && name == want[id]) ok[id] = 1 }
		END { for (i = 1; i <= n; i++) if (!ok[i]) { print "no good answer for id " i; exit 1 } }
	' "$TMP/asked" "$1"
}

fakeup_start UP --log-port
printf 'tcp-max-queries = 256\n' >"$TMP/c.conf"
stubd_start -u "$UP" -c "$TMP/c.conf"

# 1. 200 questions at once over one TCP connection: stubd has them all in
#    flight upstream together. Every tenth is a "wrongid" name, for which
#    fakeup first sends a reply with a wrong ID on the same channel.
for i in $(seq 1 200); do
	if ((i % 10 == 0)); then echo "wrongid.w$i.example.test"; else echo "n$i.example.test"; fi
done >"$TMP/asked"
"$DNSQ" --timeout 10000 "$STUBD_ADDR:$STUBD_PORT" pipeline $(cat "$TMP/asked") >"$TMP/p1.out" ||
	fail "pipeline 1: $(tail -n 3 "$TMP/p1.out")"
check "200 in flight: each question got its own answer" pipeline_ok "$TMP/p1.out" 200
# Once each; a few again when a sanitizer-slowed fakeup kept one past the
# server's retransmit timeout (100 ms once measured): the plan's second round.
asked=$(count_log UP '^udp ')
check_between "each asked upstream once, a few twice" 200 230 "$asked"
p=$(ports UP)
check "they shared at most 8 sockets (got $p)" test "$p" -ge 2 -a "$p" -le 8
# One wrong-ID reply per query fakeup got (a question asked twice got two).
# Read once the count stops moving: a wrong-ID reply to a question sent a
# second time may still be on its way (300 ms of calm is plenty).
base_mismatched=$(mismatched)
for _ in $(seq 1 20); do
	sleep 0.3
	now_mismatched=$(mismatched)
	[ "$now_mismatched" = "$base_mismatched" ] && break
	base_mismatched=$now_mismatched
done
check_between "the wrong-ID replies were dropped and counted" 20 $((20 + 2 * (asked - 200))) "$base_mismatched"

# 2. Thousands more: each socket is renewed after 256 questions, so the
#    source ports keep changing, and the old sockets are closed.
for r in 1 2 3; do
	names "r$r." 1000 >"$TMP/asked"
	"$DNSQ" --timeout 20000 "$STUBD_ADDR:$STUBD_PORT" pipeline $(cat "$TMP/asked") >"$TMP/p2.out" ||
		fail "pipeline 2.$r: $(tail -n 3 "$TMP/p2.out")"
	check "round $r: every answer right" pipeline_ok "$TMP/p2.out" 1000
done
p=$(ports UP)
check "sockets renewed: more than 8 source ports over 3200 questions (got $p)" test "$p" -gt 8
open=$(ss -Hnu dst "$UP" | wc -l)
check "no more than 8 sockets open to the server afterwards (got $open)" test "$open" -le 8
# Nothing mismatched but, at most, the late second reply of a question
# sent twice (a slowed fakeup past the RTO), once its try was closed.
resent=$(($(count_log UP '^udp ') - asked - 3000))
check_between "nothing mismatched meanwhile but late replies to re-sent questions" \
	"$base_mismatched" $((base_mismatched + resent)) "$(mismatched)"

# 3. Late replies: fakeup answers "slow" names after 300 ms; with 100 ms
#    tries and a 250 ms deadline both tries are over by then. The client
#    gets SERVFAIL; each late reply is dropped and counted.
stubd_stop
printf 'upstream-timeout = 100\nquery-timeout = 250\n' >"$TMP/late.conf"
stubd_start -u "$UP" -c "$TMP/late.conf"
out=$(q slow.late.example.test A) || true
check_match "late: SERVFAIL" 'status: SERVFAIL' "$out"
check_eq "late: asked twice" 2 "$(count_log UP '^udp slow\.late\.example\.test\. ')"
# A late reply to a try still open (within its wait, after the client
# got SERVFAIL) is matched and measured by the policy; one to a closed
# try is dropped and counted: the first is always closed by then.
check "late: a late reply dropped and counted" wait_for 3 bash -c "n=\$('$STUBCTL' -s '$TMP/control.sock' --json statistics | grep -o '\"mismatched\": [0-9]*' | awk '{print \$2}'); [ \"\$n\" -ge 1 ] && [ \"\$n\" -le 2 ]"
check_eq "late: a fresh question still answered" "192.0.2.1" "$(q +short after.late.example.test)"
stubd_stop

# 4. The first server's port is closed: 50 questions in flight at once all
#    move on to the second at once (ICMP port unreachable), well inside the
#    1 s try timeout, and the first is shown down.
fakeup_start B --answer 192.0.2.2
closed=$(closed_addr)
stubd_start -u "$closed" -u "$B"
names "x" 50 >"$TMP/asked"
t0=$(now_ms)
"$DNSQ" --timeout 5000 "$STUBD_ADDR:$STUBD_PORT" pipeline $(cat "$TMP/asked") >"$TMP/p4.out" ||
	fail "pipeline 4: $(tail -n 3 "$TMP/p4.out")"
dt=$(($(now_ms) - t0))
check "refused: every question answered" pipeline_ok "$TMP/p4.out" 50
check "refused: without waiting for a timeout (${dt} ms)" test "$dt" -lt 900
check_eq "refused: all answered by the second" 50 "$(count_log B '^udp x')"
check_match "refused: the first shown down" "$closed +down .*refused" "$(ctl status)"

check "stubd still running" stubd_alive
pass
