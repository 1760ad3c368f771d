# SIGHUP re-reads the config: new upstreams take effect without a restart
# and without dropping the sockets; a broken config, or one whose settings
# contradict each other, is refused and the running one kept.
. "$(dirname "$0")/lib.sh"

fakeup_start UPA --answer 192.0.2.1
fakeup_start UPB --answer 192.0.2.2
conf="$TMP/stubd.conf"
echo "upstream = $UPA" >"$conf"
stubd_start -c "$conf"

check_eq "answer from the first upstream" 192.0.2.1 "$(q +short one.example.test)"

echo "upstream = $UPB" >"$conf"
kill -HUP "$STUBD_PID"
check "reload logged" wait_for 5 grep -q 'configuration reloaded' "$TMP/stubd.log"
check_eq "answer from the new upstream" 192.0.2.2 "$(q +short two.example.test)"
check_eq "old upstream no longer asked" 0 "$(count_log UPA 'two\.example\.test')"

echo "cache-size = lots" >"$conf"
kill -HUP "$STUBD_PID"
check "failed reload logged" wait_for 5 grep -q 'reload failed, keeping the running configuration:.*cache-size' "$TMP/stubd.log"
check_eq "still served by the running config" 192.0.2.2 "$(q +short three.example.test)"
check "stubd still running" stubd_alive

# Each value valid, together not: refused the same, naming both keys.
printf 'upstream = %s\nupstream-timeout = 3000\nquery-timeout = 2000\n' "$UPA" >"$conf"
kill -HUP "$STUBD_PID"
check "contradicting reload logged, with both keys" wait_for 5 grep -q \
	"reload failed, keeping the running configuration: $conf:3: key 'query-timeout': 2000 ms is below upstream-timeout (3000 ms, line 2)" \
	"$TMP/stubd.log"
check_eq "still served by the running config" 192.0.2.2 "$(q +short four.example.test)"
check "stubd still running" stubd_alive
pass
