# org.freedesktop.resolve1 driven call by call with busctl, for what
# resolvectl does not send: NetworkManager 1.42's six calls per link (to
# set a LAN and a split VPN up, then to take them down), callers who may
# not change anything, malformed calls, the lookups NetworkManager acts on,
# the bus going away and coming back, and a second stubd finding the name
# taken. Every fake upstream answers with its own address, so the answer
# says who was asked; every change is checked with dig. As on a laptop with
# NetworkManager, there are no global servers: links bring them all.
NEEDS_NETNS=1
. "$(dirname "$0")/lib.sh"
bus_start

fakeup_start_at LAN 127.11.0.1:53 --answer 192.0.2.11
fakeup_start_at VPN 127.12.0.1:53 --answer 192.0.2.12
veth_add eth0
veth_add tun0
veth_add eth1 # never given DNS: NetworkManager's check on a device without it
ETH=$(ifindex eth0)
TUN=$(ifindex tun0)

# control-group: a group every Debian has (stubctl.sh uses it too), for
# the member's check below.
stubd_conf "dbus = yes" "networkd-links-dir = none" "control-group = adm"
stubd_start -c "$TMP/stubd.conf"

# ---- helpers ---------------------------------------------------------------

# busctl prints only an error's message, and clients act on its name: a
# dbus-monitor (package dbus-bin, which dbus-daemon depends on) records
# every error sent on the bus. Started again with the bus.
monitor_start() {
	: >"$TMP/monitor.out"
	dbus-monitor --address "$BUS_ADDRESS" --monitor "type='error'" >"$TMP/monitor.out" \
		2>"$TMP/monitor.log" &
	PIDS+=($!)
	# The bus greets a monitor with NameAcquired: it is listening then.
	wait_for 5 grep -q NameAcquired "$TMP/monitor.out" || fail "dbus-monitor did not start"
}
errors_seen() { grep -c '^error ' "$TMP/monitor.out" || true; }
errors_more_than() { [ "$(errors_seen)" -gt "$1" ]; }

# ocall PATH INTERFACE METHOD SIGNATURE ARGS...: busctl calls METHOD; sets
# OUT (busctl's output), RC, and ERR (the D-Bus error's name, "" when the
# call succeeded). AS, if set, is a command that runs busctl as someone
# else.
ocall() {
	local path=$1 iface=$2 before
	shift 2
	before=$(errors_seen)
	RC=0
	# shellcheck disable=SC2086 # AS is words
	OUT=$(${AS:-} busctl --system call -- org.freedesktop.resolve1 "$path" "$iface" "$@" 2>&1) || RC=$?
	ERR=""
	if [ "$RC" -ne 0 ] && wait_for 3 errors_more_than "$before"; then
		ERR=$(grep '^error ' "$TMP/monitor.out" | tail -n 1 | sed -n 's/.* error_name=\([^ ]*\).*/\1/p')
	fi
}
MANAGER=/org/freedesktop/resolve1
mcall() { ocall $MANAGER org.freedesktop.resolve1.Manager "$@"; }

call_ok() { # call_ok DESCRIPTION METHOD SIGNATURE ARGS...: a Manager call that succeeds
	local what=$1
	shift
	mcall "$@"
	check "$what: $OUT" [ "$RC" -eq 0 ]
}

call_err() { # call_err DESCRIPTION ERROR-NAME METHOD SIGNATURE ARGS...: fails with ERROR-NAME
	local what=$1 name=$2
	shift 2
	mcall "$@"
	check_eq "$what (busctl: $OUT)" "$name" "$ERR"
}

# A Link object's path: sd_bus_path_encode of the ifindex, "3" -> "_33".
link_path() { echo "$MANAGER/link/_3$(ifindex "$1")"; }
lprop() { # lprop IFACE PROPERTY: the Link property as busctl prints it
	# shellcheck disable=SC2086 # AS is words
	${AS:-} busctl --system get-property org.freedesktop.resolve1 "$(link_path "$1")" \
		org.freedesktop.resolve1.Link "$2" 2>&1
}
mprop() { busctl --system get-property org.freedesktop.resolve1 $MANAGER org.freedesktop.resolve1.Manager "$1" 2>&1; }
# What a link has: servers (with names), domains, default route.
link_state() { echo "$(lprop "$1" DNSEx) | $(lprop "$1" Domains) | $(lprop "$1" DefaultRoute)"; }

# nm_push IFINDEX DOMAINS DEFAULT-ROUTE DNS-METHOD DNS: NetworkManager
# 1.42's calls for one link, in its order (nm-dns-systemd-resolved.c,
# prepare_one_interface). DOMAINS and DNS are busctl's words for the
# arrays: the count, then the items. mDNS, LLMNR and DNS over TLS are ""
# (the connection's default), as NetworkManager sends them unless set.
nm_push() {
	local i=$1 domains=$2 default_route=$3 dns_method=$4 dns=$5 sig='ia(iay)'
	[ "$dns_method" = SetLinkDNSEx ] && sig='ia(iayqs)'
	# shellcheck disable=SC2086 # the arrays are words
	call_ok "link $i: SetLinkDomains" SetLinkDomains 'ia(sb)' "$i" $domains
	call_ok "link $i: SetLinkDefaultRoute" SetLinkDefaultRoute ib "$i" "$default_route"
	call_ok "link $i: SetLinkMulticastDNS" SetLinkMulticastDNS is "$i" ""
	call_ok "link $i: SetLinkLLMNR" SetLinkLLMNR is "$i" ""
	# shellcheck disable=SC2086
	call_ok "link $i: $dns_method" "$dns_method" "$sig" "$i" $dns
	call_ok "link $i: SetLinkDNSOverTLS" SetLinkDNSOverTLS is "$i" ""
}
# NetworkManager's removal: the same six calls with nothing in them
# (never RevertLink); no DefaultRoute, since no connection gives one.
nm_remove() { nm_push "$1" 0 false SetLinkDNS 0; }

# The LAN: search domain lan, routing domain example, default route. The
# VPN: routing domain corp.example only, no default route, and a server
# with a TLS name, so NetworkManager sends SetLinkDNSEx.
nm_up() {
	nm_push "$ETH" "2 lan false example true" true SetLinkDNS "1 2 4 127 11 0 1"
	nm_push "$TUN" "1 corp.example true" false SetLinkDNSEx "1 2 4 127 12 0 1 0 dns.corp.example"
}

monitor_start
check_match "stubd owns the name" 'owner of org\.freedesktop\.resolve1' "$(cat "$TMP/stubd.log")"

# ---- 1. NetworkManager's sequence -------------------------------------------
call_ok "GetLink" GetLink i "$ETH"
check_eq "GetLink: the Link object's path" "o \"$(link_path eth0)\"" "$OUT"
nm_up
check_eq "LAN: its search domain" 192.0.2.11 "$(a printer.lan)"
check_eq "LAN: its routing domain" 192.0.2.11 "$(a www.example)"
check_eq "LAN: a name under no domain (default route)" 192.0.2.11 "$(a www.example.org)"
check_eq "VPN: corp.example, the longest domain, beats the LAN's example" 192.0.2.12 \
	"$(a host.corp.example)"
check_eq "VPN: not asked for the LAN's names (no default route)" 0 \
	"$(count_log VPN 'printer\.lan\|www\.example')"
check_eq "LAN: not asked for the VPN's" 0 "$(count_log LAN 'host\.corp\.example')"
check_eq "eth0's domains" 'a(sb) 2 "lan" false "example" true' "$(lprop eth0 Domains)"
check_eq "eth0 a default route" "b true" "$(lprop eth0 DefaultRoute)"
check_eq "tun0's server with its TLS name" 'a(iayqs) 1 2 4 127 12 0 1 0 "dns.corp.example"' \
	"$(lprop tun0 DNSEx)"
check_eq "tun0 no default route" "b false" "$(lprop tun0 DefaultRoute)"
check_eq 'tun0: LLMNR "" is the default (no)' 's "no"' "$(lprop tun0 LLMNR)"
out=$(ctl status)
check_match "stubctl status: tun0's server and name" '127\.12\.0\.1#dns\.corp\.example' "$out"
check_match "stubctl status: corp.example routed to tun0" 'corp\.example +link tun0 \(~corp\.example\)' "$out"
check_match "stubctl status: set by dbus" 'Set by: +dbus' "$out"
out=$(ctl --json status)
check_match "stubctl --json: eth0's domains" '"domains": "lan ~example"' "$out"
check_match "stubctl --json: tun0 no default route" '"default_route": false' "$out"
check_match "resolv.conf searches lan only" '^search lan$' "$(cat "$RUNTIME_DIRECTORY/resolv.conf")"

# ---- 4. lookups NetworkManager and others make ------------------------------
# The answer carries the ifindex of the link whose server gave it.
call_ok "ResolveHostname to the VPN" ResolveHostname isit 0 intranet.corp.example 2 0
check_match "ResolveHostname: VPN's address, tun0's ifindex" \
	"^a\(iiay\)st 1 $TUN 2 4 192 0 2 12 \"intranet\.corp\.example\" " "$OUT"
call_ok "ResolveHostname to the LAN" ResolveHostname isit 0 nas.lan 2 0
check_match "ResolveHostname: LAN's address, eth0's ifindex" \
	"^a\(iiay\)st 1 $ETH 2 4 192 0 2 11 \"nas\.lan\" " "$OUT"
call_err "ResolveHostname NXDOMAIN" org.freedesktop.resolve1.DNSError.NXDOMAIN \
	ResolveHostname isit 0 nx.corp.example 0 0
call_ok "ResolveRecord MX" ResolveRecord isqqt 0 mx.example 1 15 0
# IN MX from eth0's server; the RR's RDATA: preference 10, mail.mx.example.
check_match "ResolveRecord: the MX record" \
	"^a\(iqqay\)t 1 $ETH 1 15 .* 0 10 4 109 97 105 108 2 109 120 7 101 120 97 109 112 108 101 0 [0-9]+\$" "$OUT"
call_ok "ResolveAddress" ResolveAddress iiayt 0 2 4 192 0 2 99 0
check_match "ResolveAddress: the PTR from the LAN" "^a\(is\)t 1 $ETH \"host\.fakeup\.test\" " "$OUT"

# ---- 1. removal: the same six calls, empty ----------------------------------
nm_remove "$TUN"
check_eq "VPN gone: corp.example now the LAN's example" 192.0.2.11 "$(a host2.corp.example)"
check_eq "VPN gone: tun0 has nothing" 'a(iayqs) 0 | a(sb) 0 | b false' "$(link_state tun0)"
check_no_match "stubctl status: no route to tun0" 'link tun0' "$(ctl status)"
nm_remove "$ETH"
check_eq "LAN gone: no server for its domain" SERVFAIL "$(rcode printer2.lan)"
check_eq "LAN gone: nor for other names" SERVFAIL "$(rcode www2.example.org)"
check_eq "LAN gone: eth0 has nothing" 'a(iayqs) 0 | a(sb) 0 | b false' "$(link_state eth0)"
check_match "stubctl --json: eth0 no servers" '"servers": ""' "$(ctl --json status)"
check_match "stubctl status: nothing routed" '\(any other name\) +global \(no servers\)' "$(ctl status)"
check_no_match "resolv.conf searches nothing" '^search' "$(cat "$RUNTIME_DIRECTORY/resolv.conf")"
# NetworkManager's connectivity check acts on this one: no servers at all.
call_err "ResolveHostname with no servers" org.freedesktop.resolve1.NoNameServers \
	ResolveHostname isit 0 www3.example.org 0 1

nm_up
check_eq "set up again: the LAN" 192.0.2.11 "$(a www4.example.org)"
check_eq "set up again: the VPN" 192.0.2.12 "$(a host4.corp.example)"
# Asked on one link (NetworkManager's connectivity check passes the
# device): a device without DNS has no servers, even while others do.
call_err "ResolveHostname on a link without servers" org.freedesktop.resolve1.NoNameServers \
	ResolveHostname isit "$(ifindex eth1)" www5.example.org 0 1
call_err "ResolveHostname on no such link" org.freedesktop.resolve1.NoSuchLink \
	ResolveHostname isit 9999 www5.example.org 0 1
mcall ResolveHostname isit "$ETH" www6.example.org 0 1
check_match "ResolveHostname on a link with servers answers" '192 0 2 11' "$OUT"

# ---- 2. callers who may not change settings ----------------------------------
chmod 0755 "$TMP" # nobody reaches the bus's socket in it
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
check_eq "cached" 192.0.2.11 "$(a cached.example)"
asked=$(count_log LAN 'cached\.example\. A')
eth0_before=$(link_state eth0)
total_before=$(mprop TransactionStatistics | awk '{ print $3 }')
check "statistics counted" [ "$total_before" -gt 0 ]
AS=$NOBODY call_err "nobody: SetLinkDNS" org.freedesktop.DBus.Error.AccessDenied \
	SetLinkDNS 'ia(iay)' "$ETH" 1 2 4 127 12 0 1
AS=$NOBODY call_err "nobody: SetLinkDomains" org.freedesktop.DBus.Error.AccessDenied \
	SetLinkDomains 'ia(sb)' "$ETH" 1 . true
AS=$NOBODY call_err "nobody: RevertLink" org.freedesktop.DBus.Error.AccessDenied RevertLink i "$ETH"
AS=$NOBODY call_err "nobody: FlushCaches" org.freedesktop.DBus.Error.AccessDenied FlushCaches
AS=$NOBODY call_err "nobody: ResetStatistics" org.freedesktop.DBus.Error.AccessDenied ResetStatistics
total_after=$(mprop TransactionStatistics | awk '{ print $3 }')
check "nobody reset no statistics ($total_before -> $total_after)" [ "$total_after" -ge "$total_before" ]
AS=$NOBODY ocall "$(link_path eth0)" org.freedesktop.resolve1.Link SetDNS 'a(iay)' 1 2 4 127 12 0 1
check_eq "nobody: the Link object's SetDNS (busctl: $OUT)" org.freedesktop.DBus.Error.AccessDenied "$ERR"
check_match "stubd logs the refusal" 'SetLinkDNS refused for :[0-9.]+ \(uid 65534\)' "$(cat "$TMP/stubd.log")"
check_eq "nobody changed nothing on eth0" "$eth0_before" "$(link_state eth0)"
check_eq "nobody changed no routing" 192.0.2.11 "$(a www5.example.org)"
a cached.example >/dev/null
check_eq "nobody flushed nothing: the name still cached" "$asked" "$(count_log LAN 'cached\.example\. A')"
# Reads and lookups are anyone's.
check_eq "nobody reads a Link property" 'a(iay) 1 2 4 127 11 0 1' "$(AS=$NOBODY lprop eth0 DNS)"
AS=$NOBODY call_ok "nobody: ResolveHostname" ResolveHostname isit 0 www6.example.org 2 0
check_match "nobody: its answer" '^a\(iiay\)st 1 [0-9]+ 2 4 192 0 2 11 ' "$OUT"
# A member of control-group may.
MEMBER="setpriv --reuid=65534 --regid=65534 --groups=$(getent group adm | cut -d: -f3)"
AS=$MEMBER call_ok "a control-group member: FlushCaches" FlushCaches
a cached.example >/dev/null
check_eq "flushed: the upstream asked again" $((asked + 1)) "$(count_log LAN 'cached\.example\. A')"
AS=$MEMBER call_ok "a control-group member: SetLinkDefaultRoute" SetLinkDefaultRoute ib "$TUN" false
# So may a process with CAP_NET_ADMIN (as networkd's and NetworkManager's
# own helpers have), read from the kernel's record of it.
ADMIN="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps +net_admin --ambient-caps +net_admin"
AS=$ADMIN call_ok "CAP_NET_ADMIN: SetLinkDefaultRoute" SetLinkDefaultRoute ib "$TUN" false
AS=$ADMIN call_ok "CAP_NET_ADMIN: FlushCaches" FlushCaches

# ---- 3. malformed calls: an error each, stubd unharmed, nothing changed ------
eth0_before=$(link_state eth0)
call_err "SetLinkDNS with the wrong signature" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDNS is "$ETH" 127.0.0.1
call_err "ifindex 0" org.freedesktop.DBus.Error.InvalidArgs SetLinkDNS 'ia(iay)' 0 1 2 4 127 12 0 1
call_err "ifindex -1" org.freedesktop.DBus.Error.InvalidArgs SetLinkDNS 'ia(iay)' -1 1 2 4 127 12 0 1
call_err "an ifindex no interface has" org.freedesktop.resolve1.NoSuchLink \
	SetLinkDNS 'ia(iay)' 9999 1 2 4 127 12 0 1
call_err "GetLink of no interface" org.freedesktop.resolve1.NoSuchLink GetLink i 9999
call_err "an IPv4 address of 3 bytes" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDNS 'ia(iay)' "$ETH" 1 2 3 127 12 0
call_err "an IPv6 address of 4 bytes" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDNS 'ia(iay)' "$ETH" 1 10 4 127 12 0 1
call_err "address family 99" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDNS 'ia(iay)' "$ETH" 1 99 4 127 12 0 1
servers=()
for i in $(seq 10000); do servers+=(2 4 127 12 $((i / 256)) $((i % 256))); done
call_err "10,000 servers" org.freedesktop.DBus.Error.LimitsExceeded \
	SetLinkDNS 'ia(iay)' "$ETH" 10000 "${servers[@]}"
domains=()
for i in $(seq 300); do domains+=("d$i.example" false); done
call_err "300 domains" org.freedesktop.DBus.Error.LimitsExceeded \
	SetLinkDomains 'ia(sb)' "$ETH" 300 "${domains[@]}"
long=$(printf 'abcdefghi.%.0s' {1..30})example
call_err "a domain of ${#long} characters" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDomains 'ia(sb)' "$ETH" 1 "$long" false
call_err "a domain with an empty label" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDomains 'ia(sb)' "$ETH" 1 'a..example' false
call_err "the root as a search domain" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDomains 'ia(sb)' "$ETH" 1 . false
call_err "a '~' in the name (the flag says routing-only)" org.freedesktop.DBus.Error.InvalidArgs \
	SetLinkDomains 'ia(sb)' "$ETH" 1 '~corp.example' false
call_err "LLMNR mode bogus" org.freedesktop.DBus.Error.InvalidArgs SetLinkLLMNR is "$ETH" bogus
call_err "ResolveHostname of an empty label" org.freedesktop.DBus.Error.InvalidArgs \
	ResolveHostname isit 0 'a..example' 0 0
call_err "ResolveHostname of a 70-byte label" org.freedesktop.DBus.Error.InvalidArgs \
	ResolveHostname isit 0 "$(printf 'a%.0s' {1..70}).example" 0 0
call_err "ResolveHostname of family 99" org.freedesktop.DBus.Error.InvalidArgs \
	ResolveHostname isit 0 www.example 99 0
call_err "ResolveAddress of 5 bytes" org.freedesktop.DBus.Error.InvalidArgs \
	ResolveAddress iiayt 0 2 5 192 0 2 1 1 0
call_err "ResolveRecord of type AXFR" org.freedesktop.DBus.Error.InvalidArgs \
	ResolveRecord isqqt 0 www.example 1 252 0
check "stubd still running after the malformed calls" stubd_alive
check_eq "nothing changed on eth0" "$eth0_before" "$(link_state eth0)"
check_eq "and names still go there" 192.0.2.11 "$(a www7.example.org)"

# ---- 5. the bus goes away and comes back ------------------------------------
bus_stop
wait_for 5 grep -q 'dbus: lost the system bus' "$TMP/stubd.log" || fail "stubd did not notice the bus going"
check "stubd logs the bus going" true
check_eq "bus down: DNS still answered" 192.0.2.11 "$(a www8.example.org)"
check_eq "bus down: the VPN still answered" 192.0.2.12 "$(a host8.corp.example)"
check "bus down: stubd running" stubd_alive
bus_start
monitor_start
start=$SECONDS
wait_for 10 busctl --system status org.freedesktop.resolve1 >/dev/null 2>&1 ||
	fail "stubd did not take org.freedesktop.resolve1 again: $(tail -n 5 "$TMP/stubd.log")"
check_between "the name owned again within seconds" 0 6 $((SECONDS - start))
check_match "busctl list: stubd owns it" "^org\.freedesktop\.resolve1 +$STUBD_PID " \
	"$(busctl --system list --no-pager)"
check_match "stubd logs the reconnection" 'dbus: connected to the system bus' "$(cat "$TMP/stubd.log")"
check_eq "and that it owns the name again, once" 1 \
	"$(sed -n '/lost the system bus/,$p' "$TMP/stubd.log" | grep -c 'owner of org\.freedesktop\.resolve1')"
check_eq "the settings made over D-Bus are still there" \
	'a(iayqs) 1 2 4 127 12 0 1 0 "dns.corp.example"' "$(lprop tun0 DNSEx)"
check_eq "and in force" 192.0.2.12 "$(a host9.corp.example)"
call_ok "calls work again" ResolveHostname isit 0 www9.example.org 2 0
check "stubd still running" stubd_alive

# ---- 6. the name already taken -----------------------------------------------
# A second stubd on another address, with runtime files and a control
# socket of its own.
second() { # second CONFIG-LINE...: starts a second stubd in the background; SECOND_PID
	printf '%s\n' "$@" >"$TMP/stubd2.conf"
	mkdir -p "$TMP/run2"
	SECOND_ADDR=$(rand_addr)
	SECOND_PORT=$(rand_port)
	RUNTIME_DIRECTORY=$TMP/run2 "$STUBD" -f -v -c "$TMP/stubd2.conf" --resolv-conf "$TMP/empty" \
		--hosts none -s "$TMP/control2.sock" -l "$SECOND_ADDR:$SECOND_PORT" >"$TMP/stubd2.log" 2>&1 &
	SECOND_PID=$!
	PIDS+=("$SECOND_PID")
}
second "dbus = yes" "networkd-links-dir = none" "upstream = 127.11.0.1"
rc=0
wait_for 10 sh -c "! kill -0 $SECOND_PID 2>/dev/null" || fail "a second stubd with dbus = yes kept running"
wait "$SECOND_PID" || rc=$?
check_eq "dbus = yes, name taken: exit 1" 1 "$rc"
check_match "the message names the holder, its unique name and pid" \
	"org\.freedesktop\.resolve1 is already owned by :[0-9]+\.[0-9]+ \(pid $STUBD_PID" "$(cat "$TMP/stubd2.log")"
check_match "the first still owns it" "^org\.freedesktop\.resolve1 +$STUBD_PID " "$(busctl --system list --no-pager)"

second "dbus = auto" "networkd-links-dir = none" "upstream = 127.11.0.1"
wait_for 5 grep -qs 'ready: serving' "$TMP/stubd2.log" || fail "dbus = auto, name taken: did not start: $(cat "$TMP/stubd2.log")"
check "dbus = auto, name taken: starts" kill -0 "$SECOND_PID"
check_match "dbus = auto: warns who holds it" 'org\.freedesktop\.resolve1 is held by another program' \
	"$(cat "$TMP/stubd2.log")"
check_eq "dbus = auto: serves DNS" 192.0.2.11 \
	"$(dig @"$SECOND_ADDR" -p "$SECOND_PORT" +tries=1 +time=3 +short www10.example.org A)"
# When the first lets go, the second, queued for the name, has it.
stubd_stop
wait_for 5 sh -c "busctl --system list --no-pager | grep -q '^org\.freedesktop\.resolve1 \+$SECOND_PID '" ||
	fail "the second stubd did not take the name the first let go: $(cat "$TMP/stubd2.log")"
check "the queued second takes the name" true
check_match "and says so" 'dbus: now the owner of org\.freedesktop\.resolve1' "$(cat "$TMP/stubd2.log")"
pass
