# The cache stage: a repeated question is answered without asking the
# upstream, TTLs count down, answers expire, NXDOMAIN and NODATA are cached
# (RFC 2308), identical questions in flight share one upstream query, and
# records a poisoner adds are never stored or served.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
stubd_start -u "$UP"

ttl_of() { awk '$4 == "A" {print $2; exit}' <<<"$1"; }

first=$(q +noall +answer www.example.test A)
check_eq "first answer from upstream" 300 "$(ttl_of "$first")"
sleep 1.2
second=$(q +noall +answer WWW.example.TEST A)
check_eq "upstream asked once for a repeated name" 1 "$(count_log UP 'www\.example\.test\. A')"
ttl2=$(ttl_of "$second")
check "TTL counts down in the cache (got $ttl2)" test "$ttl2" -lt 300 -a "$ttl2" -ge 297
check_match "cached answer keeps the client's case" '^WWW\.example\.TEST\.' "$second"
check_match "cached answer over TCP too" '192\.0\.2\.1' "$(q +tcp +short www.example.test A)"
check_eq "still one upstream query" 1 "$(count_log UP 'www\.example\.test\. A')"
check_eq "another type is another entry" "2001:db8::1" "$(q +short www.example.test AAAA)"
check_eq "AAAA asked upstream" 1 "$(count_log UP 'www\.example\.test\. AAAA')"

# Expiry: an answer with TTL 2 is asked again after it expires.
q +short ttl2.example.test >/dev/null
q +short ttl2.example.test >/dev/null
check_eq "short TTL cached while fresh" 1 "$(count_log UP 'ttl2\.example\.test\.')"
sleep 2.2
check_eq "answer after expiry" "192.0.2.1" "$(q +short ttl2.example.test)"
check_eq "asked again after expiry" 2 "$(count_log UP 'ttl2\.example\.test\.')"

# Negative answers (RFC 2308): NXDOMAIN and NODATA, with the SOA's TTL
# min(SOA TTL, MINIMUM) = 60.
out=$(q nx.example.test A)
out2=$(q nx.example.test A)
check_match "NXDOMAIN from cache" 'status: NXDOMAIN' "$out2"
check_match "negative TTL is min(SOA TTL, MINIMUM)" 'example\.test\.[[:space:]]+(60|59)[[:space:]]+IN[[:space:]]+SOA' "$out2"
check_eq "NXDOMAIN cached" 1 "$(count_log UP 'nx\.example\.test\.')"
q www.example.test TXT >/dev/null
out=$(q www.example.test TXT)
check_match "NODATA from cache" 'ANSWER: 0,' "$out"
check_eq "NODATA cached" 1 "$(count_log UP 'www\.example\.test\. TXT')"

# In-flight coalescing: five clients ask a slow name at once.
for i in 1 2 3 4 5; do q +short slow.example.test >"$TMP/slow.$i" & done
wait_for 5 bash -c "[ \$(cat $TMP/slow.* 2>/dev/null | grep -c 192.0.2.1) -eq 5 ]" ||
	fail "not every waiting client got the answer: $(cat "$TMP"/slow.*)"
# One question upstream for the five; the policy may send it once more
# when the 300 ms reply takes longer than the server's retransmit timeout.
check_between "one upstream question for five clients (tries)" 1 2 "$(count_log UP 'slow\.example\.test\.')"

# Poisoning: unrelated records from the upstream are never served.
out=$(q poison.example.test A)
check_match "the real answer is served" 'poison\.example\.test\..*192\.0\.2\.1' "$out"
check_no_match "unrelated answer record dropped" 'evil\.example' "$out"
check_no_match "out-of-bailiwick NS and glue dropped" 'ns\.evil|198\.51\.100' "$out"
out=$(q poison.example.test A)
check_no_match "and never served from the cache" 'evil|198\.51\.100' "$out"
check_eq "the cached copy was used" 1 "$(count_log UP 'poison\.example\.test\.')"
check_eq "the poisoner's name was not cached" "" "$(q +short +norecurse evil.example A | grep 198.51 || true)"
pass
