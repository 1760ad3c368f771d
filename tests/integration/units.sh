# The systemd units: stubd.service and stubd.socket pass "systemd-analyze
# verify" without a single remark about them, the service's sandbox scores
# at most 2.5 ("OK") in "systemd-analyze security", and the directives the
# daemon relies on are there. Needs no running systemd: systemd-analyze
# reads the files offline. The sysusers.d and tmpfiles.d entries and the
# install layout are install.sh's.
. "$(dirname "$0")/lib.sh"

SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v systemd-analyze >/dev/null ||
	fail "systemd-analyze not found: install the Debian package 'systemd'"

# The service as installed, except that ExecStart= and ExecReload= name
# the stubd and stubctl just built: verify insists that the programs exist.
# The install rule fills in @SBINDIR@ and @BINDIR@ the same way (install.sh
# checks the result).
: "${STUBCTL:?run through ctest, which sets STUBCTL}"
UNITS=$TMP/units
mkdir -p "$UNITS"
sed -e "s|@SBINDIR@|$(dirname "$STUBD")|g" -e "s|@BINDIR@|$(dirname "$STUBCTL")|g" \
	"$SRC/systemd/stubd.service.in" >"$UNITS/stubd.service"
cp "$SRC/systemd/stubd.socket" "$UNITS/stubd.socket"
check_no_match "no @VAR@ left in stubd.service" '@[A-Z_]+@' "$(cat "$UNITS/stubd.service")"
check_eq "ExecStart= is the built stubd" "ExecStart=$STUBD" \
	"$(grep '^ExecStart=' "$UNITS/stubd.service")"
check_eq "ExecReload= is the built stubctl's reload" "ExecReload=$STUBCTL reload" \
	"$(grep '^ExecReload=' "$UNITS/stubd.service")"

# verify_units DIR: systemd-analyze verify on DIR's two units; prints what
# it said (stdout and stderr) and returns its exit status.
verify_units() {
	(cd "$1" && systemd-analyze verify --man=no ./stubd.socket ./stubd.service) 2>&1
}

# First, that verify does catch things here (no PID 1 systemd, maybe a
# container): a unit with an unknown key and a missing program must draw
# remarks, or a clean result below would mean nothing.
mkdir -p "$TMP/bad"
sed -e 's|^ExecStart=.*|ExecStart=/nonexistent/stubd|' -e 's|^Type=notify$|Type=notify\nNoSuchKey=1|' \
	"$UNITS/stubd.service" >"$TMP/bad/stubd.service"
cp "$UNITS/stubd.socket" "$TMP/bad/"
BAD_RC=0
BAD_OUT=$(verify_units "$TMP/bad") || BAD_RC=$?
check "verify fails on a missing ExecStart program" [ "$BAD_RC" -ne 0 ]
check_match "verify names an unknown key" "stubd\.service:[0-9]+: Unknown key 'NoSuchKey'" "$BAD_OUT"
check_match "verify names a missing program" "/nonexistent/stubd is not executable" "$BAD_OUT"

# The real units: clean. A remark on a unit that is not ours (some unit of
# the host's that verify loads on the way) is shown but not held against us.
RC=0
OUT=$(verify_units "$UNITS") || RC=$?
[ -z "$OUT" ] || printf 'systemd-analyze verify said:\n%s\n' "$OUT"
check_eq "systemd-analyze verify exit status" 0 "$RC"
check_no_match "systemd-analyze verify has no remark about our units" 'stubd' "$OUT"

# The sandbox. --offline reads the file, not PID 1; --threshold is in tenths.
SEC_RC=0
SEC=$(systemd-analyze security --offline=true --threshold=25 --no-pager "$UNITS/stubd.service" 2>&1) ||
	SEC_RC=$?
SCORE=$(sed -n 's/.*Overall exposure level for stubd\.service: \([0-9.]*\).*/\1/p' <<<"$SEC")
[ -n "$SCORE" ] || fail "no exposure level in: $SEC"
echo "stubd.service exposure level: $SCORE (at most 2.5 wanted)"
grep '✗' <<<"$SEC" || true
check_eq "security --threshold=25 passes" 0 "$SEC_RC"
check "exposure level $SCORE is at most 2.5" awk -v s="$SCORE" 'BEGIN { exit !(s <= 2.5) }'
# What is wanted open stays open, for the reasons in the unit's comments:
# a non-root caller of a changing D-Bus method has its CAP_NET_ADMIN read
# from /proc/PID/status, and the own-hostname answer needs the host's UTS
# namespace.
check_no_match "ProtectProc= leaves other users' /proc/PID visible" \
	'^ProtectProc=(invisible|ptraceable|noaccess)' "$(cat "$UNITS/stubd.service")"
check_no_match "ProtectHostname= keeps the host's hostname" '^ProtectHostname=(yes|true|1)' \
	"$(cat "$UNITS/stubd.service")"
check_no_match "no PrivateUsers= (it maps other users' groups away)" '^PrivateUsers=(yes|true|1)' \
	"$(cat "$UNITS/stubd.service")"

# The directives the daemon is written against.
SERVICE=$(cat "$UNITS/stubd.service")
for line in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30s' 'Restart=on-failure' \
	'User=stubd' 'Group=stubd' 'RuntimeDirectory=stubd' \
	'RuntimeDirectoryPreserve=yes' 'AmbientCapabilities=CAP_NET_BIND_SERVICE' \
	'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'Before=nss-lookup.target' \
	'Wants=nss-lookup.target' 'WantedBy=multi-user.target' 'Also=stubd.socket' 'After=dbus.socket'; do
	check "stubd.service has $line" grep -qxF -- "$line" <<<"$SERVICE"
done
# Reload through stubd's own client, which waits for the reload and fails
# when stubd rejects the new config: no shell, no kill (see the unit).
check_no_match "no other ExecReload= program" '^ExecReload=.*(/bin/sh|kill|\$MAINPID)' "$SERVICE"
check_eq "one ExecReload=" 1 "$(grep -c '^ExecReload=' <<<"$SERVICE")"
# The D-Bus side is optional: stubd starts and serves DNS with no bus, so
# the bus is neither required nor wanted; and no BusName=, which would clash
# with systemd-resolved.service's (see the unit).
check_no_match "stubd.service does not need the bus" '^(Requires|Requisite|BindsTo|Wants)=.*dbus' "$SERVICE"
check_no_match "stubd.service has no BusName=" '^BusName=' "$SERVICE"
SOCKET=$(cat "$UNITS/stubd.socket")
for line in 'ListenDatagram=127.0.0.53:53' 'ListenStream=127.0.0.53:53' \
	'ListenStream=/run/stubd/control.sock' 'SocketMode=0666' 'Service=stubd.service' \
	'WantedBy=sockets.target'; do
	check "stubd.socket has $line" grep -qxF -- "$line" <<<"$SOCKET"
done
# stubd.socket's control socket is where stubd looks by default.
check_match "the socket unit's control socket is stubd.conf's default" \
	'^# control-socket = /run/stubd/control.sock$' "$(cat "$SRC/conf/stubd.conf")"
# Accept=yes would start one stubd per TCP connection.
check_no_match "stubd.socket hands over its sockets (Accept=no)" '^Accept=(yes|true|1)' "$SOCKET"

pass
