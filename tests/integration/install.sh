# "cmake --install" of this build with --prefix /usr into a DESTDIR under
# $TMP: the programs, the config in /etc (not /usr/etc), the units with
# ExecStart=/usr/sbin/stubd and ExecReload=/usr/bin/stubctl reload, the
# sysusers.d and tmpfiles.d entries, tools/resolver-switch as stubd-switch
# with its manual, the resolvconf link to stubctl
# (STUBD_RESOLVCONF_LINK), the dhclient hook and the system bus's policy
# for org.freedesktop.resolve1 (well-formed, taken by dbus-daemon); and
# systemd-sysusers and systemd-tmpfiles, pointed at that tree with --root,
# make the stubd user, /run/stubd and /run/stubd/resolv.conf from them.
# Nothing is written outside $TMP but the build's own install_manifest.txt
# and the configured unit it installs from.
. "$(dirname "$0")/lib.sh"

SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

build_dir

DEST=$TMP/dest
DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >"$TMP/install.log" 2>&1 ||
	fail "cmake --install failed: $(cat "$TMP/install.log")"
cat "$TMP/install.log"
check_eq "everything installed went under \$TMP/dest" "" \
	"$(grep -E -- '-- (Installing|Up-to-date):' "$TMP/install.log" | grep -vF -- "$DEST/" || true)"

# dest_dir DIR: DIR of the install tree; a relative DIR (a CMake cache path
# without systemd.pc) is under the prefix, /usr.
dest_dir() { case $1 in /*) echo "$DEST$1" ;; *) echo "$DEST/usr/$1" ;; esac; }
UNITDIR=$(dest_dir "$(cache_var STUBD_SYSTEMD_UNITDIR)")
SYSUSERSDIR=$(dest_dir "$(cache_var STUBD_SYSUSERSDIR)")
TMPFILESDIR=$(dest_dir "$(cache_var STUBD_TMPFILESDIR)")
echo "units in $UNITDIR, sysusers.d in $SYSUSERSDIR, tmpfiles.d in $TMPFILESDIR"

check "usr/sbin/stubd is an executable" test -x "$DEST/usr/sbin/stubd"
check "usr/bin/stubctl is an executable" test -x "$DEST/usr/bin/stubctl"
check "the config is etc/stubd/stubd.conf" cmp -s "$SRC/conf/stubd.conf" "$DEST/etc/stubd/stubd.conf"
HOOK=etc/dhcp/dhclient-enter-hooks.d/stubd
check "the dhclient hook is $HOOK" cmp -s "$SRC/conf/dhclient-enter-hook" "$DEST/$HOOK"
check_eq "the dhclient hook is 0644 (dhclient-script sources it)" 644 "$(stat -c %a "$DEST/$HOOK")"
check "no usr/etc" test ! -e "$DEST/usr/etc"
check "tools/resolver-switch is installed as usr/sbin/stubd-switch" \
	cmp -s "$SRC/tools/resolver-switch" "$DEST/usr/sbin/stubd-switch"
check_eq "usr/sbin/stubd-switch is 0755" 755 "$(stat -c %a "$DEST/usr/sbin/stubd-switch")"
check_match "stubd-switch names itself so" '^usage: stubd-switch ' "$("$DEST/usr/sbin/stubd-switch" --help)"
# The manuals, as written, where man looks under the prefix.
for page in man8/stubd.8 man5/stubd.conf.5 man1/stubctl.1 man8/stubd-switch.8; do
	check "usr/share/man/$page installed as shipped" \
		cmp -s "$SRC/conf/man/$(basename "$page")" "$DEST/usr/share/man/$page"
	check_eq "usr/share/man/$page is 0644" 644 "$(stat -c %a "$DEST/usr/share/man/$page")"
done
check "stubd.socket installed as shipped" cmp -s "$SRC/systemd/stubd.socket" "$UNITDIR/stubd.socket"
check "stubd.service installed" test -f "$UNITDIR/stubd.service"
check "sysusers.d/stubd.conf installed" cmp -s "$SRC/systemd/stubd.sysusers" "$SYSUSERSDIR/stubd.conf"
check "tmpfiles.d/stubd.conf installed" cmp -s "$SRC/systemd/stubd.tmpfiles" "$TMPFILESDIR/stubd.conf"
# systemd reads the unit dirs it was built with; on a merged-/usr Debian,
# /lib/systemd/system (systemd.pc) and /usr/lib/systemd/system are the same.
check_match "units are where systemd looks" '/(usr/)?lib/systemd/system$' "$UNITDIR"
check_match "sysusers.d is where systemd looks" '/usr/lib/sysusers\.d$' "$SYSUSERSDIR"
check_match "tmpfiles.d is where systemd looks" '/usr/lib/tmpfiles\.d$' "$TMPFILESDIR"

# The service is the template with the install's sbindir, nothing else.
check_eq "installed ExecStart=" "ExecStart=/usr/sbin/stubd" \
	"$(grep '^ExecStart=' "$UNITDIR/stubd.service")"
check_eq "installed ExecReload=" "ExecReload=/usr/bin/stubctl reload" \
	"$(grep '^ExecReload=' "$UNITDIR/stubd.service")"
check "installed stubd.service is the template with @SBINDIR@=/usr/sbin, @BINDIR@=/usr/bin" \
	cmp -s <(sed -e 's|@SBINDIR@|/usr/sbin|g' -e 's|@BINDIR@|/usr/bin|g' "$SRC/systemd/stubd.service.in") \
	"$UNITDIR/stubd.service"
check "modes: 0644 units, 0755 programs" test "$(stat -c %a "$UNITDIR/stubd.service" \
	"$UNITDIR/stubd.socket" "$DEST/usr/sbin/stubd" | tr '\n' ' ')" = "644 644 755 "

# The system bus's policy for org.freedesktop.resolve1, where the bus reads
# such files, saying what stubd's D-Bus front end needs.
POLICYDIR=$(dest_dir "$(cache_var STUBD_DBUS_POLICY_DIR)")
POLICY=$POLICYDIR/stubd-resolve1.conf
echo "D-Bus policy in $POLICYDIR"
check "stubd-resolve1.conf installed as shipped" cmp -s "$SRC/conf/stubd-resolve1.conf" "$POLICY"
check_match "the D-Bus policy is where the system bus looks" '/usr/share/dbus-1/system\.d$' "$POLICYDIR"
check_eq "the D-Bus policy is 0644" 644 "$(stat -c %a "$POLICY")"
# Its rules, one line each ("policy user=stubd: allow own=..."), read with
# expat: built into python3-minimal's interpreter, where xml.dom is not.
RULES=$(python3 - "$POLICY" <<'PY' 2>&1
import pyexpat, sys
policy = None
def start(name, attrs):
    global policy
    if name == "policy":
        policy = " ".join(f"{k}={v}" for k, v in attrs.items())
    elif name in ("allow", "deny") and policy is not None:
        print(f"policy {policy}: {name} " + " ".join(f"{k}={v}" for k, v in attrs.items()))
def end(name):
    global policy
    if name == "policy":
        policy = None
p = pyexpat.ParserCreate()
p.StartElementHandler, p.EndElementHandler = start, end
with open(sys.argv[1], "rb") as f:
    p.ParseFile(f)
PY
) || fail "stubd-resolve1.conf is not well-formed XML: $RULES"
printf '%s\n' "$RULES"
check_match "user stubd may own org.freedesktop.resolve1" \
	'^policy user=stubd: allow own=org\.freedesktop\.resolve1$' "$RULES"
check_match "root may own org.freedesktop.resolve1" \
	'^policy user=root: allow own=org\.freedesktop\.resolve1$' "$RULES"
for iface in org.freedesktop.resolve1.Manager org.freedesktop.resolve1.Link org.freedesktop.DBus.Properties \
	org.freedesktop.DBus.Introspectable org.freedesktop.DBus.Peer; do
	check_match "everyone may call $iface on it" \
		"^policy context=default: allow send_destination=org\.freedesktop\.resolve1 send_interface=$iface\$" "$RULES"
done
check_match "everyone may receive its signals" \
	'^policy context=default: allow receive_sender=org\.freedesktop\.resolve1$' "$RULES"
check_eq "no one else may own it, nor anyone any other name" \
	"policy user=stubd: allow own=org.freedesktop.resolve1 policy user=root: allow own=org.freedesktop.resolve1" \
	"$(grep own <<<"$RULES" | paste -sd ' ')"
# dbus-daemon takes it: a private bus whose configuration includes it
# starts, where an unknown element or attribute would stop it (bus_start
# fails then). A machine without the stubd user draws a remark, no more.
bus_start "<include>$POLICY</include>"
cat "$TMP/bus.log"
check "a bus including stubd-resolve1.conf answers" bus_ping
bus_stop

# sbin/resolvconf: a relative link to stubctl (the build's default is
# STUBD_RESOLVCONF_LINK=ON), which runs as resolvconf.
[ "$(cache_var STUBD_RESOLVCONF_LINK)" = ON ] || fail "this test wants a build with STUBD_RESOLVCONF_LINK=ON"
check "usr/sbin/resolvconf is a link" test -L "$DEST/usr/sbin/resolvconf"
check_eq "usr/sbin/resolvconf -> ../bin/stubctl" "../bin/stubctl" "$(readlink "$DEST/usr/sbin/resolvconf")"
check_match "the link runs as resolvconf" '^resolvconf \(stubd\) ' "$("$DEST/usr/sbin/resolvconf" --version)"
check "the link is in install_manifest.txt (for uninstalling)" \
	grep -qx "$DEST/usr/sbin/resolvconf" "$BUILD/install_manifest.txt"
# With it, its manual: resolvconf(8) is stubctl(1), whose RESOLVCONF
# COMPATIBILITY section describes that command line.
check_eq "usr/share/man/man8/resolvconf.8 -> ../man1/stubctl.1" "../man1/stubctl.1" \
	"$(readlink "$DEST/usr/share/man/man8/resolvconf.8")"
check "man8/resolvconf.8 leads to stubctl(1)" cmp -s "$SRC/conf/man/stubctl.1" "$DEST/usr/share/man/man8/resolvconf.8"
check "man8/resolvconf.8 is in install_manifest.txt" \
	grep -qx "$DEST/usr/share/man/man8/resolvconf.8" "$BUILD/install_manifest.txt"

# A second install keeps a stubd.conf the admin edited and puts the shipped
# one beside it.
echo "upstream = 192.0.2.1:53" >>"$DEST/etc/stubd/stubd.conf"
DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >"$TMP/install2.log" 2>&1 ||
	fail "second cmake --install failed: $(cat "$TMP/install2.log")"
check "an edited stubd.conf is kept" grep -qx "upstream = 192.0.2.1:53" "$DEST/etc/stubd/stubd.conf"
check "the shipped one goes beside it" cmp -s "$SRC/conf/stubd.conf" "$DEST/etc/stubd/stubd.conf.default"
check_match "a second install: the link is up to date" \
	"Up-to-date: $DEST/usr/sbin/resolvconf -> \.\./bin/stubctl" "$(cat "$TMP/install2.log")"
check_eq "a second install: still the link" "../bin/stubctl" "$(readlink "$DEST/usr/sbin/resolvconf")"

# resolvconf's bash completion: stubd's where there was none, and again
# over its own at a second install.
BASHCOMP=$(cache_var STUBD_BASH_COMPLETION_DIR)
check "the resolvconf completion is stubd's" \
	cmp -s "$SRC/conf/completion/resolvconf.bash" "$(dest_dir "$BASHCOMP")/resolvconf"
check_no_match "a second install keeps no resolvconf completion of its own" "Keeping: .*completion" \
	"$(cat "$TMP/install2.log")"

# A resolvconf that is not stubd's (the resolvconf package's) is kept, and
# the install says so; so is bash-completion's completion for resolvconf.
mkdir -p "$TMP/dest-foreign/usr/sbin"
printf '#!/bin/sh\n# Debian resolvconf\n' >"$TMP/dest-foreign/usr/sbin/resolvconf"
case $BASHCOMP in /*) foreign_comp=$TMP/dest-foreign$BASHCOMP ;; *) foreign_comp=$TMP/dest-foreign/usr/$BASHCOMP ;; esac
mkdir -p "$foreign_comp"
printf '# bash completion for resolvconf  -*- shell-script -*-\n' >"$foreign_comp/resolvconf"
DESTDIR=$TMP/dest-foreign cmake --install "$BUILD" --prefix /usr >"$TMP/install-foreign.log" 2>&1 ||
	fail "cmake --install over another resolvconf failed: $(cat "$TMP/install-foreign.log")"
check "another resolvconf is kept" grep -q 'Debian resolvconf' "$TMP/dest-foreign/usr/sbin/resolvconf"
check "another resolvconf is no link" test ! -L "$TMP/dest-foreign/usr/sbin/resolvconf"
check_match "another resolvconf: the install says so" \
	"Keeping $TMP/dest-foreign/usr/sbin/resolvconf, which is not stubd's" \
	"$(tr -s ' \n' ' ' <"$TMP/install-foreign.log")"
check "another resolvconf: its manual is not shadowed by stubd's" \
	test ! -e "$TMP/dest-foreign/usr/share/man/man8/resolvconf.8" -a ! -L "$TMP/dest-foreign/usr/share/man/man8/resolvconf.8"
check "bash-completion's resolvconf completion is kept" \
	grep -q '^# bash completion for resolvconf' "$foreign_comp/resolvconf"
check_match "bash-completion's resolvconf completion: the install says so" \
	"Keeping: $foreign_comp/resolvconf \(another package's completion" \
	"$(tr -s ' \n' ' ' <"$TMP/install-foreign.log")"

# Another prefix: sysconfdir follows it as GNUInstallDirs says, and so do
# ExecStart= and ExecReload=.
DESTDIR=$TMP/dest2 cmake --install "$BUILD" --prefix /opt/stubd >"$TMP/install3.log" 2>&1 ||
	fail "cmake --install --prefix /opt/stubd failed: $(cat "$TMP/install3.log")"
UNITDIR2=$(dirname "$(find "$TMP/dest2" -name stubd.service | head -n1)")
check_eq "ExecStart= under /opt/stubd" "ExecStart=/opt/stubd/sbin/stubd" \
	"$(grep '^ExecStart=' "$UNITDIR2/stubd.service")"
check_eq "ExecReload= under /opt/stubd" "ExecReload=/opt/stubd/bin/stubctl reload" \
	"$(grep '^ExecReload=' "$UNITDIR2/stubd.service")"
check "config in etc/opt/stubd/stubd" test -f "$TMP/dest2/etc/opt/stubd/stubd/stubd.conf"
check "the dhclient hook beside it" test -f "$TMP/dest2/etc/opt/stubd/dhcp/dhclient-enter-hooks.d/stubd"
check_eq "opt/stubd/sbin/resolvconf -> ../bin/stubctl" "../bin/stubctl" \
	"$(readlink "$TMP/dest2/opt/stubd/sbin/resolvconf")"

# The link is the install component "resolvconf", which needs nothing
# built; configured with STUBD_RESOLVCONF_LINK=OFF, there is none. (A
# fresh tree, configured only: the build under test stays as it is.)
DESTDIR=$TMP/dest-on cmake --install "$BUILD" --prefix /usr --component resolvconf \
	>"$TMP/install-on.log" 2>&1 || fail "cmake --install --component resolvconf failed: $(cat "$TMP/install-on.log")"
check_eq "component resolvconf: the link" "../bin/stubctl" "$(readlink "$TMP/dest-on/usr/sbin/resolvconf")"
cmake -S "$SRC" -B "$TMP/build-off" -DSTUBD_RESOLVCONF_LINK=OFF -DSTUBD_TESTS=OFF \
	>"$TMP/configure-off.log" 2>&1 || fail "configuring with STUBD_RESOLVCONF_LINK=OFF failed: $(cat "$TMP/configure-off.log")"
check_eq "the fresh tree has STUBD_RESOLVCONF_LINK=OFF" OFF \
	"$(sed -n 's/^STUBD_RESOLVCONF_LINK:BOOL=//p' "$TMP/build-off/CMakeCache.txt")"
DESTDIR=$TMP/dest-off cmake --install "$TMP/build-off" --prefix /usr --component resolvconf \
	>"$TMP/install-off.log" 2>&1 || fail "cmake --install of the OFF tree failed: $(cat "$TMP/install-off.log")"
check "STUBD_RESOLVCONF_LINK=OFF: no usr/sbin/resolvconf" test ! -e "$TMP/dest-off/usr/sbin/resolvconf" -a ! -L "$TMP/dest-off/usr/sbin/resolvconf"
check "STUBD_RESOLVCONF_LINK=OFF: no man8/resolvconf.8" test ! -e "$TMP/dest-off/usr/share/man/man8/resolvconf.8" -a ! -L "$TMP/dest-off/usr/share/man/man8/resolvconf.8"

# sysusers.d and tmpfiles.d, applied to the tree as the package manager
# would at install time (both are offline with --root).
if [ "$(id -u)" -ne 0 ]; then
	echo "not root: skipping systemd-sysusers and systemd-tmpfiles --root (they chown)"
elif ! command -v systemd-sysusers >/dev/null || ! command -v systemd-tmpfiles >/dev/null; then
	fail "systemd-sysusers/systemd-tmpfiles not found: install the Debian package 'systemd'"
else
	HOST_DB=$(cat /etc/passwd /etc/group | md5sum)
	systemd-sysusers --root="$DEST" >"$TMP/sysusers.log" 2>&1 ||
		fail "systemd-sysusers --root failed: $(cat "$TMP/sysusers.log")"
	cat "$TMP/sysusers.log"
	PW=$(grep '^stubd:' "$DEST/etc/passwd" || true)
	check_match "sysusers made a system user stubd, no home, no login" \
		'^stubd:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' "$PW"
	STUBD_UID=$(cut -d: -f3 <<<"$PW")
	STUBD_GID=$(cut -d: -f4 <<<"$PW")
	check "stubd's uid $STUBD_UID is a system one" [ "$STUBD_UID" -lt 1000 ]
	check_match "sysusers made a group stubd, the user's own" "^stubd:x:$STUBD_GID:" \
		"$(cat "$DEST/etc/group")"
	check_eq "the host's /etc/passwd and /etc/group are untouched" "$HOST_DB" \
		"$(cat /etc/passwd /etc/group | md5sum)"

	systemd-tmpfiles --root="$DEST" --create >"$TMP/tmpfiles.log" 2>&1 ||
		fail "systemd-tmpfiles --root --create failed: $(cat "$TMP/tmpfiles.log")"
	check "tmpfiles made run/stubd" test -d "$DEST/run/stubd"
	check_eq "run/stubd is 0755 stubd:stubd" "755 $STUBD_UID:$STUBD_GID" \
		"$(stat -c '%a %u:%g' "$DEST/run/stubd")"
	# The resolv.conf /etc/resolv.conf links to after "resolver-switch
	# enable", there before stubd starts: what stubd writes with no search
	# domains.
	RUN_RESOLV=$DEST/run/stubd/resolv.conf
	printf '%s\n' "# Generated by stubd: initial file from systemd-tmpfiles; stubd replaces it when it starts." \
		"nameserver 127.0.0.53" "options edns0 trust-ad" >"$TMP/expect-resolv"
	check "tmpfiles made run/stubd/resolv.conf: $(cat "$RUN_RESOLV" 2>&1)" cmp -s "$TMP/expect-resolv" "$RUN_RESOLV"
	check_eq "run/stubd/resolv.conf is a 0644 file of stubd:stubd" "644 regular file $STUBD_UID:$STUBD_GID" \
		"$(stat -c '%a %F %u:%g' "$RUN_RESOLV")"
	# Run again (a package upgrade does): the file stubd wrote since stays.
	printf '# Generated by stubd\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0 trust-ad\n' >"$RUN_RESOLV"
	cp "$RUN_RESOLV" "$TMP/stubd-resolv"
	systemd-tmpfiles --root="$DEST" --create >"$TMP/tmpfiles2.log" 2>&1 ||
		fail "second systemd-tmpfiles --root --create failed: $(cat "$TMP/tmpfiles2.log")"
	check "a second tmpfiles run leaves the resolv.conf stubd wrote" cmp -s "$TMP/stubd-resolv" "$RUN_RESOLV"
fi

pass
