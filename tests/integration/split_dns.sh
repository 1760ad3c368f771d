# Split DNS on a laptop whose networks change, in a private network
# namespace with veth interfaces: a LAN from dhclient (v4 and v6 records),
# an OpenVPN-style split tunnel, a WireGuard-style full tunnel (the exact
# wg-quick command lines), a forward-zone beating a link's shorter domain,
# interfaces going down, up and away, and a name with no server. Each
# fake upstream answers with its own address, so the answer says who was
# asked. As on a laptop, there are no global servers: resolv.conf points
# at stubd.
NEEDS_NETNS=1
. "$(dirname "$0")/lib.sh"

fakeup_start_at LAN 127.10.0.1:53 --answer 192.0.2.10
fakeup_start_at LAN6 "[::1]:53" --answer 192.0.2.11
fakeup_start_at VPN 127.20.0.1:53 --answer 192.0.2.20
fakeup_start_at WG 127.20.0.2:53 --answer 192.0.2.21
fakeup_start_at CORP 127.40.0.1:53 --answer 192.0.2.40
fakeup_start_at BROKEN 127.60.0.1:53 --mode servfail

veth_add eth0
veth_add tun0
veth_add wg0
veth_add tun1

mkdir -p "$TMP/run"
stubd_conf "runtime-directory = $TMP/run" "networkd-links-dir = $TMP/netif" \
	"forward-zone = a.corp.example 127.40.0.1" "upstream-timeout = 300" \
	"workers = 2" # the table reaches every worker
stubd_start -c "$TMP/stubd.conf"
rc_setup

# No server for a name: SERVFAIL at once, not after a timeout.
start=$(now_ms)
check_eq "no server: SERVFAIL" SERVFAIL "$(rcode nothing.example)"
check_between "no server: answered at once (ms)" 0 500 $(($(now_ms) - start))
check_match "counted" '"no_servers": *[1-9]' "$(ctl --json statistics)"

# dhclient's records for one interface, v4 and v6, kept apart and merged.
printf 'nameserver 127.10.0.1\nsearch lan\n' | resolvconf -a eth0.dhclient
check_eq "LAN from dhclient answers" 192.0.2.10 "$(a www.example)"
printf 'nameserver ::1\n' | resolvconf -a eth0.ip6.dhclient
out=$(ctl dns eth0)
check_match "both records' servers on eth0" '127\.10\.0\.1.*::1' "$out"
check_match "resolv.conf has the search domain" '^search lan$' "$(cat "$TMP/run/resolv.conf")"
check_match "resolv.conf names stubd" "^nameserver $STUBD_ADDR\$" "$(cat "$TMP/run/resolv.conf")"
resolvconf -d eth0.dhclient
check_eq "removing the v4 record keeps the v6 one" 192.0.2.11 "$(a www2.example)"
check_no_match "v4 server gone" '127\.10\.0\.1' "$(ctl dns eth0)"
printf 'nameserver 127.10.0.1\nsearch lan\n' | resolvconf -a eth0.dhclient
resolvconf -d eth0.ip6.dhclient
resolvconf -d never.added
check "deleting a record never added is exit 0" true

# OpenVPN-style split: only corp.example to the VPN, the rest to the LAN.
ctl dns tun0 127.20.0.1 >/dev/null
ctl domain tun0 '~corp.example' >/dev/null
check_eq "corp name to the VPN" 192.0.2.20 "$(a intranet.corp.example)"
check_eq "other names to the LAN" 192.0.2.10 "$(a www3.example)"
check_eq "the VPN was not asked for it" 0 "$(count_log VPN 'www3\.example')"
check_match "stubctl query says which route" 'route: link tun0 \(~corp\.example\)' \
	"$(ctl query wiki.corp.example)"
check_match "status shows the link and who set it" 'Set by: +stubctl' "$(ctl status)"

# openvpn's update-resolv-conf, its own command lines: its search domain
# routes to its server; -d takes its record away and nothing else.
printf 'search vpn.example\nnameserver 127.20.0.1\n' | resolvconf -a tun1.openvpn
check_eq "openvpn's search domain routes to the VPN" 192.0.2.20 "$(a host.vpn.example)"
resolvconf -d tun1.openvpn
check_no_match "openvpn's record is gone" 'tun1' "$(ctl dns)"
check_match "stubctl's settings on tun0 stay" 'tun0 +[0-9]+ +127\.20\.0\.1' "$(ctl dns tun0)"
check_eq "openvpn's domain is gone" 192.0.2.10 "$(a host2.vpn.example)"

# A forward-zone under the VPN's domain wins: longest match.
check_eq "forward-zone beats the link's shorter domain" 192.0.2.40 "$(a x.a.corp.example)"
check_eq "and only below it" 192.0.2.20 "$(a b.corp.example)"

# Reverse names route like any other.
ctl domain tun0 '~corp.example' '~10.in-addr.arpa' >/dev/null
q -x 10.1.2.3 >/dev/null
check_eq "reverse name to the VPN" 1 "$(count_log VPN '3\.2\.1\.10\.in-addr\.arpa')"

# WireGuard full tunnel, with wg-quick's own command lines.
printf 'nameserver 127.20.0.2\n' | resolvconf -a tun.wg0 -m 0 -x
check_eq "full tunnel takes every other name" 192.0.2.21 "$(a www4.example)"
check_eq "the LAN's own domain still goes to the LAN" 192.0.2.10 "$(a printer.lan)"
check_eq "the split VPN's domain still goes there" 192.0.2.20 "$(a mail.corp.example)"
resolvconf -d tun.wg0 -f
check_eq "tunnel down: back to the LAN" 192.0.2.10 "$(a www5.example)"
resolvconf -d tun.wg0 -f
check "tunnel down twice is no error" true

# An interface that goes down contributes nothing until it is up again.
ip link set eth0-p down
wait_for 3 sh -c "! \"$STUBCTL\" -s \"$TMP/control.sock\" status | grep -A2 'Link.*(eth0)' | grep -q 'State: *up'" ||
	fail "eth0 not seen down"
check_eq "LAN down: no server for other names" SERVFAIL "$(rcode www6.example)"
check_eq "the VPN still works" 192.0.2.20 "$(a git.corp.example)"
ip link set eth0-p up
wait_for 3 sh -c "[ \"\$(dig @$STUBD_ADDR -p $STUBD_PORT +short +tries=1 www7.example A)\" = 192.0.2.10 ]" ||
	fail "LAN back up: names not going there again"
check "LAN back up" true

# When the servers a name goes to change, its cached answer is no longer
# fresh but stays as stale (RFC 8767) in case the new servers fail.
check_eq "cached from the LAN" 192.0.2.10 "$(a cached.example)"
ctl dns eth0 127.60.0.1 >/dev/null
out=$(q cached.example A)
check_match "the new server failed: the old answer, served stale" \
	'cached\.example\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.10' "$out"
check_eq "the new server was asked" 1 "$(count_log BROKEN 'cached\.example')"
ctl revert eth0 >/dev/null
check_eq "revert drops stubctl's and resolvconf's settings" SERVFAIL "$(rcode www8.example)"

# An interface removed while it holds servers: its settings are dropped.
ip link del tun0
wait_for 3 sh -c "! \"$STUBCTL\" -s \"$TMP/control.sock\" dns | grep -q tun0" ||
	fail "tun0's settings kept after it was removed"
check_eq "its domain now has no server" SERVFAIL "$(rcode old.corp.example)"

# NetworkManager (rc-manager=resolvconf) hands every connection's servers
# over as one record named "NetworkManager", for no one interface: it
# applies system-wide.
printf '# Generated by NetworkManager\nsearch nm.example\nnameserver 127.10.0.1\n' |
	resolvconf -a NetworkManager
check_eq "NetworkManager's servers take names" 192.0.2.10 "$(a www9.example)"
check_match "status shows the record" 'Set by: +resolvconf NetworkManager' "$(ctl status)"
check_match "its search domain in resolv.conf" '^search nm\.example$' "$(cat "$TMP/run/resolv.conf")"
resolvconf -d NetworkManager
check_eq "NetworkManager's record removed" SERVFAIL "$(rcode www10.example)"

check "stubd still running" stubd_alive
pass
