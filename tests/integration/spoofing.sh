# Spoofing: replies with the wrong ID, the wrong question, unparsable bytes,
# or from an address other than the upstream's are ignored, and stubd keeps
# waiting for the genuine reply; a reply that differs only in letter case is
# accepted, and the client still sees its own case.
. "$(dirname "$0")/lib.sh"

spoof_ip='198\.51\.100\.66'
a_rr() { echo "^$1[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+$2\$"; }

fakeup_start UP
stubd_start -u "$UP"

# fakeup sends the spoof first and the genuine reply 100 ms later.
for kind in wrongid wrongq garbage; do
	out=$(q "$kind.example.test" A)
	check_match "$kind: NOERROR" 'status: NOERROR' "$out"
	check_match "$kind: the genuine answer" "$(a_rr "$kind\\.example\\.test\\." '192\.0\.2\.1')" "$out"
	check_no_match "$kind: never the spoofed answer" "$spoof_ip" "$out"
	check_match "$kind: one answer record" 'ANSWER: 1,' "$out"
	check_match "$kind: question echoed" "^;$kind\\.example\\.test\\.[[:space:]]+IN[[:space:]]+A" "$out"
	# Ignoring a spoof means waiting on for the real reply, not asking again.
	check_eq "$kind: asked upstream once over UDP" 1 "$(count_log UP "^udp $kind\\.example\\.test\\. A ")"
	check_eq "$kind: no TCP retry needed" 0 "$(count_log UP "^tcp $kind\\.example\\.test\\. ")"
done

# Spoofs for AAAA too (the spoofed AAAA is 2001:db8::666).
out=$(q wrongid.example.test AAAA)
check_match "wrongid AAAA: genuine answer" 'IN[[:space:]]+AAAA[[:space:]]+2001:db8::1$' "$out"
check_no_match "wrongid AAAA: never the spoof" '2001:db8::666' "$out"

# The upstream upper-cases the question: DNS names are case-insensitive, so
# the reply is accepted, and the client gets its own spelling back.
out=$(q CaSe.ExAmPle.TeSt A)
check_match "case: NOERROR" 'status: NOERROR' "$out"
pat=$(a_rr "case\\.example\\.test\\." "192\\.0\\.2\\.1")
check_match "case: accepted" "${pat,,}" "${out,,}"
check_match "case: client's letter case in the question" '^;CaSe\.ExAmPle\.TeSt\.[[:space:]]+IN[[:space:]]+A' "$out"
check_eq "case: asked upstream once" 1 "$(count_log UP '^udp case\.example\.test\. A ')"

# A well-formed reply with the right ID and question, but from the wrong
# address: stubd asks a silent upstream (DEAD), we read the ID it used from
# DEAD's log and its source port from ss, and answer from 127.0.0.1 with
# dnsq. stubd must ignore it and, after the try timeout, ask the next one.
stubd_stop
fakeup_start DEAD --mode dead
stubd_conf 'upstream-timeout = 1500' 'query-timeout = 5000'
stubd_start -c "$TMP/stubd.conf" -u "$DEAD" -u "$UP"
name=offpath.example.test
q "$name" A >"$TMP/offpath.out" &
dig_pid=$!
PIDS+=($dig_pid)
wait_for 2 grep -q "^udp $name\\. A " "$TMP/DEAD.log" || fail "stubd did not ask DEAD"
id=$(sed -n "s/^udp $name\\. A id=\\([0-9]*\\)\$/\\1/p" "$TMP/DEAD.log" | head -n 1)
src=$(ss -Hnu dst "$DEAD" | awk '{ print $4 }' | head -n 1)
check_match "found stubd's socket towards DEAD" '^127\.[0-9.]+:[0-9]+$' "$src"
# Header (ID, QR RD RA, 1 question, 1 answer), question, A 198.51.100.66.
spoof=$(printf '%04x' "$id")81800001000100000000$(wire_name "$name")00010001c00c000100010000012c0004c6336442
for _ in 1 2 3; do
	"$DNSQ" --timeout 50 "$src" hex "$spoof" >/dev/null 2>&1 || true
done
wait "$dig_pid" || true
out=$(cat "$TMP/offpath.out")
check_match "off-path spoof: answer from the next upstream" "$(a_rr 'offpath\.example\.test\.' '192\.0\.2\.1')" "$out"
check_no_match "off-path spoof: ignored" "$spoof_ip" "$out"
check_eq "off-path spoof: next upstream asked" 1 "$(count_log UP "^udp $name\\. A ")"

check "stubd still running" stubd_alive
pass
