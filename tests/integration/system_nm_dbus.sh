# NetworkManager hands its DNS to stubd over the real system bus of a
# booted Debian 12 (../shared/system-container.md), as it would to
# systemd-resolved: stubd owns org.freedesktop.resolve1 under the D-Bus
# policy it installs, NetworkManager runs with [main] dns=systemd-resolved,
# and a connection made with nmcli on host0 brings its server and search
# domain to stubd ("Set by: dbus") when it comes up, and takes them away
# when it goes down. The real resolvectl (systemd 252's, unpacked by
# tools/deps; the systemd-resolved package is never installed) reads
# stubd's status and looks names up over the same bus. DNS goes only to
# fake upstreams inside the container. Same image and boot as system_nm.sh.
#
# What NetworkManager 1.42.4 does, from its journal (DNS logged at TRACE)
# and busctl monitor, and NetworkManager.conf(5):
# - dns=systemd-resolved is all it needs. "[main] systemd-resolved" is
#   true by default, and nothing checks that a systemd-resolved unit runs:
#   the plugin watches the owner of org.freedesktop.resolve1 on the bus.
#   With it, rc-manager=auto becomes "unmanaged" ("dns-mgr: init:
#   dns=systemd-resolved rc-manager=unmanaged (auto)"): /etc/resolv.conf
#   is left alone and resolvconf is not called; NetworkManager writes only
#   its own /run/NetworkManager/resolv.conf (nameserver 127.0.0.53).
# - A connection that comes up while nobody owns the name: it asks the bus
#   to start the service ("error activating systemd-resolved: The name
#   org.freedesktop.resolve1 was not provided by any .service files", at
#   debug) and waits. When stubd takes the name ("D-Bus name for
#   systemd-resolved has owner :1.N") it sends everything at once, within
#   milliseconds: no restart of NetworkManager is needed, whichever starts
#   first. This test starts stubd after the connection is up to see that.
# - Per link and change, six calls on /org/freedesktop/resolve1, in this
#   order: SetLinkDomains [("nmtest.example", false)], SetLinkDefaultRoute
#   true, SetLinkMulticastDNS "", SetLinkLLMNR "", SetLinkDNS [(AF_INET,
#   127.0.0.2)], SetLinkDNSOverTLS "" (SetLinkDNSEx only for a server with
#   a TLS name). DefaultRoute is true although host0 has no gateway. On
#   down, the same six with [], false, "", "", [], "": never RevertLink,
#   so host0 stays listed, "Set by: dbus", with nothing in it. Nothing for
#   lo. It runs as root, which stubd lets change settings.
# - A call that fails is logged once at warning level as "send-updates
#   METHOD@IFINDEX failed: ..."; the test checks there is none.
. "$(dirname "$0")/lib.sh"

ct_image
need_resolvectl

# ---- install, as a user would ---------------------------------------------
# resolvectl needs libsystemd-shared-252.so, which the image's systemd has.
ct_install "$FAKEUP" "$RESOLVECTL"
policy=/usr/share/dbus-1/system.d/stubd-resolve1.conf
check "the D-Bus policy is installed" test -f "$root$policy"
# The user the policy lets own the name exists before the bus reads the
# policy at boot (a <policy user=...> naming no user is dropped).
systemd-sysusers --root "$root" >"$TMP/sysusers.log" 2>&1 ||
	fail "systemd-sysusers: $(cat "$TMP/sysusers.log")"
check "user stubd exists before boot" grep -q '^stubd:' "$root/etc/passwd"

# The image's resolv.conf names this machine's resolver: it must never be
# an upstream (network rule), so the global one is a fake inside.
STUBD_SWITCH_STUBD="$STUBD" "$SOURCE_DIR/tools/resolver-switch" --root "$root" enable \
	--upstream 127.0.0.9 >"$TMP/switch.log" 2>&1 || fail "resolver-switch: $(cat "$TMP/switch.log")"
check_eq "resolv.conf links to stubd's" /run/stubd/resolv.conf "$(readlink "$root/etc/resolv.conf")"

mkdir -p "$root/etc/NetworkManager/conf.d"
printf '[main]\ndns=systemd-resolved\n' >"$root/etc/NetworkManager/conf.d/90-stubd-test.conf"
# No connection of NetworkManager's own making on host0: the test makes one.
printf '[main]\nno-auto-default=*\n' >"$root/etc/NetworkManager/conf.d/91-no-auto.conf"
# Its DNS plugin says at TRACE what it sends to resolve1 and when it sees
# the name get an owner; the rest stays at INFO.
printf '[logging]\nlevel=INFO\ndomains=DEFAULT,DNS:TRACE\n' >"$root/etc/NetworkManager/conf.d/92-log-dns.conf"
# Under ASan the daemon also needs this to find its symbolizer quietly.
mkdir -p "$root/etc/systemd/system/stubd.service.d"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$root/etc/systemd/system/stubd.service.d/test.conf"

# ---- boot ---------------------------------------------------------------
ct_boot

# On failure, the two journals that say what happened on the bus.
ct_fail() {
	ct journalctl -u NetworkManager -u stubd --no-pager -o short-monotonic >"$TMP/journal.log" 2>&1 || true
	fail "$@"
}
nm_journal() { ct journalctl -u NetworkManager --no-pager -o cat; }
# nm_logged REGEX: NetworkManager's journal has a line matching REGEX
# (journald may take a moment to store it: callers wait_for it).
nm_logged() { nm_journal | grep -Eq -- "$1"; }
# The unique name holding NAME on the container's bus ("" when none).
owner_of() {
	ct busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
		GetNameOwner s "$1" 2>/dev/null | sed -n 's/^s "\(.*\)"$/\1/p'
}
# stubctl status's block for one link, "" when it is not listed.
link_status() {
	ct stubctl status | awk -v want="($1)" '
		$1 == "Link" && $3 == want { on = 1; print; next }
		on && /^  [^ ]/ { on = 0 }
		on && /^[^ ]/ { on = 0 }
		on'
}
has_nm_server() { link_status host0 | grep -Eq 'DNS Servers: +127\.0\.0\.2$'; }

wait_for 30 sh -c "nsenter -t $leader -m -u -i -n -p nmcli -t -f RUNNING general | grep -q running" ||
	ct_fail "NetworkManager is not running"
wait_for 10 nm_logged 'dns-mgr: init: dns=systemd-resolved rc-manager=unmanaged.*plugin=systemd-resolved' ||
	ct_fail "NetworkManager does not use resolve1: $(nm_journal | grep dns-mgr)"
check "NetworkManager: dns=systemd-resolved, resolv.conf left alone" true

# Everything sent to or from org.freedesktop.resolve1, from before stubd
# owns it to the end.
ct systemd-run -q --unit=busmon -p StandardOutput=file:/var/log/busmon.log \
	busctl monitor org.freedesktop.resolve1
busmon="$root/var/log/busmon.log"
wait_for 10 test -s "$busmon" || ct_fail "busctl monitor did not start"

# Fake upstreams inside: the connection's DNS server and the global one.
ct systemd-run -q --unit=fake-nm /usr/local/bin/fakeup -l 127.0.0.2:53 --answer 192.0.2.77
ct systemd-run -q --unit=fake-global /usr/local/bin/fakeup -l 127.0.0.9:53 --answer 192.0.2.99
wait_for 10 sh -c "[ \"\$(nsenter -t $leader -m -u -i -n -p dig +short +tries=1 +time=1 @127.0.0.2 t.example)\" = 192.0.2.77 ]" ||
	ct_fail "the fake upstream did not start"

# ---- a connection comes up while nobody owns resolve1 ----------------------
check_eq "nobody owns org.freedesktop.resolve1 yet" "" "$(owner_of org.freedesktop.resolve1)"
ct nmcli con add type ethernet con-name nmtest ifname host0 connection.autoconnect no \
	ipv4.method manual ipv4.addresses 198.18.0.2/24 ipv4.dns 127.0.0.2 \
	ipv4.dns-search nmtest.example ipv6.method disabled >/dev/null
ct nmcli con up nmtest >"$TMP/nmcli.log" 2>&1 || ct_fail "nmcli con up: $(cat "$TMP/nmcli.log")"
# NetworkManager tries to have the bus start systemd-resolved, which is
# not there, and then waits for the name to get an owner.
wait_for 10 nm_logged 'error activating systemd-resolved' ||
	ct_fail "NetworkManager did not look for resolve1: $(nm_journal | grep dns- | tail -5)"
check "NetworkManager tried to activate resolve1" true

# ---- stubd takes the name; NetworkManager hands it the connection's DNS -----
t_stubd=$(now_ms)
ct systemctl enable --now stubd.socket stubd.service >/dev/null 2>&1
wait_for 10 sh -c "nsenter -t $leader -m -u -i -n -p systemctl is-active -q stubd" ||
	ct_fail "stubd is not active: $(ct journalctl -u stubd --no-pager | tail -5)"
pid=$(ct systemctl show -p MainPID --value stubd)
uid=$(ct id -u stubd)
check_eq "stubd runs as user stubd" "$uid" "$(ct awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"
wait_for 10 sh -c "[ -n \"\$(nsenter -t $leader -m -u -i -n -p busctl call org.freedesktop.DBus \
	/org/freedesktop/DBus org.freedesktop.DBus GetNameOwner s org.freedesktop.resolve1 2>/dev/null)\" ]" ||
	ct_fail "stubd did not take org.freedesktop.resolve1: $(ct journalctl -u stubd --no-pager | tail -5)"
owner=$(ct busctl status org.freedesktop.resolve1)
check_match "the name's owner is stubd's process" "^PID=$pid\$" "$owner"
check_match "... running as user stubd" "^EUID=$uid\$" "$owner"
check_match "stubctl status: owner of the name" 'D-Bus: +owner of org\.freedesktop\.resolve1' \
	"$(ct stubctl status)"

wait_for 10 has_nm_server || ct_fail "NetworkManager did not hand its server to stubd: $(ct stubctl status)"
t_stubd=$(($(now_ms) - t_stubd))
wait_for 10 nm_logged 'dns-sd-resolved.*D-Bus name for systemd-resolved has owner' ||
	ct_fail "NetworkManager did not log the name's new owner"
check "NetworkManager saw the name get an owner" true
block=$(link_status host0)
check_match "host0's server, set by dbus" 'Set by: +dbus$' "$block"
check_match "host0's search domain" 'DNS Domains: +nmtest\.example$' "$block"
check_no_match "nothing came by resolvconf" 'Set by:.*resolvconf' "$(ct stubctl status)"
check_eq "its domain goes to its server" 192.0.2.77 \
	"$(ct dig +short +tries=1 +time=3 @127.0.0.53 www.nmtest.example)"
check_match "stubd's resolv.conf has its search domain" '^search nmtest\.example$' \
	"$(ct cat /run/stubd/resolv.conf)"
check_eq "getent through /etc/resolv.conf and the search list" 192.0.2.77 \
	"$(ct getent ahostsv4 host | awk 'NR == 1 { print $1 }')"

# ---- down: NetworkManager sends the same calls with nothing in them ---------
ct nmcli con down nmtest >/dev/null
wait_for 10 sh -c "! nsenter -t $leader -m -u -i -n -p stubctl status | grep -q '127\.0\.0\.2'" ||
	ct_fail "the server still there after con down: $(ct stubctl status)"
check "server gone after nmcli con down" true
check_eq "the name now goes to the global server" 192.0.2.99 \
	"$(ct dig +short +tries=1 +time=3 @127.0.0.53 www2.nmtest.example)"
check_no_match "the search domain is gone" 'nmtest' "$(ct cat /run/stubd/resolv.conf)"

# ---- up again, stubd already there: NetworkManager pushes at once -----------
ct nmcli con up nmtest >"$TMP/nmcli.log" 2>&1 || ct_fail "nmcli con up: $(cat "$TMP/nmcli.log")"
wait_for 10 has_nm_server || ct_fail "con up did not reach stubd: $(ct stubctl status)"
check_match "host0's server, set by dbus again" 'Set by: +dbus$' "$(link_status host0)"
check_eq "its domain goes to its server again" 192.0.2.77 \
	"$(ct dig +short +tries=1 +time=3 @127.0.0.53 www3.nmtest.example)"

# ---- resolvectl, on the container's bus ---------------------------------------
out=$(ct resolvectl status 2>&1) || ct_fail "resolvectl status failed: $out"
check_match "resolvectl status: the global server" 'DNS Servers:? 127\.0\.0\.9' "$out"
check_match "resolvectl status: host0" 'Link [0-9]+ \(host0\)' "$out"
out=$(ct resolvectl status host0 2>&1) || ct_fail "resolvectl status host0 failed: $out"
check_match "resolvectl status host0: NetworkManager's server" 'DNS Servers: 127\.0\.0\.2' "$out"
check_match "resolvectl status host0: its domain" 'DNS Domain: nmtest\.example' "$out"
out=$(ct resolvectl query www4.nmtest.example 2>&1) || ct_fail "resolvectl query failed: $out"
check_match "resolvectl query: answered by the connection's server" \
	'^www4\.nmtest\.example: 192\.0\.2\.77' "$out"

ct nmcli con down nmtest >/dev/null
wait_for 10 sh -c "! nsenter -t $leader -m -u -i -n -p stubctl status | grep -q '127\.0\.0\.2'" ||
	ct_fail "the server still there after the second con down: $(ct stubctl status)"
out=$(ct resolvectl status host0 2>&1) || ct_fail "resolvectl status host0 failed: $out"
check_no_match "resolvectl status host0: no server after con down" '127\.0\.0\.2' "$out"
out=$(ct resolvectl query www5.nmtest.example 2>&1) || ct_fail "resolvectl query failed: $out"
check_match "resolvectl query: now the global server" '^www5\.nmtest\.example: 192\.0\.2\.99' "$out"

# ---- what went over the bus ---------------------------------------------------
check_no_match "NetworkManager saw no call fail" 'send-updates .* failed' "$(nm_journal)"
check_no_match "stubd refused or failed no call" 'dbus: .*(refused|failed)' \
	"$(ct journalctl -u stubd --no-pager -o cat)"

# A call stubd must refuse (no link 4242): the monitor's record of it shows
# that an error would be seen, and that the monitor has written out
# everything before it.
check "a call for a link that is not there fails" \
	bash -c "! nsenter -t $leader -m -u -i -n -p busctl call org.freedesktop.resolve1 \
		/org/freedesktop/resolve1 org.freedesktop.resolve1.Manager SetLinkDNS 'ia(iay)' 4242 0 2>/dev/null"
wait_for 5 grep -q 'ErrorName=org\.freedesktop\.resolve1\.NoSuchLink' "$busmon" ||
	ct_fail "busctl monitor did not show the refused call"
ct systemctl stop busmon
nm=$(owner_of org.freedesktop.NetworkManager)
me=$(owner_of org.freedesktop.resolve1)
# busctl monitor's records: "‣ Type=TYPE ...", then "  Sender=...
# Destination=... Member=...", "  ErrorName=..." for an error, the body.
# One line per call NetworkManager made ("call MEMBER") and per error
# stubd sent ("error DESTINATION ERRORNAME").
bus_summary() {
	awk -v nm="$nm" -v me="$me" '
		function flush() {
			if (type == "method_call" && s == nm) print "call " m
			if (type == "error" && s == me) print "error " d " " err
			type = ""
		}
		/ Type=[a-z_]+ / {
			flush()
			s = d = m = err = ""
			for (i = 1; i <= NF; i++) if ($i ~ /^Type=/) type = substr($i, 6)
			next
		}
		type != "" {
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^Sender=/ && s == "") s = substr($i, 8)
				if ($i ~ /^Destination=/ && d == "") d = substr($i, 13)
				if ($i ~ /^Member=/ && m == "") m = substr($i, 8)
				if ($i ~ /^ErrorName=/ && err == "") err = substr($i, 11)
			}
		}
		END { flush() }' "$busmon"
}
summary=$(bus_summary)
for method in SetLinkDNS SetLinkDomains SetLinkDefaultRoute; do
	check_match "NetworkManager called $method" "^call $method\$" "$summary"
done
check_match "the monitor shows stubd's errors" '^error :[0-9.]+ org\.freedesktop\.resolve1\.NoSuchLink$' "$summary"
check_no_match "stubd answered none of NetworkManager's calls with an error" "^error $nm " "$summary"

echo "[$TEST_NAME] image copy ${t_copy} s, boot ${t_boot} s, stubd started to" \
	"NetworkManager's servers in it ${t_stubd} ms, ${SECONDS} s so far"
ct_poweroff
pass
