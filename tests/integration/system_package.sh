# The Debian package installed, used, upgraded and purged as a user would,
# with apt in a booted Debian 12 (../shared/system-container.md), the
# package being package.sh's (the build tree's package/stubd_*.deb):
# - install: "apt-get install ./stubd_*.deb" brings its dependencies, makes
#   the user stubd, enables and starts stubd.socket and stubd.service,
#   which run as that user and answer on 127.0.0.53; /etc/resolv.conf is
#   left as it was, and the install says how to switch it;
# - use: "systemctl reload stubd" (and a refused config, which fails the
#   reload); stubd's lines in the journal with their priorities; "man
#   stubd" and the other manuals; the bash completion loaded and run;
#   resolvconf is stubd's, and apt knows that openresolv and
#   systemd-resolved would take its place; stubd-switch makes stubd the
#   system resolver; the cache is saved on stop;
# - upgrade: the same package again restarts stubd, switch kept;
# - purge: resolv.conf is put back, and no file of stubd's is left, nor
#   any file of its user's (the user stays, as Debian's system users do).
# The dependencies are fetched on the host (apt in the image's root, from
# the Debian mirror, kept in a cache across runs), never from inside the
# container, which sends DNS only to its own fake upstream (127.0.0.9).
. "$(dirname "$0")/lib.sh"

build_dir
debs=("$BUILD"/package/stubd_*.deb)
DEB=${debs[0]}
[ -f "$DEB" ] || fail "no package in $BUILD/package: package.sh builds it (ctest runs it first)"

ct_image

# ---- before boot: the fake upstream, the dependencies -------------------------

# fakeup and the libraries of this build it needs, apart from the image's
# own (/opt/fakeup), so that the package's dependencies are all apt's.
mkdir -p "$root/opt/fakeup/lib"
install -m 0755 "$FAKEUP" "$root/opt/fakeup/fakeup"
for lib in $(ldd "$FAKEUP" | awk '/=> \// { print $3 }'); do
	[ -e "$root$lib" ] || cp -L "$lib" "$root/opt/fakeup/lib/"
done
cat >"$root/etc/systemd/system/fake-global.service" <<'UNIT'
[Unit]
Description=fake upstream DNS server for the system_package test
[Service]
Environment=LD_LIBRARY_PATH=/opt/fakeup/lib ASAN_OPTIONS=detect_leaks=0
ExecStart=/opt/fakeup/fakeup -l 127.0.0.9:53 --answer 192.0.2.99
[Install]
WantedBy=multi-user.target
UNIT
systemctl --root="$root" enable fake-global.service >/dev/null 2>&1 ||
	fail "systemctl --root enable fake-global.service failed"

# What the install asks apt for, and what it may fetch: the package's
# dependencies and recommendations (python3, for stubd-switch), man-db
# and bash-completion. Fetched here (the image's apt lists, the host's
# network: the image's resolv.conf is still the host's), once: the .debs
# are kept in ARCHIVES and copied in on later runs, when apt finds it has
# all it needs and fetches nothing.
PKG=/root/$(basename "$DEB")
cp "$DEB" "$root$PKG"
WANT=("$PKG" man-db bash-completion)
# Beside the image (tools/container-image prints where it is, at once now
# that ct_image has made sure of it), so that a new image gets a new cache.
ARCHIVES=$("$SOURCE_DIR/tools/container-image").package-archives
mkdir -p "$ARCHIVES"
cp "$ARCHIVES"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
t_fetch=$SECONDS
if ! in_root apt-get install -y -qq --download-only "${WANT[@]}" >"$TMP/fetch.log" 2>&1; then
	# Lists older than the mirror name .debs it has dropped.
	in_root apt-get update -qq >>"$TMP/fetch.log" 2>&1 ||
		ct_skip "no Debian mirror reachable to fetch the package's dependencies: $(tail -n 3 "$TMP/fetch.log")"
	in_root apt-get install -y -qq --download-only "${WANT[@]}" >>"$TMP/fetch.log" 2>&1 ||
		fail "apt-get --download-only in the image failed: $(tail -n 5 "$TMP/fetch.log")"
fi
t_fetch=$((SECONDS - t_fetch))
# Each under a temporary name first: a test of another checkout may be
# copying them in at the same time.
for f in "$root"/var/cache/apt/archives/*.deb; do
	name=$(basename "$f")
	case $name in stubd_* | stubd-*) continue ;; esac
	[ -f "$ARCHIVES/$name" ] && continue
	cp "$f" "$ARCHIVES/.$name.$$" && mv "$ARCHIVES/.$name.$$" "$ARCHIVES/$name"
done

# Only the fake upstream is ever asked: by programs before the switch, and
# by stubd, which takes it from here as long as resolv.conf is not its own.
rm -f "$root/etc/resolv.conf"
printf 'nameserver 127.0.0.9\n' >"$root/etc/resolv.conf"
RESOLV_BEFORE=$(cat "$root/etc/resolv.conf")

ct_boot

# ---- helpers -------------------------------------------------------------------
# cr COMMAND...: COMMAND inside, as root's shell there would run it (none
# of this test's environment).
cr() { ct env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
	DEBIAN_FRONTEND=noninteractive "$@"; }
ct_fail() {
	cr journalctl -u stubd -u stubd.socket --no-pager -o short-monotonic >"$TMP/journal.log" 2>&1 || true
	fail "$@"
}
show() { cr systemctl show -p "$1" --value "${2:-stubd.service}"; }
active() { cr systemctl is-active -q "${1:-stubd.service}"; }
ask() { cr dig +short +tries=1 +time=3 @127.0.0.53 "$1" A 2>/dev/null | head -n 1; }
answers() { [ "$(ask "$1")" = "$2" ]; }
# stubd's own journal lines (not stubctl's, not systemd's about it), as
# JSON, one object a line.
stubd_json() { cr journalctl --sync && cr journalctl --no-pager -o json _SYSTEMD_UNIT=stubd.service _COMM=stubd; }
# priority_of REGEX: the PRIORITY of stubd's last journal line matching REGEX.
priority_of() {
	stubd_json | python3 -c '
import json, re, sys
found = ""
for line in sys.stdin:
    e = json.loads(line)
    m = e.get("MESSAGE")
    if isinstance(m, str) and re.search(sys.argv[1], m):
        found = e.get("PRIORITY", "none")
print(found)' "$1"
}
gone() { ! cr test -e "$1" -o -L "$1"; }
# apt inside fetches nothing: everything is in its archives already, and
# the mirror could only be reached through a proxy on a closed port of the
# container's own loopback. (Not --no-download: with it, apt cannot take
# a .deb file given on its command line.) No pty for dpkg: plain lines,
# without carriage returns.
APT_OPTS=(-o Acquire::http::Proxy=http://127.0.0.1:9/ -o Acquire::https::Proxy=http://127.0.0.1:9/
	-o Dpkg::Use-Pty=0)
stubd_procs() { cr sh -c 'grep -lx stubd /proc/[0-9]*/comm 2>/dev/null' || true; }

upstream_up() { [ "$(cr dig +short +tries=1 +time=2 @127.0.0.9 www.before.example A 2>/dev/null)" = 192.0.2.99 ]; }
wait_for 10 upstream_up || ct_fail "the fake upstream does not answer on 127.0.0.9"

# ---- install -------------------------------------------------------------------
t_install=$(now_ms)
rc=0
cr apt-get install -y "${APT_OPTS[@]}" "${WANT[@]}" >"$TMP/apt-install.log" 2>&1 || rc=$?
t_install=$(($(now_ms) - t_install))
[ "$rc" -eq 0 ] || ct_fail "apt-get install ./$(basename "$DEB") failed ($rc): $(tail -n 20 "$TMP/apt-install.log")"
check_eq "dpkg: stubd is installed" "install ok installed" "$(cr dpkg-query -W -f='${Status}' stubd)"
check_match "apt brought its dependencies (libldns3)" 'Setting up libldns3' "$(cat "$TMP/apt-install.log")"
check_match "the install says how to switch resolv.conf" '^ +stubd-switch enable$' "$(cat "$TMP/apt-install.log")"
check_eq "... and leaves it as it was" "$RESOLV_BEFORE" "$(cr cat /etc/resolv.conf)"
check "... a file still, not a link" cr test ! -L /etc/resolv.conf

check_match "user stubd: a system user with no login" '^stubd:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' \
	"$(cr getent passwd stubd)"
uid=$(cr id -u stubd)
gid=$(cr id -g stubd)
check "... below 1000" test "$uid" -lt 1000
for unit in stubd.socket stubd.service; do
	check_eq "$unit is enabled" enabled "$(cr systemctl is-enabled "$unit" 2>&1)"
done
wait_for 20 active || ct_fail "stubd.service is not active after the install: $(show ActiveState)"
check "stubd.socket is active" active stubd.socket
check "stubd.service is active" active
pid=$(show MainPID)
check_match "stubd runs as user stubd" "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid\$" "$(cr cat "/proc/$pid/status")"
check_match "... and group stubd" "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid\$" "$(cr cat "/proc/$pid/status")"
wait_for 10 answers www.pkg.example 192.0.2.99 ||
	ct_fail "stubd does not answer on 127.0.0.53: '$(ask www.pkg.example)'"
check "127.0.0.53 answers, from the fake upstream in resolv.conf" true
check_eq "/var/cache/stubd: stubd's, 0700" "stubd stubd 700" "$(cr stat -c '%U %G %a' /var/cache/stubd)"
check_eq "/run/stubd: stubd's, 0755" "stubd stubd 755" "$(cr stat -c '%U %G %a' /run/stubd)"

# ---- reload, and the journal ---------------------------------------------------
rc=0
out=$(cr systemctl reload stubd 2>&1) || rc=$?
check_eq "systemctl reload stubd succeeds${out:+ ($out)}" 0 "$rc"
check_eq "the same process" "$pid" "$(show MainPID)"
cr cp /etc/stubd/stubd.conf /root/stubd.conf.orig
cr sh -c 'echo "cache-size = banana" >>/etc/stubd/stubd.conf'
rc=0
cr systemctl reload stubd >/dev/null 2>&1 || rc=$?
check "a config stubd refuses fails the reload" test "$rc" -ne 0
check "... and stubd keeps serving" answers www.after-bad.example 192.0.2.99
cr mv /root/stubd.conf.orig /etc/stubd/stubd.conf
check "the config put back, reload succeeds" cr systemctl reload stubd
# Each line stubd sends the journal carries its own priority.
check_eq "journal: 'ready' is info (PRIORITY 6)" 6 "$(priority_of '^stubd .* ready: serving')"
check_eq "journal: 'configuration reloaded' is info (6)" 6 "$(priority_of '^configuration reloaded$')"
check_eq "journal: the refused config is an error (3)" 3 "$(priority_of '^reload failed, keeping the running configuration: .*banana')"
check_eq "journal: every line of stubd's has a PRIORITY" "" \
	"$(stubd_json | python3 -c 'import json, sys; [print(e.get("MESSAGE")) for e in map(json.loads, sys.stdin) if "PRIORITY" not in e]')"
warn=$(cr journalctl --no-pager -o cat -u stubd -p warning _COMM=stubd)
check_match "journalctl -p warning: the refused config" 'reload failed' "$warn"
check_no_match "... not the info lines" 'ready: serving|configuration reloaded' "$warn"

# ---- manuals, completion ---------------------------------------------------------
# man_text ARGS...: what man shows, overstrike taken out. 100 columns:
# a page read at 80, man-db's default, is also kept formatted in
# /var/cache/man, which would outlive the purge until man-db expires it.
man_text() { cr env MANWIDTH=100 man -P cat "$@" 2>&1 | sed 's/.\x08//g'; }
check_match "man stubd: its NAME line" '^ +stubd [^ ]+ caching DNS stub resolver$' "$(man_text stubd)"
check_match "man stubd.conf (5)" '^ +stubd\.conf [^ ]+ configuration file' "$(man_text 5 stubd.conf)"
check_match "man stubctl" '^ +stubctl, resolvconf [^ ]+ control' "$(man_text stubctl)"
check_match "man resolvconf: stubctl's page" '^ +stubctl, resolvconf [^ ]+ control' "$(man_text 8 resolvconf)"
check_match "man stubd-switch" '^ +stubd-switch [^ ]+ make stubd the system resolver' "$(man_text stubd-switch)"
check_match "whatis: man-db's index has them" '^stubd \(8\) +- caching DNS stub resolver' "$(cr whatis stubd 2>&1)"
# bash-completion loads a command's completion on first use; "complete
# -p" then names its function, which is run on a partial command line.
# complete_line LINE: what TAB offers at the end of LINE, one line, sorted.
complete_line() {
	local cmd=${1%% *}
	cr bash -c '. /usr/share/bash-completion/bash_completion
		__load_completion "$1" || exit 1
		func=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		COMP_LINE=$2 COMP_POINT=${#2}
		read -ra COMP_WORDS <<<"$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		"$func" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' bash "$cmd" "$1" 2>&1 | sort | paste -sd ' '
}
for c in stubctl stubd resolvconf; do
	check_match "bash: $c's completion loads" "^complete .*-F [^ ]+ $c\$" \
		"$(cr bash -c '. /usr/share/bash-completion/bash_completion; __load_completion "$1" && complete -p "$1"' bash "$c" 2>&1)"
done
check_match "bash: 'stubctl re<TAB>' offers reload" '(^| )reload( |$)' "$(complete_line 'stubctl re')"
check_eq "bash: 'stubctl dns ho<TAB>' offers the interface host0" host0 "$(complete_line 'stubctl dns ho')"
check_match "bash: 'stubd --ch<TAB>' offers --check-config" '(^| )--check-config( |$)' "$(complete_line 'stubd --ch')"
# resolvconf's is bash-completion's own (debian/rules), which fits stubd's.
# (It takes the names from "ip link": host0@ifN.)
check_match "bash: 'resolvconf -a ho<TAB>' offers host0" '^host0' "$(complete_line 'resolvconf -a ho')"
# ---- resolvconf ----------------------------------------------------------------
check_eq "dpkg: /usr/sbin/resolvconf is stubd's" "stubd: /usr/sbin/resolvconf" "$(cr dpkg -S /usr/sbin/resolvconf)"
check_match "resolvconf is stubd's resolvconf" '^resolvconf \(stubd\) ' "$(cr resolvconf --version 2>&1)"
# As wg-quick would: DNS settings for an interface (host0, the veth).
printf 'nameserver 127.0.0.9\nsearch pkg.test\n' | cr resolvconf -a host0.pkgtest ||
	ct_fail "resolvconf -a host0.pkgtest failed"
check_match "stubd took them for host0" 'pkg\.test' "$(cr stubctl status 2>&1)"
for other in openresolv systemd-resolved; do
	check_match "apt: installing $other would remove stubd" '^Remv stubd ' \
		"$(cr apt-get install -s "$other" 2>&1)"
done

# ---- stubd-switch ----------------------------------------------------------------
out=$(cr stubd-switch enable 2>&1) || ct_fail "stubd-switch enable failed: $out"
check_eq "stubd-switch enable: resolv.conf links to stubd's" /run/stubd/resolv.conf "$(cr readlink /etc/resolv.conf)"
check_eq "... the old one kept" "$RESOLV_BEFORE" "$(cr cat /etc/resolv.conf.stubd-backup)"
cr systemctl reload stubd || ct_fail "reload after stubd-switch enable failed"
# gethostbyname(), as any program: libc reads resolv.conf. (Not getent
# ahostsv4: its AI_ADDRCONFIG asks for no A record where no interface but
# lo has an IPv4 address, as here.)
check_eq "a program's lookup (libc, resolv.conf) goes to stubd, and on to the fake upstream" 192.0.2.99 \
	"$(cr python3 -c 'import socket; print(socket.gethostbyname("www.switched.example"))' 2>&1)"

# ---- the cache, saved on stop -------------------------------------------------------
cr systemctl stop stubd 2>/dev/null || ct_fail "systemctl stop stubd failed"
check "stop saves the cache: /var/cache/stubd/cache" cr test -s /var/cache/stubd/cache
check_eq "... stubd's" stubd "$(cr stat -c %U /var/cache/stubd/cache)"
check_eq "a query on stubd.socket starts it again" 192.0.2.99 \
	"$(cr dig +short +tries=1 +time=15 @127.0.0.53 again.pkg.example A 2>&1 || true)"

# ---- upgrade: the same package again -------------------------------------------------
pid=$(show MainPID)
rc=0
cr apt-get install -y "${APT_OPTS[@]}" --reinstall "$PKG" >"$TMP/apt-reinstall.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || ct_fail "apt-get install --reinstall failed ($rc): $(tail -n 20 "$TMP/apt-reinstall.log")"
wait_for 20 active || ct_fail "stubd.service is not active after the reinstall"
new_pid() { local p; p=$(show MainPID); [ "$p" != 0 ] && [ "$p" != "$pid" ]; }
check "the reinstall restarted stubd" wait_for 10 new_pid
check "... which answers" wait_for 10 answers www.upgraded.example 192.0.2.99
check_no_match "... and said nothing of switching this time" 'stubd-switch enable' "$(cat "$TMP/apt-reinstall.log")"
check_eq "resolv.conf still links to stubd's" /run/stubd/resolv.conf "$(cr readlink /etc/resolv.conf)"

# ---- purge ---------------------------------------------------------------------
cr rm -f "$PKG"
rc=0
cr apt-get purge -y "${APT_OPTS[@]}" stubd >"$TMP/apt-purge.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || ct_fail "apt-get purge stubd failed ($rc): $(tail -n 20 "$TMP/apt-purge.log")"
check_eq "dpkg: stubd is gone, config and all" "" "$(cr dpkg-query -W -f='${Status}' stubd 2>/dev/null || true)"
check_eq "resolv.conf is the one from before the switch" "$RESOLV_BEFORE" "$(cr cat /etc/resolv.conf)"
check "... a file again" cr test ! -L /etc/resolv.conf
check "... and the backup is gone" gone /etc/resolv.conf.stubd-backup
check_eq "no stubd process" "" "$(stubd_procs)"
check_eq "systemd knows no stubd unit file" "" "$(cr systemctl list-unit-files --no-legend 'stubd*' 2>&1)"
for f in /etc/stubd /var/cache/stubd /run/stubd /usr/sbin/resolvconf /usr/sbin/stubd-switch \
	/etc/dhcp/dhclient-enter-hooks.d/stubd /usr/share/bash-completion/completions/stubctl; do
	check "$f is gone" gone "$f"
done
# Nothing named after stubd anywhere (the root, /run, /tmp), and no file
# owned by its user or group. (/.stubd-image-complete is the test image's
# stamp, tools/container-image's.)
left=$(cr find / /run /tmp -xdev \( -name '*stubd*' -o -user stubd -o -group stubd \) \
	! -path /.stubd-image-complete -print 2>/dev/null |
	sort -u | head -n 20)
check_eq "no file named after stubd or owned by it is left" "" "$left"
check_match "the user stubd stays, as Debian's system users do" '^stubd:' "$(cr getent passwd stubd)"

echo "[$TEST_NAME] image copy ${t_copy} s, dependencies fetched in ${t_fetch} s, boot ${t_boot} s," \
	"apt-get install ${t_install} ms; ${SECONDS} s in all"
ct_poweroff
pass
