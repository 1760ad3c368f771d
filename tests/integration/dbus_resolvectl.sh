# resolvectl, the real one from Debian's systemd-resolved package (unpacked
# by tools/deps, never installed), against stubd on a private system bus:
# status, dns, domain (search, "~" and "~."), default-route, revert,
# query (a name, an address, NXDOMAIN, -t MX), statistics,
# reset-statistics, flush-caches, and resolvectl under the name
# resolvconf. Each change is checked with dig to go where SPEC's routing
# says; every fake upstream answers with its own address, so the answer
# says who was asked.
NEEDS_NETNS=1
. "$(dirname "$0")/lib.sh"
need_resolvectl
bus_start

fakeup_start_at GLOBAL 127.10.0.1:53 --answer 192.0.2.10
fakeup_start_at LAN 127.11.0.1:53 --answer 192.0.2.11
fakeup_start_at VPN 127.12.0.1:53 --answer 192.0.2.12
veth_add eth0
veth_add wg0

stubd_conf "dbus = yes" "upstream = 127.10.0.1" "networkd-links-dir = none"
stubd_start -c "$TMP/stubd.conf"
check_match "stubd owns the name" 'owner of org\.freedesktop\.resolve1' "$(cat "$TMP/stubd.log")"

rctl() { "$RESOLVECTL" "$@"; }

# ---- status: the global servers and every link --------------------------
out=$(rctl status) || fail "resolvectl status failed: $out"
check_match "status: global servers" 'DNS Servers:? 127\.10\.0\.1' "$out"
check_match "status: eth0 listed" "Link $(ifindex eth0) \(eth0\)" "$out"
check_match "status: wg0 listed" "Link $(ifindex wg0) \(wg0\)" "$out"
check_match "stubctl status: owner of the bus name" 'D-Bus: +owner of org\.freedesktop\.resolve1' "$(ctl status)"

# ---- a LAN: search domain, not a default route ---------------------------
rctl dns eth0 127.11.0.1 || fail "resolvectl dns failed"
rctl domain eth0 lan || fail "resolvectl domain failed"
rctl default-route eth0 false || fail "resolvectl default-route failed"
out=$(rctl status eth0)
check_match "status eth0: its server" 'DNS Servers: 127\.11\.0\.1' "$out"
check_match "status eth0: its domain" 'DNS Domain: lan' "$out"
check_match "status eth0: not a default route" '-DefaultRoute' "$out"
check_eq "a search domain's name goes to the LAN" 192.0.2.11 "$(a printer.lan)"
check_eq "other names to the global server only" 192.0.2.10 "$(a www.example)"
check_match "stubctl status: set by dbus" 'Set by: +dbus' "$(ctl status)"
check_match "resolv.conf searches it" '^search lan' "$(cat "$RUNTIME_DIRECTORY/resolv.conf")"

# ---- a split VPN: "~corp.example", then a full tunnel with "~." ----------
rctl dns wg0 127.12.0.1
rctl domain wg0 '~corp.example'
check_eq "~corp.example goes to the VPN" 192.0.2.12 "$(a host.corp.example)"
check_eq "a routing-only link is no default route" 192.0.2.10 "$(a www2.example)"
rctl domain wg0 '~.'
check_eq "~. takes every other name" 192.0.2.12 "$(a www3.example)"
check_eq "the LAN keeps its own domain" 192.0.2.11 "$(a nas.lan)"

# ---- revert: the link's D-Bus settings go ------------------------------------
rctl revert wg0 || fail "resolvectl revert failed"
check_eq "reverted: back to the global server" 192.0.2.10 "$(a www4.example)"
check_eq "reverted: corp.example too" 192.0.2.10 "$(a host2.corp.example)"
check_no_match "status wg0: no server left" 'DNS Servers' "$(rctl status wg0)"

# ---- query ---------------------------------------------------------------------
out=$(rctl query www.example) || fail "resolvectl query failed: $out"
check_match "query: the address" 'www\.example: 192\.0\.2\.10' "$out"
check_match "query: where the data came from" 'Data from: (cache|network)' "$out"
out=$(rctl query host.lan) || fail "resolvectl query host.lan failed: $out"
check_match "query: a link's answer names the link" "192\.0\.2\.11 +-- link: eth0" "$out"
rc=0
out=$(rctl query nx.example 2>&1) || rc=$?
check_eq "query NXDOMAIN: exit 1" 1 "$rc"
check_match "query NXDOMAIN: resolvectl's usual message" "nx\.example: resolve call failed: 'nx\.example' not found" "$out"
out=$(rctl query 192.0.2.10) || fail "resolvectl reverse query failed: $out"
check_match "query an address: its PTR" '192\.0\.2\.10: host\.fakeup\.test' "$out"
out=$(rctl query -t MX www.example) || fail "resolvectl query -t MX failed: $out"
check_match "query -t MX: the record" 'www\.example IN MX 10 mail\.www\.example' "$out"

# ---- statistics, reset-statistics, flush-caches --------------------------------
out=$(rctl statistics) || fail "resolvectl statistics failed"
check_match "statistics: transactions counted" 'Total Transactions: [1-9]' "$out"
check_match "statistics: cache size" 'Current Cache Size: [1-9]' "$out"
rctl reset-statistics || fail "resolvectl reset-statistics failed"
check_match "reset-statistics: counts zeroed" 'Total Transactions: 0' "$(rctl statistics)"
asked=$(count_log GLOBAL 'flush\.example')
a flush.example >/dev/null
a flush.example >/dev/null
check_eq "cached: asked upstream once" $((asked + 1)) "$(count_log GLOBAL 'flush\.example\. A')"
rctl flush-caches || fail "resolvectl flush-caches failed"
a flush.example >/dev/null
check_eq "flush-caches: the upstream is asked again" $((asked + 2)) "$(count_log GLOBAL 'flush\.example\. A')"

# ---- not root: refused, nothing changes --------------------------------------
chmod 0755 "$TMP" # the bus's socket is in it
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$RESOLVECTL" dns eth0 127.12.0.1 2>&1) || rc=$?
check_eq "nobody: resolvectl dns refused" 1 "$rc"
check_match "nobody: told why" 'Access denied' "$out"
check_eq "nobody: nothing changed" 192.0.2.11 "$(a printer2.lan)"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$RESOLVECTL" query www.example 2>&1) ||
	fail "nobody may still ask: $out"
check_match "nobody: queries allowed" '192\.0\.2\.10' "$out"

# ---- resolvectl under the name resolvconf -------------------------------------
mkdir -p "$TMP/rbin"
ln -s "$RESOLVECTL" "$TMP/rbin/resolvconf"
printf 'nameserver 127.12.0.1\nsearch vpn.example\n' | "$TMP/rbin/resolvconf" -a wg0 ||
	fail "resolvconf -a (resolvectl's) failed"
check_eq "resolvconf -a: its search domain routes there" 192.0.2.12 "$(a box.vpn.example)"
"$TMP/rbin/resolvconf" -d wg0 || fail "resolvconf -d (resolvectl's) failed"
check_eq "resolvconf -d: gone" 192.0.2.10 "$(a box2.vpn.example)"

check "stubd still running" stubd_alive
pass
