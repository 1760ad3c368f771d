# IPv6: stubd listening on [::1] answers over UDP and TCP, forwarding to an
# upstream on [::1]; IPv4 clients can use an IPv6 upstream and vice versa.
. "$(dirname "$0")/lib.sh"

if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	echo "SKIP [$TEST_NAME]: no ::1 on lo"
	exit 0
fi

fakeup_start_at UP6 "[::1]:$(rand_port)" --answer 192.0.2.6
fakeup_start UP4 --answer 192.0.2.4
P6=$(rand_port)

stubd_start -l "[::1]:$P6" -u "$UP6"
check_match "ready message names the IPv6 listener" "\\[::1\\]:$P6" "$(cat "$TMP/stubd.log")"

a_rr() { echo "^$1[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+$2\$"; }

out=$(dig @::1 -p "$P6" +tries=1 +time=3 v6udp.example.test A)
check_match "[::1] over UDP: answer from the IPv6 upstream" "$(a_rr 'v6udp\.example\.test\.' '192\.0\.2\.6')" "$out"
check_match "[::1] over UDP: used UDP to ::1" "SERVER: ::1#$P6\\(::1\\) \\(UDP\\)" "$out"
out=$(dig @::1 -p "$P6" +tries=1 +time=3 +tcp v6tcp.example.test AAAA)
check_match "[::1] over TCP: AAAA answer" '^v6tcp\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+2001:db8::1$' "$out"
check_match "[::1] over TCP: used TCP" "SERVER: ::1#$P6\\(::1\\) \\(TCP\\)" "$out"
out=$("$DNSQ" "[::1]:$P6" query v6id.example.test A --id 6060)
check_match "[::1]: ID echoed (dnsq)" '^id=6060 rcode=NOERROR flags=qr rd ra qd=1 an=1 ' "$out"
out=$("$DNSQ" --tcp "[::1]:$P6" query v6id.example.test A --id 6061)
check_match "[::1] over TCP: ID echoed (dnsq)" '^id=6061 rcode=NOERROR flags=qr rd ra qd=1 an=1 ' "$out"
check_eq "IPv6 upstream asked over UDP" 1 "$(count_log UP6 '^udp v6udp\.example\.test\. A ')"
check_eq "IPv6 upstream asked for the TCP client's question" 1 "$(count_log UP6 '^udp v6tcp\.example\.test\. AAAA ')"

# The IPv4 listener of the same stubd uses the IPv6 upstream too.
out=$(q v4client.example.test A)
check_match "IPv4 client, IPv6 upstream" "$(a_rr 'v4client\.example\.test\.' '192\.0\.2\.6')" "$out"

# Upstream truncation over IPv6: stubd retries the [::1] upstream over TCP.
out=$(dig @::1 -p "$P6" +tries=1 +time=3 tc.example.test A)
check_match "IPv6 upstream TC: TCP answer" "$(a_rr 'tc\.example\.test\.' '192\.0\.2\.99')" "$out"
check_eq "IPv6 upstream TC: one TCP query" 1 "$(count_log UP6 '^tcp tc\.example\.test\. A ')"
stubd_stop

# IPv6 client, IPv4 upstream.
P6=$(rand_port)
stubd_start -l "[::1]:$P6" -u "$UP4"
out=$(dig @::1 -p "$P6" +tries=1 +time=3 v6client.example.test A)
check_match "IPv6 client, IPv4 upstream" "$(a_rr 'v6client\.example\.test\.' '192\.0\.2\.4')" "$out"
check_eq "IPv4 upstream asked" 1 "$(count_log UP4 '^udp v6client\.example\.test\. A ')"

# An IPv6 upstream that is a closed port: refused at once, next upstream.
stubd_stop
P6=$(rand_port)
stubd_start -l "[::1]:$P6" -u "[::1]:$(rand_port)" -u "$UP4"
t0=$(now_ms)
out=$(dig @::1 -p "$P6" +tries=1 +time=3 v6closed.example.test A)
dt=$(($(now_ms) - t0))
check_match "closed IPv6 upstream: next one answers" "$(a_rr 'v6closed\.example\.test\.' '192\.0\.2\.4')" "$out"
check_between "closed IPv6 upstream: fast (ms)" 0 600 "$dt"

check "stubd still running" stubd_alive
pass
