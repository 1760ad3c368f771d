# Link settings that last and front ends that misbehave, in a private
# network namespace: settings survive a restart of stubd (and a link gone
# meanwhile is skipped), systemd-networkd's state files are followed as
# they are created, replaced and removed, and bad input (an unknown
# interface, a malformed server or domain, a flood of domains, a state file
# with garbage) gets a clear message while DNS keeps working.
NEEDS_NETNS=1
. "$(dirname "$0")/lib.sh"

fakeup_start_at LAN 127.10.0.1:53 --answer 192.0.2.10
fakeup_start_at VPN 127.20.0.1:53 --answer 192.0.2.20
fakeup_start_at NETD 127.50.0.1:53 --answer 192.0.2.50
fakeup_start_at NETD2 127.50.0.2:53 --answer 192.0.2.51

veth_add eth0
veth_add tun0
veth_add eth1
veth_add gone0

mkdir -p "$TMP/run" "$TMP/netif"
stubd_conf "runtime-directory = $TMP/run" "networkd-links-dir = $TMP/netif" \
	"max-link-domains = 50"
stubd_start -c "$TMP/stubd.conf"
rc_setup

printf 'nameserver 127.10.0.1\nsearch lan\n' | resolvconf -a eth0.dhclient
ctl dns tun0 127.20.0.1 >/dev/null
ctl domain tun0 '~corp.example' >/dev/null
ctl dns gone0 127.20.0.1 >/dev/null
check_eq "before the restart: VPN" 192.0.2.20 "$(a a.corp.example)"
check_match "state file written" 'tun0 stubctl servers=127\.20\.0\.1 domains=~corp\.example' \
	"$(cat "$TMP/run/links")"

# Restart, with one interface removed while stubd was down.
stubd_stop
ip link del gone0
stubd_start -c "$TMP/stubd.conf"
check_eq "after the restart: the VPN's route is back" 192.0.2.20 "$(a b.corp.example)"
check_eq "and the LAN's (a resolvconf record)" 192.0.2.10 "$(a www.example)"
check_no_match "the removed interface is skipped" 'gone0' "$(ctl dns)"
check_match "restoring is logged" 'restored 2 link setting' "$(cat "$TMP/stubd.log")"

# systemd-networkd's state file, written as networkd does (temp + rename).
idx=$(ifindex eth1)
write_netif() {
	printf '%s\n' "# This is private data. Do not parse." "ADMIN_STATE=configured" \
		"OPER_STATE=routable" "$@" >"$TMP/netif/.tmp$idx"
	mv "$TMP/netif/.tmp$idx" "$TMP/netif/$idx"
}
write_netif "DNS=127.50.0.1" "ROUTE_DOMAINS=netd.example"
wait_for 3 sh -c "\"$STUBCTL\" -s \"$TMP/control.sock\" dns eth1 | grep -q 127.50.0.1" ||
	fail "networkd's file not followed"
check_eq "networkd's route domain" 192.0.2.50 "$(a x.netd.example)"
check_match "status says networkd set it" 'Set by: +networkd' "$(ctl status)"
write_netif "DNS=127.50.0.2" "ROUTE_DOMAINS=netd.example"
wait_for 3 sh -c "\"$STUBCTL\" -s \"$TMP/control.sock\" dns eth1 | grep -q 127.50.0.2" ||
	fail "networkd's replaced file not followed"
check_eq "networkd's new server" 192.0.2.51 "$(a y.netd.example)"
rm "$TMP/netif/$idx"
wait_for 3 sh -c "! \"$STUBCTL\" -s \"$TMP/control.sock\" dns | grep -q eth1" ||
	fail "networkd's removed file still followed"
check "networkd's settings gone with its file" true

# Bad input: a clear message and exit status, nothing else changes.
set +e
out=$(ctl dns nosuch0 127.0.0.1 2>&1); rc=$?
set -e
check_eq "unknown interface: exit 1" 1 "$rc"
check_match "unknown interface: says so" "no network interface 'nosuch0'" "$out"
set +e
out=$(ctl dns tun0 1.2.3 2>&1); rc=$?
set -e
check_eq "malformed server: exit 2" 2 "$rc"
check_match "malformed server: says so" "'1\.2\.3' is not an IP address" "$out"
l63=$(printf 'a%.0s' $(seq 1 63))
long="$l63.$l63.$l63.${l63%a}" # 254 characters: one over the limit
set +e
out=$(ctl domain tun0 "$long" 2>&1); rc=$?
set -e
check_eq "domain over 253 characters: exit 2" 2 "$rc"
check_match "domain too long: says so" 'longer than 253' "$out"
check_eq "the VPN's settings are unchanged" 192.0.2.20 "$(a c.corp.example)"

# A flood: domains pushed one more at a time until the cap stops them.
doms=()
refused=""
for i in $(seq 1 60); do
	doms+=("~d$i.flood.example")
	if ! out=$(ctl domain tun0 '~corp.example' "${doms[@]}" 2>&1); then
		refused=$i
		break
	fi
done
check_eq "the cap stops the flood at max-link-domains" 50 "$refused"
check_match "the cap names its key" 'max-link-domains' "$out"
check_eq "DNS still works after the flood" 192.0.2.20 "$(a d.corp.example)"
for i in $(seq 1 40); do
	printf 'nameserver 127.10.0.1\n' | resolvconf -a "eth0.flood$i" 2>/dev/null || break
done
check_match "resolvconf records are capped too" 'resolvconf records' \
	"$(printf 'nameserver 127.10.0.1\n' | resolvconf -a eth0.flood99 2>&1 || true)"

# A state file with garbage: the bad lines are logged with file and line,
# the good ones restored.
stubd_stop
{
	echo "garbage that is not a setting"
	printf '\x00\x01\x02 binary\n'
	echo "$(ifindex tun0) tun0 stubctl servers=999.1.1.1"
	echo "$(ifindex tun0) tun0 stubctl servers=127.20.0.1 domains=~corp.example"
} >"$TMP/run/links"
stubd_start -c "$TMP/stubd.conf"
check_match "garbage line logged with file and line" "$TMP/run/links:1: " "$(cat "$TMP/stubd.log")"
check_match "bad server logged with its line" "$TMP/run/links:3: .*999\.1\.1\.1" "$(cat "$TMP/stubd.log")"
check_eq "the good line restored" 192.0.2.20 "$(a e.corp.example)"

# forward-zone lines come and go with a reload (SIGHUP).
fakeup_start_at FZ 127.40.0.1:53 --answer 192.0.2.40
check_eq "before the reload: no server for it" SERVFAIL "$(rcode a.fz.example)"
stubd_conf "runtime-directory = $TMP/run" "networkd-links-dir = $TMP/netif" \
	"max-link-domains = 50" "forward-zone = fz.example 127.40.0.1"
kill -HUP "$STUBD_PID"
wait_for 3 grep -q 'configuration reloaded' "$TMP/stubd.log" || fail "no reload"
check_eq "after the reload: the forward-zone" 192.0.2.40 "$(a b.fz.example)"
check_eq "links kept across the reload" 192.0.2.20 "$(a f.corp.example)"

check "stubd still running" stubd_alive
pass
