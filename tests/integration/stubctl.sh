# stubctl against a running stubd: every command of SPEC.md, provenance in
# query, the permission check for commands that change things, concurrent
# clients, bad requests on the control socket, and the daemon going away.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

fakeup_start UP
printf '192.0.2.77 box.test\n' >"$TMP/hosts"
# control-group: a group every Debian has, for the member's check below.
stubd_conf "control-group = adm"
# The socket in the runtime directory, as /run/stubd/control.sock is:
# started as root, stubd hands that directory to the user it runs as, so
# it can still remove the socket when it stops.
SOCK="$RUNTIME_DIRECTORY/control.sock"
stubd_start -c "$TMP/stubd.conf" -u "$UP" --hosts "$TMP/hosts" -s "$SOCK"
ctl() { "$STUBCTL" -s "$SOCK" "$@"; }
json_ok() { command -v python3 >/dev/null || return 0; python3 -c 'import json,sys; json.load(sys.stdin)'; }

# --- status ---
out=$(ctl status)
check_match "status shows the version" 'Version: +[0-9]+\.[0-9]+' "$out"
check_match "status shows the listener" "Listening: +$STUBD_ADDR:$STUBD_PORT" "$out"
check_match "status shows the upstream as up" "$UP +up" "$out"
check_match "status shows the cache capacity" 'Capacity: +10000' "$out"
check "status --json is JSON" json_ok <<<"$(ctl --json status)"
check_match "status --json has the pid" "\"pid\": $STUBD_PID" "$(ctl --json status)"

# --- query: upstream, then cache with its age, hosts, reverse ---
out=$(ctl query www.example.test)
check_match "query: A record" 'www\.example\.test\. +300 +A +192\.0\.2\.1' "$out"
check_match "query: AAAA record by default too" 'AAAA +2001:db8::1' "$out"
check_match "query: says which upstream" "A: from upstream $UP" "$out"
sleep 1.1
out=$(ctl query www.example.test -t A)
check_match "query: second time from the cache, with its age" 'A: from cache, [1-9][0-9]* s old' "$out"
check_no_match "query -t A asks only A" 'AAAA' "$out"
out=$(ctl query www.example.test -t A --no-cache)
check_match "query --no-cache skips the cache" "A: from upstream $UP" "$out"
check_match "query: hosts file named" 'A: from hosts file' "$(ctl query box.test -t A)"
check_match "query: IP address does the reverse lookup" 'PTR +localhost\.' "$(ctl query 127.0.0.1)"
check_match "query -t MX" 'MX' "$(ctl query www.example.test -t MX 2>&1 || true)"
check "query --json is JSON" json_ok <<<"$(ctl --json query www.example.test)"
check_match "query --json gives the source" '"source": "cache"' "$(ctl --json query www.example.test -t A)"
check_match "query --json: stale is a boolean" '"stale": false' "$(ctl --json query www.example.test -t A)"

set +e
err=$(ctl query nx.example.test 2>&1); rc=$?
check_eq "NXDOMAIN exits 1" 1 "$rc"
check_match "NXDOMAIN said plainly" 'NXDOMAIN' "$err"
err=$(ctl query www.example.test -t TXT 2>&1); rc=$?
check_eq "NODATA exits 1" 1 "$rc"
check_match "NODATA said plainly" 'NODATA' "$err"
err=$(ctl query servfail.example.test 2>&1); rc=$?
check_eq "SERVFAIL exits 1" 1 "$rc"
check_match "SERVFAIL said plainly" 'SERVFAIL' "$err"
err=$(ctl query www.example.test -t NOSUCHTYPE 2>&1); rc=$?
check_eq "unknown type is a usage error" 2 "$rc"
set -e

# --- flush-cache ---
before=$(count_log UP 'www\.example\.test\. A ')
out=$(ctl flush-cache www.example.test)
check_match "flush-cache NAME counts what went" 'Flushed [1-9][0-9]* cache entr' "$out"
q +short www.example.test A >/dev/null
check_eq "flushed name asked upstream again" $((before + 1)) "$(count_log UP 'www\.example\.test\. A ')"
q +short a.zone.test >/dev/null; q +short b.zone.test >/dev/null; q +short keep.test >/dev/null
check_match "flush-cache --zone" 'Flushed 2 cache entries' "$(ctl flush-cache zone.test --zone)"
check_match "the rest stays" 'keep\.test' "$(ctl dump-cache)"
check_match "flush-cache --json" '"flushed": [0-9]+' "$(ctl --json flush-cache)"
check_match "flush-cache with no name empties the cache" 'Entries: +0' "$(ctl status)"

# --- statistics, reset-statistics, dump-cache ---
q +short stats.example.test >/dev/null
q +tcp +short stats.example.test >/dev/null
out=$(ctl statistics)
check_match "statistics: queries by transport" 'UDP: +[1-9]' "$out"
check_match "statistics: TCP counted" 'TCP: +[1-9]' "$out"
check_match "statistics: answers by source" 'upstream: +[1-9]' "$out"
check_match "statistics: latency histogram" '< 1 ms: +[0-9]+' "$out"
check "statistics --json is JSON" json_ok <<<"$(ctl --json statistics)"
check_match "dump-cache lists a cached name" 'stats\.example\.test\. +A +[0-9]+' "$(ctl dump-cache)"
check_match "reset-statistics" 'reset' "$(ctl reset-statistics)"
check_match "counters are zero after reset" 'UDP: +0' "$(ctl statistics)"

# --- reload ---
printf '192.0.2.78 box.test\n' >"$TMP/hosts"
touch -d '2000-01-01' "$TMP/hosts"   # so only the reload can notice
check_match "reload" 'reloaded' "$(ctl reload)"
check_eq "reload took the new hosts file" "192.0.2.78" "$(q +short box.test)"

# --- permissions: a user outside the control group may read, not change ---
if command -v setpriv >/dev/null; then
	chmod 755 "$TMP"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$STUBCTL" -s "$SOCK" "$@"; }
	set +e
	as_nobody status >/dev/null; rc=$?
	check_eq "an unprivileged user may read status" 0 "$rc"
	err=$(as_nobody flush-cache 2>&1); rc=$?
	check_eq "an unprivileged user may not flush" 1 "$rc"
	check_match "and is told why" 'permission denied.*root.*group' "$err"
	err=$(as_nobody reload 2>&1); rc=$?
	check_eq "nor reload" 1 "$rc"
	# Every name the machine looked up is not for every local user.
	ctl query www.example.test -t A >/dev/null
	err=$(as_nobody dump-cache 2>&1); rc=$?
	check_eq "nor dump the cache" 1 "$rc"
	check_no_match "and sees no names" 'www\.example' "$err"
	# A supplementary group counts, read from the socket (SO_PEERGROUPS).
	as_member() { setpriv --reuid=65534 --regid=65534 --groups="$(getent group adm | cut -d: -f3)" \
		"$STUBCTL" -s "$SOCK" "$@"; }
	out=$(as_member dump-cache 2>&1); rc=$?
	check_eq "a member of control-group may dump the cache" 0 "$rc"
	check_match "and sees the names" 'www\.example' "$out"
	out=$(as_member flush-cache 2>&1); rc=$?
	check_eq "and may flush it" 0 "$rc"
	check_match "which it did" 'Flushed [0-9]+ cache entr' "$out"
	# A caller gone before its request is read is judged by what it was
	# at connect, not by whatever holds its PID by then: still refused.
	ctl query www.example.test -t A >/dev/null
	entries=$(ctl --json status | sed -n 's/.*"entries": *\([0-9]*\).*/\1/p' | head -n 1)
	check_match "the cache holds entries" '^[1-9][0-9]*$' "$entries"
	setpriv --reuid=65534 --regid=65534 --clear-groups perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
		print $s "STUBCTL1 text flush-cache\n"; exit 0;' "$SOCK"
	wait_for 5 grep -q 'control: flush-cache refused for uid 65534' "$TMP/stubd.log" ||
		fail "the request of the caller that left was not judged"
	check_eq "a caller that left is refused: nothing flushed" "$entries" \
		"$(ctl --json status | sed -n 's/.*"entries": *\([0-9]*\).*/\1/p' | head -n 1)"
	set -e
fi

# --- many clients at once ---
for i in $(seq 1 20); do ctl status >"$TMP/par.$i" 2>&1 & done
wait_for 10 bash -c "[ \$(grep -l 'Capacity' $TMP/par.* | wc -l) -eq 20 ]" || fail "not every concurrent client got an answer"
CHECKS=$((CHECKS + 1))

# --- bad requests on the socket: answered or closed, service goes on ---
raw() { perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
	print $s $ARGV[1]; shutdown($s, 1); local $/; my $r = <$s>; print $r // "";' "$SOCK" "$1"; }
check_match "garbage request answered" 'STUBCTL1 2' "$(raw $'hello\n')"
check_match "unknown command" 'unknown command' "$(raw $'STUBCTL1 text frobnicate\n')"
check_match "oversized request refused" 'STUBCTL1 2' "$(raw "$(head -c 10000 /dev/zero | tr '\0' a)")"
check_match "request without newline" 'STUBCTL1 2' "$(raw 'STUBCTL1 text status')"
check_match "still serving after bad requests" 'Capacity' "$(ctl status)"
check "DNS still answered" test -n "$(q +short after.example.test)"

# --- the daemon goes away ---
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" 2>/dev/null || true
check "socket removed on shutdown" test ! -e "$SOCK"
set +e
err=$(ctl status 2>&1); rc=$?
set -e
check_eq "daemon down: exit 3" 3 "$rc"
check_match "daemon down: names the socket" "$SOCK" "$err"
pass
