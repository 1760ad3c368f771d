# The Debian package (debian/), as tools/package builds it from a clean
# copy of this working tree's source (what a commit of it would hold):
# - lintian: no error or warning, and every override says why;
# - contents: exactly the programs, units, sysusers.d and tmpfiles.d
#   entries, bus policy, manuals, completions, resolvconf link, dhclient
#   hook, stubd-switch and docs, each as the source has it (the unit with
#   the /usr paths); the config and the hook are conffiles;
# - control: the version is the project's, the libraries are depended on,
#   and the package provides resolvconf and takes the place of resolvconf
#   and openresolv;
# - maintainer scripts: the user, then its directories, then the units
#   enabled, and started socket first; an upgrade restarts the service
#   only; the postinst says how to switch resolv.conf and does not; purge
#   removes the cache and /run/stubd.
# The package is built once per source (tools/package keeps it in the
# build tree's package/ with its source's checksum) and is the fixture
# system_package.sh installs in a booted Debian.
. "$(dirname "$0")/lib.sh"

SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build_dir
OUT=$BUILD/package

# ---- build (or reuse) -------------------------------------------------------
t_pkg=$SECONDS
"$SRC/tools/package" --worktree --out "$OUT" >"$TMP/package.log" 2>&1 ||
	fail "tools/package failed (lintian.txt and build.log are in $OUT)"
t_pkg=$((SECONDS - t_pkg))
cat "$TMP/package.log"
DEB=$(tail -n 1 "$TMP/package.log")
check "tools/package names a .deb" test -f "$DEB"
check_match "... stubd's" '/stubd_[^/]+\.deb$' "$DEB"

# ---- lintian ---------------------------------------------------------------
LINTIAN=$(cat "$OUT/lintian.txt")
check_no_match "lintian: no error, no warning" '^[EW]: ' "$LINTIAN"
# Every override has its reason: a comment right above it, which lintian
# shows ("N:") before the overridden tag ("O:").
OVERRIDES=$SRC/debian/stubd.lintian-overrides
if [ -f "$OVERRIDES" ]; then
	check_eq "every override in debian/stubd.lintian-overrides has a comment above it" "" \
		"$(awk '/^#/ { c = 1; next } /^[[:space:]]*$/ { c = 0; next } !c { print } { c = 0 }' "$OVERRIDES")"
	n=$(grep -c '^[^#[:space:]]' "$OVERRIDES")
	check_eq "lintian shows each override as used" "$n" "$(grep -c '^O: ' <<<"$LINTIAN" || true)"
fi
echo "[$TEST_NAME] lintian says:"
grep -v '^N:' <<<"$LINTIAN" | sed 's/^/    /' || echo "    nothing"

# ---- control ---------------------------------------------------------------
field() { dpkg-deb -f "$DEB" "$1"; }
PROJECT_VERSION=$(sed -n 's/^project(stubd VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
check_match "the version is the project's ($PROJECT_VERSION), Debian revision after" \
	"^${PROJECT_VERSION//./\\.}-[0-9]+\$" "$(field Version)"
check_eq "Architecture is this machine's" "$(dpkg --print-architecture)" "$(field Architecture)"
DEPENDS=$(field Depends)
for lib in libldns3 libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 libmnl0 libssl3 libsystemd0 libc6; do
	check_match "Depends: $lib" "(^|, )$lib( |,|\$)" "$DEPENDS"
done
check_match "Depends: systemd-sysusers, for the user" 'systemd \| systemd-standalone-sysusers' "$DEPENDS"
# The idiom of systemd-resolved's and openresolv's: Provides the virtual
# name and Conflicts with it, which keeps out every other provider.
check_match "Provides: resolvconf" '(^|, )resolvconf($|,)' "$(field Provides)"
for p in resolvconf openresolv; do
	check_match "Conflicts: $p" "(^|, )$p(\$|,)" "$(field Conflicts)"
	check_match "Replaces: $p" "(^|, )$p(\$|,)" "$(field Replaces)"
done
dpkg-deb -e "$DEB" "$TMP/control"
check_eq "conffiles: the config and the dhclient hook" \
	"/etc/dhcp/dhclient-enter-hooks.d/stubd /etc/stubd/stubd.conf" \
	"$(sort "$TMP/control/conffiles" | paste -sd ' ')"

# ---- contents --------------------------------------------------------------
# Every file and link of the package (not the directories), as "PATH" or
# "PATH -> TARGET", and where systemd.pc put the units.
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +\.\//, "/"); print }' |
	sort >"$TMP/contents"
UNITDIR=$(sed -n 's|^\(.*\)/stubd\.service$|\1|p' "$TMP/contents")
check_match "the units are where systemd looks" '^(/usr)?/lib/systemd/system$' "$UNITDIR"
{
	cat <<-EOF
		/etc/dhcp/dhclient-enter-hooks.d/stubd
		/etc/stubd/stubd.conf
		$UNITDIR/stubd.service
		$UNITDIR/stubd.socket
		/usr/bin/stubctl
		/usr/lib/sysusers.d/stubd.conf
		/usr/lib/tmpfiles.d/stubd.conf
		/usr/sbin/resolvconf -> ../bin/stubctl
		/usr/sbin/stubd
		/usr/sbin/stubd-switch
		/usr/share/bash-completion/completions/stubctl
		/usr/share/bash-completion/completions/stubd
		/usr/share/dbus-1/system.d/stubd-resolve1.conf
		/usr/share/doc/stubd/README.Debian
		/usr/share/doc/stubd/README.md.gz
		/usr/share/doc/stubd/changelog.Debian.gz
		/usr/share/doc/stubd/copyright
		/usr/share/lintian/overrides/stubd
		/usr/share/man/man1/stubctl.1.gz
		/usr/share/man/man5/stubd.conf.5.gz
		/usr/share/man/man8/resolvconf.8.gz -> ../man1/stubctl.1.gz
		/usr/share/man/man8/stubd-switch.8.gz
		/usr/share/man/man8/stubd.8.gz
		/usr/share/zsh/vendor-completions/_stubctl
		/usr/share/zsh/vendor-completions/_stubd
		/usr/share/zsh/vendor-completions/_stubd_resolvconf
	EOF
} | sort >"$TMP/want"
check_eq "the package holds these files and links, no more, no fewer" "" \
	"$(diff "$TMP/want" "$TMP/contents" | grep '^[<>]' || true)"
echo "[$TEST_NAME] $(wc -l <"$TMP/contents") files and links in $(basename "$DEB")"
# No file another package has on this machine (Debian 12 too; as
# bash-completion's completions/resolvconf would be): dpkg would refuse to
# install over it. Some of those may be missing here: an installed one is
# checked.
owned=$(sed 's/ -> .*//' "$TMP/contents" | while read -r f; do
	dpkg -S "$f" 2>/dev/null | grep -v '^stubd: ' || true
done)
check_eq "no file of the package belongs to a package installed here" "" "$owned"

X=$TMP/x
dpkg-deb -x "$DEB" "$X"
same() { # same DESCRIPTION SOURCE-FILE PACKAGE-PATH
	check "$1" cmp -s "$SRC/$2" "$X$3"
}
same "stubd.socket as shipped" systemd/stubd.socket "$UNITDIR/stubd.socket"
check "stubd.service: the template with /usr/sbin and /usr/bin" cmp -s \
	<(sed -e 's|@SBINDIR@|/usr/sbin|g' -e 's|@BINDIR@|/usr/bin|g' "$SRC/systemd/stubd.service.in") \
	"$X$UNITDIR/stubd.service"
same "sysusers.d/stubd.conf" systemd/stubd.sysusers /usr/lib/sysusers.d/stubd.conf
same "tmpfiles.d/stubd.conf" systemd/stubd.tmpfiles /usr/lib/tmpfiles.d/stubd.conf
same "the bus policy" conf/stubd-resolve1.conf /usr/share/dbus-1/system.d/stubd-resolve1.conf
same "the config" conf/stubd.conf /etc/stubd/stubd.conf
same "the dhclient hook" conf/dhclient-enter-hook /etc/dhcp/dhclient-enter-hooks.d/stubd
same "stubd-switch is tools/resolver-switch" tools/resolver-switch /usr/sbin/stubd-switch
# Not resolvconf's: bash-completion has that file (debian/rules).
for c in stubctl stubd; do
	same "bash completion: $c" "conf/completion/$c.bash" "/usr/share/bash-completion/completions/$c"
done
for c in _stubctl _stubd _stubd_resolvconf; do
	same "zsh completion: $c" "conf/completion/$c" "/usr/share/zsh/vendor-completions/$c"
done
for page in man1/stubctl.1 man5/stubd.conf.5 man8/stubd.8 man8/stubd-switch.8; do
	check "$page: conf/man's, compressed" cmp -s "$SRC/conf/man/$(basename "$page")" \
		<(gzip -dc "$X/usr/share/man/$page.gz")
done
check_eq "modes: 0755 programs, 0644 units, hook and config" "755 755 755 644 644 644 644" \
	"$(stat -c %a "$X/usr/sbin/stubd" "$X/usr/bin/stubctl" "$X/usr/sbin/stubd-switch" \
		"$X$UNITDIR/stubd.service" "$X$UNITDIR/stubd.socket" \
		"$X/etc/dhcp/dhclient-enter-hooks.d/stubd" "$X/etc/stubd/stubd.conf" | paste -sd ' ')"
# The programs run here (Debian 12 too) and say their version.
check_match "the packaged stubd is version $PROJECT_VERSION" "\\b${PROJECT_VERSION//./\\.}\\b" \
	"$("$X/usr/sbin/stubd" --version 2>&1)"
check_match "the resolvconf link runs stubctl as resolvconf" '^resolvconf \(stubd\) ' \
	"$("$X/usr/sbin/resolvconf" --version 2>&1)"
for bin in usr/sbin/stubd usr/bin/stubctl; do
	check "$bin is stripped (its symbols are in stubd-dbgsym)" \
		sh -c "! readelf -S '$X/$bin' | grep -qF .symtab"
done

# ---- maintainer scripts ----------------------------------------------------
# line_of FILE REGEX: the number of the first line of FILE matching REGEX.
line_of() { grep -nE -m 1 -- "$2" "$1" | cut -d: -f1; }
POSTINST=$TMP/control/postinst
users=$(line_of "$POSTINST" '^ *systemd-sysusers .*stubd\.conf')
dirs=$(line_of "$POSTINST" 'systemd-tmpfiles .*--create stubd\.conf')
enable=$(line_of "$POSTINST" "deb-systemd-helper enable 'stubd\\.service'")
enable_socket=$(line_of "$POSTINST" "deb-systemd-helper enable 'stubd\\.socket'")
start_socket=$(line_of "$POSTINST" '^[^#]*deb-systemd-invoke start stubd\.socket')
start=$(line_of "$POSTINST" '^[^#]*deb-systemd-invoke start stubd\.service')
check "postinst: systemd-sysusers makes the user" test -n "$users"
check "postinst: systemd-tmpfiles makes its directories, after" test "${dirs:-0}" -gt "${users:-0}"
check "postinst: both units enabled, after" test "${enable:-0}" -gt "${dirs:-0}" -a "${enable_socket:-0}" -gt "${dirs:-0}"
check "postinst: the socket started, after" test "${start_socket:-0}" -gt "${enable:-0}" -a "${start_socket:-0}" -gt "${enable_socket:-0}"
check "postinst: then the service (else it binds 127.0.0.53 itself, and the socket is refused)" \
	test "${start:-0}" -gt "${start_socket:-0}"
# On upgrade the service restarts, the socket (which would be refused
# under the running service) does not.
check_match "postinst: an upgrade restarts the service" '^[^#]*deb-systemd-invoke restart stubd\.service' \
	"$(cat "$POSTINST")"
check_no_match "postinst: ... and not the socket" "(restart|try-restart) .*stubd\\.socket" \
	"$(grep -v '^ *#' "$POSTINST")"
check_match "postinst: says how to switch (stubd-switch enable)" '^    stubd-switch enable$' "$(cat "$POSTINST")"
# Nothing of it writes /etc/resolv.conf or runs stubd-switch (the
# message aside): its code lines, heredoc taken out.
code=$(awk '/<<.MSG/ { skip = 1 } skip && /^MSG$/ { skip = 0; next } !skip && !/^[[:space:]]*#/' "$POSTINST")
check_no_match "postinst: does not switch resolv.conf" 'stubd-switch|>[[:space:]]*/etc/resolv\.conf|ln .*resolv\.conf' "$code"
check_match "prerm: switches back on removal" 'stubd-switch disable' "$(cat "$TMP/control/prerm")"
check_match "prerm: stops the socket, then the service" '^[^#]*deb-systemd-invoke stop stubd\.socket stubd\.service' \
	"$(cat "$TMP/control/prerm")"
check_match "postrm: purge removes the cache and the state" 'rm -rf /var/cache/stubd /run/stubd' \
	"$(cat "$TMP/control/postrm")"
check_match "postrm: purge forgets the units' enablement" "deb-systemd-helper purge 'stubd.service' 'stubd.socket'" \
	"$(cat "$TMP/control/postrm")"
for s in postinst prerm postrm; do
	check "$s: sh -n" sh -n "$TMP/control/$s"
done

echo "[$TEST_NAME] tools/package: ${t_pkg} s"
pass
