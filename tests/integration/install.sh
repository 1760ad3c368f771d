# "cmake --install" of this build with --prefix /usr into a DESTDIR under
# $TMP: the programs, the config in /etc (not /usr/etc), the units with
# ExecStart=/usr/sbin/stubd, the sysusers.d and tmpfiles.d entries; and
# systemd-sysusers and systemd-tmpfiles, pointed at that tree with --root,
# make the stubd user, /run/stubd and /run/stubd/resolv.conf from them.
# Nothing is written outside $TMP but the build's own install_manifest.txt
# and the configured unit it installs from.
. "$(dirname "$0")/lib.sh"

SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

# The build tree: where CMakeCache.txt is, at or above the stubd binary
# (ctest runs this from build/tests).
BUILD=$(dirname "$STUBD")
while [ ! -f "$BUILD/CMakeCache.txt" ]; do
	[ "$BUILD" != / ] || fail "no CMakeCache.txt above $STUBD"
	BUILD=$(dirname "$BUILD")
done

# cache_var NAME: a variable of the build's CMake cache.
cache_var() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }

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
check "no usr/etc" test ! -e "$DEST/usr/etc"
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
check "installed stubd.service is the template with @SBINDIR@=/usr/sbin" \
	cmp -s <(sed 's|@SBINDIR@|/usr/sbin|g' "$SRC/systemd/stubd.service.in") "$UNITDIR/stubd.service"
check "modes: 0644 units, 0755 programs" test "$(stat -c %a "$UNITDIR/stubd.service" \
	"$UNITDIR/stubd.socket" "$DEST/usr/sbin/stubd" | tr '\n' ' ')" = "644 644 755 "

# A second install keeps a stubd.conf the admin edited and puts the shipped
# one beside it.
echo "upstream = 192.0.2.1:53" >>"$DEST/etc/stubd/stubd.conf"
DESTDIR=$DEST cmake --install "$BUILD" --prefix /usr >"$TMP/install2.log" 2>&1 ||
	fail "second cmake --install failed: $(cat "$TMP/install2.log")"
check "an edited stubd.conf is kept" grep -qx "upstream = 192.0.2.1:53" "$DEST/etc/stubd/stubd.conf"
check "the shipped one goes beside it" cmp -s "$SRC/conf/stubd.conf" "$DEST/etc/stubd/stubd.conf.default"

# Another prefix: sysconfdir follows it as GNUInstallDirs says, and so does
# ExecStart=.
DESTDIR=$TMP/dest2 cmake --install "$BUILD" --prefix /opt/stubd >"$TMP/install3.log" 2>&1 ||
	fail "cmake --install --prefix /opt/stubd failed: $(cat "$TMP/install3.log")"
UNITDIR2=$(dirname "$(find "$TMP/dest2" -name stubd.service | head -n1)")
check_eq "ExecStart= under /opt/stubd" "ExecStart=/opt/stubd/sbin/stubd" \
	"$(grep '^ExecStart=' "$UNITDIR2/stubd.service")"
check "config in etc/opt/stubd/stubd" test -f "$TMP/dest2/etc/opt/stubd/stubd/stubd.conf"

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
