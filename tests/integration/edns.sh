# EDNS towards the client: a query with an OPT record gets one OPT back
# (version 0, stubd's buffer size, DO echoed); a query without gets none,
# even though stubd itself talks EDNS to the upstream. Errors too.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
stubd_start -u "$UP"

# dig sends EDNS (version 0, 1232 bytes) by default.
out=$(q e1.example.test A)
check_match "EDNS query: OPT in the reply" '^; EDNS: version: 0, flags:; udp: 1232$' "$out"
check_match "EDNS query: one additional (the OPT)" 'ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1$' "$out"
out=$(q +tcp e2.example.test A)
check_match "EDNS over TCP: OPT in the reply" '^; EDNS: version: 0, flags:; udp: 1232$' "$out"

# Without EDNS: no OPT, although the upstream's reply had one.
out=$(q +noedns n1.example.test A)
check_match "no EDNS: answered" '^n1\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"
check_match "no EDNS: no additional records" 'ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0$' "$out"
check_no_match "no EDNS: no OPT" 'EDNS:|OPT PSEUDOSECTION' "$out"
out=$(q +noedns +tcp n2.example.test A)
check_match "no EDNS over TCP: no OPT" 'ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0$' "$out"
out=$(dq query n3.example.test A --no-edns --id 3131)
check_match "no EDNS (dnsq): no OPT" '^id=3131 rcode=NOERROR flags=qr rd ra qd=1 an=1 ns=0 ar=0 q=n3\.example\.test\. A edns=none$' "$out"

# The DO bit is echoed (RFC 3225), and only when set.
out=$(q +dnssec d1.example.test A)
check_match "DO set: echoed" '^; EDNS: version: 0, flags: do; udp: 1232$' "$out"
out=$(dq query d2.example.test A --do --id 3232)
check_match "DO set (dnsq): echoed" '^id=3232 rcode=NOERROR .* edns=1232 ednsver=0 do=1$' "$out"
out=$(dq query d3.example.test A --id 3333)
check_match "DO clear (dnsq): not set" '^id=3333 rcode=NOERROR .* edns=1232 ednsver=0 do=0$' "$out"

# A client advertising a small (or odd) size still gets stubd's own size.
out=$(dq query s1.example.test A --edns-size 512 --id 3434)
check_match "client size 512: reply OPT 1232" '^id=3434 rcode=NOERROR .* ar=1 .* edns=1232 ednsver=0 do=0$' "$out"
out=$(dq query s2.example.test A --edns-size 0 --id 3535)
check_match "client size 0 (treated as 512): answered with OPT" '^id=3535 rcode=NOERROR .* an=1 .* edns=1232 ednsver=0' "$out"

# Error replies carry the OPT as well, and lose it without EDNS.
out=$(q nx.example.test A)
check_match "NXDOMAIN with EDNS: status" 'status: NXDOMAIN' "$out"
check_match "NXDOMAIN with EDNS: OPT" '^; EDNS: version: 0, flags:; udp: 1232$' "$out"
check_match "NXDOMAIN with EDNS: SOA + OPT" 'ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1$' "$out"
out=$(q +noedns nx.two.test A)
check_match "NXDOMAIN without EDNS: no OPT" 'ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 0$' "$out"
out=$(q servfail.example.test A)
check_match "SERVFAIL with EDNS: status" 'status: SERVFAIL' "$out"
check_match "SERVFAIL with EDNS: OPT" '^; EDNS: version: 0, flags:; udp: 1232$' "$out"
out=$(q +noedns servfail.two.test A)
check_match "SERVFAIL without EDNS: status" 'status: SERVFAIL' "$out"
check_match "SERVFAIL without EDNS: no OPT" 'ADDITIONAL: 0$' "$out"
out=$(dq query x.example.test AXFR --id 3636 --do)
check_match "REFUSED with EDNS: OPT, DO echoed" '^id=3636 rcode=REFUSED .* edns=1232 ednsver=0 do=1$' "$out"
# RFC 6891 6.1.1: an OPT in the request means an OPT in the response, whatever
# the rcode: NOTIMP for an unknown opcode (STATUS) too.
out=$(dq hex "$(dns_hdr 3737 1100 1 0 0 1)$(wire_name op.example.test)000100010000290200000000000000")
check_match "NOTIMP with EDNS: OPT" '^id=14135 rcode=NOTIMP .* ar=1 .* edns=1232 ednsver=0 do=0$' "$out"

check "stubd still running" stubd_alive
pass
