# Prefetch: a name asked for in the last tenth of its lifetime is answered
# from the cache at once and refreshed upstream in the background, so a
# popular name never expires for its clients.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
printf 'cache-max-ttl = 10\n' >"$TMP/prefetch.conf"
stubd_start -u "$UP" -c "$TMP/prefetch.conf"

check_eq "first answer" "192.0.2.1" "$(q +short hot.example.test)"
sleep 5
check_eq "mid-life hit" "192.0.2.1" "$(q +short hot.example.test)"
check_eq "no refresh at mid-life" 1 "$(count_log UP 'hot\.example\.test\.')"
sleep 4.3
out=$(q +noall +answer hot.example.test A)
ttl=$(awk '{print $2; exit}' <<<"$out")
check "answered from the cache near expiry (TTL $ttl)" test "$ttl" -le 1
check "refreshed in the background" wait_for 2 bash -c "[ \$(grep -c 'hot\\.example\\.test\\.' $TMP/UP.log) -eq 2 ]"
out=$(q +noall +answer hot.example.test A)
ttl=$(awk '{print $2; exit}' <<<"$out")
check "the refreshed answer has a full lifetime again (TTL $ttl)" test "$ttl" -ge 9
check_eq "no third upstream query" 2 "$(count_log UP 'hot\.example\.test\.')"
pass
