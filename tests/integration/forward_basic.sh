# Forwarding over UDP and TCP through a real upstream: the answer comes
# back with the client's ID, question and letter case, over both transports
# and with every common client.
. "$(dirname "$0")/lib.sh"

fakeup_start UP --answer 192.0.2.7
stubd_start -u "$UP"

out=$(q WwW.ExAmPle.test A)
check_match "UDP answer" 'status: NOERROR' "$out"
check_match "answer record from upstream" '^WwW\.ExAmPle\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$out"
check_match "question echoed with its case" '^;WwW\.ExAmPle\.test\.[[:space:]]+IN[[:space:]]+A' "$out"
check_match "RA set, AA cleared" 'flags: qr rd ra;' "$out"

out=$(q +tcp www.example.test AAAA)
check_match "TCP answer" 'www\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+2001:db8::1' "$out"
check_match "TCP used" '\(TCP\)' "$out"

check_eq "kdig over UDP" "192.0.2.7" "$(kdig @"$STUBD_ADDR" -p "$STUBD_PORT" +short +retry=0 kdig.example.test A)"
check_eq "kdig over TCP" "192.0.2.7" "$(kdig @"$STUBD_ADDR" -p "$STUBD_PORT" +tcp +short +retry=0 kdig.example.test A)"
out=$(drill -p "$STUBD_PORT" drill.example.test @"$STUBD_ADDR" A)
check_match "drill" 'drill\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.7' "$out"

# The client's ID is echoed (dnsq checks it and prints it).
out=$("$DNSQ" "$STUBD_ADDR:$STUBD_PORT" query id.example.test A --id 4242)
check_match "ID echoed" 'id=4242' "$out"

# Upstream IDs are fresh per query, never the client's (RFC 5452).
"$DNSQ" "$STUBD_ADDR:$STUBD_PORT" query id2.example.test A --id 4242 >/dev/null
check_eq "client ID not reused upstream" 0 "$(count_log UP 'id=4242$')"

# NXDOMAIN and its SOA pass through.
out=$(q nx.example.test A)
check_match "NXDOMAIN forwarded" 'status: NXDOMAIN' "$out"
check_match "SOA in authority" 'IN[[:space:]]+SOA[[:space:]]+ns\.fake\.' "$out"

check "stubd still running" stubd_alive
pass
