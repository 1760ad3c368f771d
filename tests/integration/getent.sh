# A real libc client: getent (getaddrinfo through nsswitch) resolves through
# stubd when resolv.conf points at it. Runs in a private mount namespace
# with bind-mounted resolv.conf and nsswitch.conf, so the machine's own
# files are never touched. stubd listens on port 53 of a random 127.x
# address, since resolv.conf has no port.
. "$(dirname "$0")/lib.sh"

if ! unshare -m true 2>/dev/null; then
	echo "SKIP [$TEST_NAME]: needs unshare -m (root or user namespaces)"
	exit 0
fi

fakeup_start UP --answer 192.0.2.55
STUBD_ADDR=$(rand_addr)
STUBD_PORT=53
: >"$TMP/empty"
printf '192.0.2.66 from-hosts.example.test\n' >"$TMP/hosts"
"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts "$TMP/hosts" -s "$TMP/control.sock" \
	-l "$STUBD_ADDR:53" -u "$UP" >"$TMP/stubd.log" 2>&1 &
STUBD_PID=$!
PIDS+=($STUBD_PID)
wait_for 5 grep -q 'ready: serving' "$TMP/stubd.log" || fail "stubd did not start"

printf 'nameserver %s\noptions edns0 attempts:1 timeout:2\n' "$STUBD_ADDR" >"$TMP/resolv.conf"
printf 'hosts: dns\n' >"$TMP/nsswitch.conf"
in_ns() {
	unshare -m bash -c "mount --bind '$TMP/resolv.conf' /etc/resolv.conf &&
		mount --bind '$TMP/nsswitch.conf' /etc/nsswitch.conf && $*"
}

check_eq "getent ahostsv4 through stubd" "192.0.2.55" \
	"$(in_ns getent ahostsv4 www.example.test | awk 'NR==1 {print $1}')"
check_eq "getent hosts, IPv6" "2001:db8::1" "$(in_ns getent ahostsv6 www.example.test | awk 'NR==1 {print $1}')"
check_eq "hosts stage answers libc too" "192.0.2.66" \
	"$(in_ns getent ahostsv4 from-hosts.example.test | awk 'NR==1 {print $1}')"
set +e
in_ns getent hosts nx.example.test >/dev/null
status=$?
set -e
check_eq "NXDOMAIN is 'not found' for getent" 2 "$status"
check_eq "upstream got the libc queries" 1 "$(count_log UP '^udp www\.example\.test\. A ')"
pass
