# A dead upstream is avoided once a try of it has timed out, so questions
# stop paying its timeout, and it is probed again later; stubctl status
# shows it down, then up once it answers again. "order", so the first
# question waits on the dead one (under "fastest" the live one, explored
# at once, answers first and the dead one's timeout is noted later).
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

fakeup_start DEAD --mode dead
fakeup_start GOOD --answer 192.0.2.2
printf 'upstream-timeout = 300\nquery-timeout = 3000\nupstream-strategy = order\n' >"$TMP/h.conf"
stubd_start -u "$DEAD" -u "$GOOD" -c "$TMP/h.conf"
ctl() { "$STUBCTL" -s "$TMP/control.sock" "$@"; }

for i in 1 2 3; do
	check_eq "answer $i from the second server" "192.0.2.2" "$(q +short "warm$i.example.test")"
done
check_match "the dead server is shown down" "$DEAD +down .*timeout" "$(ctl status)"
check_match "and logged" "upstream $DEAD is down" "$(cat "$TMP/stubd.log")"
before=$(grep -c . "$TMP/DEAD.log")
t0=$(now_ms)
check_eq "next answer" "192.0.2.2" "$(q +short skip.example.test)"
dt=$(($(now_ms) - t0))
check "it no longer waits for the dead one (${dt} ms)" test "$dt" -lt 250
check_eq "the dead server was not asked" "$before" "$(grep -c . "$TMP/DEAD.log")"

sleep 5.2
q +short probe.example.test >/dev/null
check_eq "after the re-probe interval it is asked again" 1 "$(count_log DEAD 'probe\.example\.test')"
check "stubd still running" stubd_alive
pass
