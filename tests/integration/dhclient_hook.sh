# conf/dhclient-enter-hook, run the way Debian's dhclient-script runs its
# enter hooks: under /bin/sh with dhclient's PATH, its own make_resolv_conf
# defined first, the hook sourced, then make_resolv_conf called for the
# reasons that call it. A fake resolvconf first on PATH says it is
# stubd's and logs each call: its arguments, and for -a its stdin.
. "$(dirname "$0")/lib.sh"

SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
HOOK=$SRC/conf/dhclient-enter-hook
LOG=$TMP/calls.log

mkdir "$TMP/bin" "$TMP/foreign" "$TMP/none"
cat >"$TMP/bin/resolvconf" <<'EOF'
#!/bin/sh
# stubd's resolvconf, as far as the hook can tell.
if [ "$1" = --version ]; then echo "resolvconf (stubd) 0.1.0"; exit 0; fi
echo "resolvconf $*" >>"$LOG"
case " $* " in *" -a "*) sed 's/^/| /' >>"$LOG" ;; esac
exit "${FAKE_STATUS:-0}"
EOF
# Debian's resolvconf, as far as the hook can tell.
cat >"$TMP/foreign/resolvconf" <<'EOF'
#!/bin/sh
echo "foreign resolvconf $*" >>"$LOG"
echo "resolvconf: Error: Command not recognized" >&2
exit 99
EOF
chmod +x "$TMP/bin/resolvconf" "$TMP/foreign/resolvconf"

# What dhclient-script does around its enter hooks. "$1": yes when it then
# calls make_resolv_conf. The hook must leave the script's own variables
# as they were; it may add names that start with _stubd_. (The shell's
# own bookkeeping, bash's PIPESTATUS and the like, is left out.)
cat >"$TMP/dhclient-script" <<'EOF'
vars() { set | grep -Ev '^(_|_stubd_[A-Za-z0-9_]*|PIPESTATUS|BASH_ARG[CV]|BASH_LINENO)='; }
make_resolv_conf() { echo "dhclient-script's make_resolv_conf" >>"$LOG"; }
vars >"$VARS.before"
. "$HOOK"
echo "hook: $?" >"$VARS.status"
vars >"$VARS.after"
if [ "$1" = yes ]; then make_resolv_conf; fi
EOF

SHELLS=(/bin/sh)
command -v dash >/dev/null && SHELLS+=(dash)
SHELLS+=("bash --posix")

# dhclient CALL SHELL BINDIR VAR=VALUE...: one run of dhclient-script,
# with dhclient's own PATH behind BINDIR and only the variables given.
dhclient() {
	local call=$1 shell=$2 bindir=$3
	shift 3
	: >"$LOG"
	# shellcheck disable=SC2086 # SHELL is a command and its options
	env -i PATH="$bindir:/usr/sbin:/sbin:/bin:/usr/bin" LOG="$LOG" VARS="$TMP/vars" \
		HOOK="$HOOK" "$@" $shell "$TMP/dhclient-script" "$call" ||
		fail "dhclient-script under $shell failed"
	CALLS=$(cat "$LOG")
	check_eq "under $shell, $*: the hook keeps dhclient-script's variables" \
		"$(cat "$TMP/vars.before")" "$(cat "$TMP/vars.after")"
}

for sh in "${SHELLS[@]}"; do
	dhclient yes "$sh" "$TMP/bin" reason=BOUND interface=eth0 \
		new_domain_name_servers="192.0.2.1 192.0.2.2" \
		new_domain_search="corp.example lab.example" new_domain_name=corp.example
	check_eq "$sh, BOUND: servers and search list to eth0.dhclient" \
		"resolvconf -a eth0.dhclient
| nameserver 192.0.2.1
| nameserver 192.0.2.2
| search corp.example lab.example" "$CALLS"
	check_eq "$sh, BOUND: the hook's status" "hook: 0" "$(cat "$TMP/vars.status")"

	dhclient yes "$sh" "$TMP/bin" reason=RENEW interface=wlan0 \
		new_domain_name_servers=192.0.2.9 new_domain_name=home.example
	check_eq "$sh, RENEW: the domain name when there is no search list" \
		"resolvconf -a wlan0.dhclient
| nameserver 192.0.2.9
| search home.example" "$CALLS"

	dhclient yes "$sh" "$TMP/bin" reason=REBOOT interface=eth0 new_domain_name_servers=192.0.2.1
	check_eq "$sh, REBOOT: no domain, no search line" \
		"resolvconf -a eth0.dhclient
| nameserver 192.0.2.1" "$CALLS"

	dhclient yes "$sh" "$TMP/bin" reason=REBIND interface=eth0 new_domain_name=corp.example
	check_eq "$sh, REBIND without servers: the last lease's go" \
		"resolvconf -d eth0.dhclient -f" "$CALLS"

	dhclient yes "$sh" "$TMP/bin" reason=BOUND6 interface=eth0 \
		new_dhcp6_name_servers="fe80::1 2001:db8::53 FE80::2 febf::4 fec0::5 fe80::3%eth1" \
		new_dhcp6_domain_search="v6.example corp.example"
	check_eq "$sh, BOUND6: link-local servers get %eth0" \
		"resolvconf -a eth0.ip6.dhclient
| nameserver fe80::1%eth0
| nameserver 2001:db8::53
| nameserver FE80::2%eth0
| nameserver febf::4%eth0
| nameserver fec0::5
| nameserver fe80::3%eth1
| search v6.example corp.example" "$CALLS"

	dhclient yes "$sh" "$TMP/bin" reason=RENEW6 interface=eth0 new_dhcp6_name_servers=2001:db8::53
	check_eq "$sh, RENEW6" "resolvconf -a eth0.ip6.dhclient
| nameserver 2001:db8::53" "$CALLS"

	# The lease ends: its record goes, and /etc/resolv.conf is not
	# written even if make_resolv_conf were called.
	for reason in EXPIRE FAIL RELEASE STOP; do
		dhclient yes "$sh" "$TMP/bin" reason=$reason interface=eth0 \
			old_domain_name_servers=192.0.2.1
		check_eq "$sh, $reason" "resolvconf -d eth0.dhclient -f" "$CALLS"
	done
	for reason in EXPIRE6 RELEASE6 STOP6; do
		dhclient no "$sh" "$TMP/bin" reason=$reason interface=eth0
		check_eq "$sh, $reason" "resolvconf -d eth0.ip6.dhclient -f" "$CALLS"
	done

	# TIMEOUT: the last lease's servers go; they come back only if
	# dhclient-script finds that lease still works.
	dhclient no "$sh" "$TMP/bin" reason=TIMEOUT interface=eth0 new_domain_name_servers=192.0.2.1
	check_eq "$sh, TIMEOUT, the last lease dead" "resolvconf -d eth0.dhclient -f" "$CALLS"
	dhclient yes "$sh" "$TMP/bin" reason=TIMEOUT interface=eth0 new_domain_name_servers=192.0.2.1
	check_eq "$sh, TIMEOUT, the last lease works" "resolvconf -d eth0.dhclient -f
resolvconf -a eth0.dhclient
| nameserver 192.0.2.1" "$CALLS"

	for reason in PREINIT MEDIUM ARPCHECK ARPSEND PREINIT6 DEPREF6; do
		dhclient yes "$sh" "$TMP/bin" reason=$reason interface=eth0 new_domain_name_servers=192.0.2.1
		check_eq "$sh, $reason: nothing, and resolv.conf left alone" "" "$CALLS"
	done
done

# A failing resolvconf shows in the hook's status, which dhclient-script logs.
dhclient no /bin/sh "$TMP/bin" reason=RELEASE interface=eth0 FAKE_STATUS=1
check_eq "resolvconf failed: the hook's status" "hook: 1" "$(cat "$TMP/vars.status")"

# Not stubd's resolvconf, or none: the hook stays out of the way.
dhclient yes /bin/sh "$TMP/foreign" reason=BOUND interface=eth0 new_domain_name_servers=192.0.2.1
check_eq "Debian's resolvconf: only asked who it is; dhclient-script's make_resolv_conf runs" \
	"foreign resolvconf --version
dhclient-script's make_resolv_conf" "$CALLS"
check_eq "Debian's resolvconf: the hook's status" "hook: 0" "$(cat "$TMP/vars.status")"
dhclient yes /bin/sh "$TMP/none" reason=RELEASE interface=eth0
check_eq "no resolvconf: dhclient-script's make_resolv_conf runs" \
	"dhclient-script's make_resolv_conf" "$CALLS"
dhclient yes /bin/sh "$TMP/bin" reason=BOUND interface= new_domain_name_servers=192.0.2.1
check_eq "no interface: nothing done" "dhclient-script's make_resolv_conf" "$CALLS"

# stubd's real resolvconf is recognised too: the hook asks it --version.
if [ -n "${STUBCTL:-}" ]; then
	mkdir "$TMP/real"
	ln -s "$STUBCTL" "$TMP/real/resolvconf"
	dhclient no /bin/sh "$TMP/real" reason=RELEASE interface=eth0 \
		STUBCTL_SOCKET="$TMP/missing.sock"
	check_eq "stubd's resolvconf, no daemon: the hook called it and says it failed" \
		"hook: 1" "$(cat "$TMP/vars.status")"
fi

pass
