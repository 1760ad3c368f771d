# No open resolver by accident: with a listen address on a (dummy) LAN
# interface, clients from that network get REFUSED until an 'allow' block
# admits them; loopback clients are always served. Runs in a private
# network namespace of its own, so the "LAN" exists only inside it.
if [ -z "${STUBD_ACL_NS:-}" ]; then
	if ! unshare --net true 2>/dev/null; then
		echo "SKIP [acl]: needs unshare --net (root)"
		exit 0
	fi
	exec env STUBD_ACL_NS=1 unshare --net bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

# A "LAN" address on lo: the namespace's own, and not in 127.0.0.0/8, so
# stubd sees a non-loopback client.
ip link set lo up
ip addr add 192.0.2.10/24 dev lo

fakeup_start UP
port=$(rand_port)
conf="$TMP/acl.conf"
: >"$conf"
"$STUBD" -f -v -c "$conf" --resolv-conf "$TMP/empty" --hosts none -s "$TMP/control.sock" \
	-l "192.0.2.10:$port" -l "127.0.0.1:$port" -u "$UP" >"$TMP/stubd.log" 2>&1 &
STUBD_PID=$!
PIDS+=($STUBD_PID)
: >"$TMP/empty"
wait_for 5 grep -qs 'ready: serving' "$TMP/stubd.log" || fail "stubd did not start"

lan() { dig -b 192.0.2.10 @192.0.2.10 -p "$port" +tries=1 +time=3 "$@"; }
check_match "a LAN client is REFUSED by default (UDP)" 'status: REFUSED' "$(lan www.example.test)"
check_match "and over TCP" 'status: REFUSED' "$(lan +tcp www.example.test)"
check_eq "a refused question never goes upstream" 0 "$(count_log UP 'www\.example\.test')"
check_eq "loopback clients are served" "192.0.2.1" \
	"$(dig @127.0.0.1 -p "$port" +short +tries=1 +time=3 www.example.test)"
check_match "refusals are counted" '"refused": [1-9]' "$("$STUBCTL" -s "$TMP/control.sock" --json statistics)"

printf 'allow = 192.0.2.0/24\n' >"$conf"
kill -HUP "$STUBD_PID"
wait_for 3 grep -q 'configuration reloaded' "$TMP/stubd.log" || fail "reload"
check_eq "allow admits the LAN (UDP)" "192.0.2.1" "$(lan +short lan.example.test)"
check_eq "allow admits the LAN (TCP)" "192.0.2.1" "$(lan +tcp +short lan2.example.test)"

printf 'allow = 198.51.100.0/24\n' >"$conf"
kill -HUP "$STUBD_PID"
wait_for 3 bash -c "[ \$(grep -c 'configuration reloaded' $TMP/stubd.log) -ge 2 ]" || fail "reload 2"
check_match "another block does not" 'status: REFUSED' "$(lan other.example.test)"
pass
