# Truncation: an answer too big for the client's UDP buffer comes back with
# TC=1 and no records, the client's TCP retry gets all of it; EDNS raises the
# limit, but never above stubd's edns-buffer-size; a truncated upstream reply
# makes stubd retry that upstream over TCP instead of passing TC on; an
# answer of 300 records (over 256 in a section) is served whole over TCP.
. "$(dirname "$0")/lib.sh"

big_a='^big\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.'

fakeup_start UP
stubd_start -u "$UP"

# Without EDNS the limit is 512 bytes: 60 A records (about 1005 bytes) do not fit.
out=$(q +noedns +ignore big.example.test A)
check_match "no EDNS: TC set" 'flags: qr tc rd ra;' "$out"
check_match "no EDNS: TC reply keeps the question, no records" 'QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 0' "$out"
check_match "no EDNS: question echoed" '^;big\.example\.test\.[[:space:]]+IN[[:space:]]+A' "$out"
check_match "no EDNS: over UDP" '\(UDP\)' "$out"

out=$(dq query big.example.test A --no-edns --id 777)
check_match "dnsq no EDNS: TC, ID echoed, empty" '^id=777 rcode=NOERROR flags=qr tc rd ra qd=1 an=0 ns=0 ar=0 ' "$out"

# +bufsize=512 is EDNS with the minimum size: still too small.
out=$(q +bufsize=512 +ignore big.example.test A)
check_match "EDNS 512: TC set" 'flags: qr tc rd ra;' "$out"
check_match "EDNS 512: no records" 'ANSWER: 0,' "$out"

# dig retries over TCP by itself and gets every record.
out=$(q +noedns big.example.test A)
check_match "dig noticed TC" 'Truncated, retrying in TCP mode' "$out"
check_match "TCP retry used" '\(TCP\)' "$out"
check_match "TCP retry: complete answer, no TC" 'flags: qr rd ra; QUERY: 1, ANSWER: 60,' "$out"
check_eq "TCP retry: 60 A records" 60 "$(grep -Ec "$big_a" <<<"$out")"
check_match "TCP retry: first record" "${big_a}1\$" "$out"
check_match "TCP retry: last record" "${big_a}60\$" "$out"

# With a 1232-byte EDNS buffer the answer fits in one datagram.
out=$(q +bufsize=1232 big.example.test A)
check_no_match "EDNS 1232: no TC retry" 'Truncated' "$out"
check_match "EDNS 1232: no TC" 'flags: qr rd ra; QUERY: 1, ANSWER: 60,' "$out"
check_match "EDNS 1232: over UDP" '\(UDP\)' "$out"
check_eq "EDNS 1232: 60 A records" 60 "$(grep -Ec "$big_a" <<<"$out")"
check_match "EDNS 1232: about 1005 bytes" 'MSG SIZE  rcvd: 10[0-9][0-9]$' "$out"

# 200 records exceed even 1232 bytes: TC to a UDP client; over TCP all of
# them (stubd itself must fetch them from the upstream over TCP, since the
# upstream truncates too).
out=$(q +bufsize=1232 +ignore huge.example.test A)
check_match "huge over UDP: TC" 'flags: qr tc rd ra; QUERY: 1, ANSWER: 0,' "$out"
out=$(q +tcp huge.example.test A)
check_match "huge over TCP: complete" 'flags: qr rd ra; QUERY: 1, ANSWER: 200,' "$out"
check_eq "huge over TCP: 200 A records" 200 \
	"$(grep -Ec '^huge\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.' <<<"$out")"
check "stubd fetched huge from the upstream over TCP" test "$(count_log UP '^tcp huge\.example\.test\. A ')" -ge 1

# 300 records, more than 256 in one section (once taken for an attack, so
# the question timed out and the upstream was blamed, issue 14): TC to a
# UDP client, whose TCP retry gets all of them; stubd fetched them over
# TCP and the upstream stays up.
many_a='^many\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.[23]\.'
out=$(q +tcp many.example.test A)
check_match "many over TCP: complete" 'flags: qr rd ra; QUERY: 1, ANSWER: 300,' "$out"
check_eq "many over TCP: 300 A records" 300 "$(grep -Ec "$many_a" <<<"$out")"
check_match "many over TCP: the last record" "${many_a}44\$" "$out"
check "stubd fetched many from the upstream over TCP" test "$(count_log UP '^tcp many\.example\.test\. A ')" -ge 1
out=$(q +bufsize=1232 +ignore many.example.test A)
check_match "many over UDP: TC, no records" 'flags: qr tc rd ra; QUERY: 1, ANSWER: 0,' "$out"
out=$(q +bufsize=1232 many.example.test A)
check_match "many over UDP: dig noticed TC" 'Truncated, retrying in TCP mode' "$out"
check_match "many over UDP: TCP retry used" '\(TCP\)' "$out"
check_eq "many over UDP: the TCP retry gets 300 A records" 300 "$(grep -Ec "$many_a" <<<"$out")"
out=$(q +bufsize=1232 small.example.test A)
check_match "many did not blame the upstream" 'flags: qr rd ra; QUERY: 1, ANSWER: 1,' "$out"

# Upstream truncation: stubd retries the same upstream over TCP and gives
# the UDP client the full answer, without TC.
out=$(q tc.example.test A)
check_no_match "upstream TC not passed on" 'Truncated' "$out"
check_match "upstream TC: answer over UDP without TC" 'flags: qr rd ra; QUERY: 1, ANSWER: 1,' "$out"
check_match "upstream TC: the TCP answer" '^tc\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.99$' "$out"
check_match "upstream TC: client asked over UDP" '\(UDP\)' "$out"
check_eq "upstream TC: one UDP query upstream" 1 "$(count_log UP '^udp tc\.example\.test\. A ')"
check_eq "upstream TC: one TCP query upstream" 1 "$(count_log UP '^tcp tc\.example\.test\. A ')"

# A client's EDNS size above stubd's edns-buffer-size is capped to it.
stubd_stop
stubd_conf 'edns-buffer-size = 512'
stubd_start -c "$TMP/stubd.conf" -u "$UP"
out=$(q +bufsize=4096 +ignore big.example.test A)
check_match "capped to 512: TC" 'flags: qr tc rd ra; QUERY: 1, ANSWER: 0,' "$out"
check_match "capped to 512: stubd offers 512" 'udp: 512$' "$out"
out=$(dq query big.example.test A --edns-size 4096)
check_match "capped to 512 (dnsq): TC, empty" 'rcode=NOERROR flags=qr tc rd ra qd=1 an=0 ' "$out"
out=$(q +bufsize=4096 +tcp big.example.test A)
check_eq "capped to 512: TCP still complete" 60 "$(grep -Ec "$big_a" <<<"$out")"
out=$(q +bufsize=4096 small.example.test A)
check_match "capped to 512: small answers unaffected" 'flags: qr rd ra; QUERY: 1, ANSWER: 1,' "$out"

check "stubd still running" stubd_alive
pass
