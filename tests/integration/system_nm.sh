# stubd as the system resolver of a booted Debian 12 (systemd, D-Bus,
# NetworkManager; ../shared/system-container.md), installed the way a user
# installs it, with /etc/resolv.conf linked by tools/resolver-switch to the
# resolv.conf stubd writes. NetworkManager, set to rc-manager=resolvconf,
# itself calls stubd's resolvconf when a connection made with nmcli comes
# up and goes down. DNS goes only to fake upstreams inside the container.
#
# The image is built once by tools/container-image (about 90 s, then
# reused); without a reachable Debian mirror the test is skipped.
. "$(dirname "$0")/lib.sh"

ct_image

# ---- install, as a user would ---------------------------------------------
ct_install "$FAKEUP"
check "the resolvconf link is installed" test -L "$root/usr/sbin/resolvconf"

# The image's resolv.conf names this machine's resolver: it must never be
# an upstream (network rule), so the global one is a fake inside.
STUBD_SWITCH_STUBD="$STUBD" "$SOURCE_DIR/tools/resolver-switch" --root "$root" enable \
	--upstream 127.0.0.9 >"$TMP/switch.log" 2>&1 || fail "resolver-switch: $(cat "$TMP/switch.log")"
check_eq "resolv.conf links to stubd's" /run/stubd/resolv.conf "$(readlink "$root/etc/resolv.conf")"

mkdir -p "$root/etc/NetworkManager/conf.d"
printf '[main]\ndns=default\nrc-manager=resolvconf\n' >"$root/etc/NetworkManager/conf.d/90-stubd-test.conf"
# No connection of NetworkManager's own making on host0: the test makes one.
printf '[main]\nno-auto-default=*\n' >"$root/etc/NetworkManager/conf.d/91-no-auto.conf"
# Under ASan the daemon also needs this to find its symbolizer quietly.
mkdir -p "$root/etc/systemd/system/stubd.service.d"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$root/etc/systemd/system/stubd.service.d/test.conf"

# ---- boot ---------------------------------------------------------------
ct_boot

ct systemctl enable --now stubd.socket stubd.service >/dev/null 2>&1
wait_for 10 ct systemctl is-active -q stubd ||
	fail "stubd is not active: $(ct journalctl -u stubd --no-pager | tail -5)"
pid=$(ct systemctl show -p MainPID --value stubd)
check_eq "stubd runs as user stubd" "$(ct id -u stubd)" "$(ct awk '/^Uid:/ { print $2 }' "/proc/$pid/status")"

# Fake upstreams inside: NetworkManager's DNS server and the global one.
ct systemd-run -q --unit=fake-nm /usr/local/bin/fakeup -l 127.0.0.2:53 --answer 192.0.2.77
ct systemd-run -q --unit=fake-global /usr/local/bin/fakeup -l 127.0.0.9:53 --answer 192.0.2.99
wait_for 10 sh -c "[ \"\$(nsenter -t $leader -m -u -i -n -p dig +short +tries=1 +time=1 @127.0.0.2 t.example)\" = 192.0.2.77 ]" ||
	fail "the fake upstream did not start"

# ---- NetworkManager brings a connection up --------------------------------
wait_for 30 sh -c "nsenter -t $leader -m -u -i -n -p nmcli -t -f RUNNING general | grep -q running" ||
	fail "NetworkManager is not running"
ct nmcli con add type ethernet con-name nmtest ifname host0 ipv4.method manual \
	ipv4.addresses 198.18.0.2/24 ipv4.dns 127.0.0.2 ipv4.dns-search nmtest.example \
	ipv6.method disabled >/dev/null
ct nmcli con up nmtest >"$TMP/nmcli.log" 2>&1 || fail "nmcli con up: $(cat "$TMP/nmcli.log")"

nm_server_listed() { ct stubctl dns | grep -q '127\.0\.0\.2'; }
wait_for 10 nm_server_listed || fail "NetworkManager did not hand its server to stubd: $(ct stubctl status)"
status=$(ct stubctl status)
check_match "NetworkManager's record, by resolvconf" 'Set by: +resolvconf NetworkManager' "$status"
check_match "stubd's resolv.conf has its search domain" '^search nmtest\.example$' \
	"$(ct cat /run/stubd/resolv.conf)"
check_eq "its domain goes to its server" 192.0.2.77 \
	"$(ct dig +short +tries=1 +time=3 @127.0.0.53 www.nmtest.example)"
check_eq "getent through /etc/resolv.conf and the search list" 192.0.2.77 \
	"$(ct getent ahostsv4 host | awk 'NR == 1 { print $1 }')"

# ---- and down ---------------------------------------------------------------
ct nmcli con down nmtest >/dev/null
wait_for 10 sh -c "! nsenter -t $leader -m -u -i -n -p stubctl dns | grep -q '127\.0\.0\.2'" ||
	fail "NetworkManager's record still there after con down: $(ct stubctl dns)"
check "record gone after nmcli con down" true
check_eq "the name now goes to the global server" 192.0.2.99 \
	"$(ct dig +short +tries=1 +time=3 @127.0.0.53 www2.nmtest.example)"

# ---- the service --------------------------------------------------------------
check "systemctl reload stubd" ct systemctl reload stubd
check "stubd still active after the reload" ct systemctl is-active -q stubd
check_match "the journal has stubd's lines" 'configuration reloaded' \
	"$(ct journalctl -u stubd --no-pager -o cat)"

ct_poweroff
pass
