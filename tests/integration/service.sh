# stubd as a service: the sd_notify protocol (READY, STATUS, RELOADING,
# STOPPING, WATCHDOG, in order) through a test NOTIFY_SOCKET; socket
# activation through systemd-socket-activate, for UDP, TCP and the control
# socket; and the privilege drop, checked in /proc/PID/status.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

fakeup_start UP

# --- sd_notify ---------------------------------------------------------------
notify_sock="$TMP/notify.sock"
perl -MIO::Socket::UNIX -MSocket -e '
	$| = 1;
	my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $ARGV[0]) or die "notify: $!";
	open(my $out, ">>", $ARGV[1]) or die;
	$out->autoflush(1);
	while (defined $s->recv(my $msg, 4096)) { $msg =~ s/\n/|/g; print $out "$msg\n"; }' \
	"$notify_sock" "$TMP/notify.log" &
PIDS+=($!)
wait_for 5 test -S "$notify_sock" || fail "notify listener did not start"
# stubd started as root runs as its user, or nobody: it must reach the socket.
chmod 666 "$notify_sock"

NOTIFY_SOCKET="$notify_sock" WATCHDOG_USEC=400000 stubd_start -u "$UP"
check "READY=1 sent" wait_for 3 grep -q '^READY=1' "$TMP/notify.log"
check_match "STATUS says where it serves" "STATUS=Serving on $STUBD_ADDR:$STUBD_PORT, [0-9]+ answers cached" "$(cat "$TMP/notify.log")"
check "WATCHDOG=1 pings at half the interval" wait_for 3 bash -c "[ \$(grep -c '^WATCHDOG=1' $TMP/notify.log) -ge 3 ]"
kill -HUP "$STUBD_PID"
check "RELOADING=1 on SIGHUP" wait_for 3 grep -q '^RELOADING=1|MONOTONIC_USEC=[0-9]' "$TMP/notify.log"
check "READY=1 again after the reload" wait_for 3 bash -c \
	"grep -v WATCHDOG $TMP/notify.log | grep -A1 '^RELOADING=1' | tail -n 1 | grep -q '^READY=1'"
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" || true
check "STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$TMP/notify.log"
order=$(grep -v WATCHDOG "$TMP/notify.log" | cut -d= -f1 | uniq | tr '\n' ' ')
check_eq "READY, RELOADING, READY, STOPPING in order" "READY RELOADING READY STOPPING " "$order"

# --- socket activation -----------------------------------------------------
act_addr=$(rand_addr); act_port=$(rand_port); own=$(rand_addr):$(rand_port)
systemd-socket-activate -l "$act_addr:$act_port" -l "$TMP/act-control.sock" \
	"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
	-l "$own" -s "$TMP/unused.sock" >"$TMP/act.log" 2>&1 &
act_pid=$!
PIDS+=($act_pid)
# systemd-socket-activate starts stubd when the first client connects,
# as systemd does; that client must be answered by it.
wait_for 5 grep -qs "Listening on $act_addr" "$TMP/act.log" || fail "systemd-socket-activate did not start"
check_eq "TCP answer on the activated socket" "192.0.2.1" \
	"$(dig @"$act_addr" -p "$act_port" +tcp +short +tries=1 +time=5 act.example.test)"
wait_for 5 grep -qs 'ready: serving' "$TMP/act.log" || fail "activated stubd did not start: $(cat "$TMP/act.log")"
check_match "activation logged" 'socket activation: 0 UDP, 1 TCP, control socket' "$(cat "$TMP/act.log")"
check_match "control on the activated socket" 'Capacity' "$("$STUBCTL" -s "$TMP/act-control.sock" status)"
check "its own listen address was not bound" test -z "$(ss -Hlnut | grep -F "$own" || true)"
check "its own control socket was not made" test ! -e "$TMP/unused.sock"
kill -TERM "$act_pid"; wait "$act_pid" || true
check "activated control socket left to systemd" test -S "$TMP/act-control.sock"

udp_addr=$(rand_addr); udp_port=$(rand_port)
systemd-socket-activate --datagram -l "$udp_addr:$udp_port" \
	"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
	-s "$TMP/udp-control.sock" >"$TMP/act-udp.log" 2>&1 &
act_pid=$!
PIDS+=($act_pid)
wait_for 5 grep -qs "Listening on $udp_addr" "$TMP/act-udp.log" || fail "systemd-socket-activate did not start"
check_eq "UDP answer on the activated socket (the first datagram starts stubd)" "192.0.2.1" \
	"$(dig @"$udp_addr" -p "$udp_port" +short +tries=1 +time=5 udp.example.test)"
check_match "activation logged" 'socket activation: 1 UDP, 0 TCP' "$(cat "$TMP/act-udp.log")"
kill -TERM "$act_pid"; wait "$act_pid" || true

# With activation, resolv.conf's nameservers that are the passed sockets'
# addresses are left out too: no forwarding loop however the socket unit
# is set up.
loop_addr=$(rand_addr)
printf 'nameserver %s\n' "$loop_addr" >"$TMP/loop-resolv.conf"
systemd-socket-activate -l "$loop_addr:53" \
	"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/loop-resolv.conf" --hosts none \
	-s "$TMP/loop-control.sock" >"$TMP/act-loop.log" 2>&1 &
act_pid=$!
PIDS+=($act_pid)
wait_for 5 grep -qs "Listening on $loop_addr" "$TMP/act-loop.log" || fail "systemd-socket-activate did not start"
out=$(dig @"$loop_addr" +tcp +tries=1 +time=5 loop.example.test)
check_match "no upstream left: SERVFAIL, not a loop" 'status: SERVFAIL' "$out"
check_match "the passed socket's address left out of the upstreams" \
	"leaving out nameserver $loop_addr:53: stubd serves on it" "$(cat "$TMP/act-loop.log")"
kill -TERM "$act_pid"; wait "$act_pid" || true

# --- privilege drop ------------------------------------------------------------
# ids_of PID: the Uid, Gid and Groups lines of every thread, values only.
ids_of() { grep -hE '^(Uid|Gid|Groups):' /proc/"$1"/task/*/status | sort -u; }
# caps_left PID SETS: the lines of every thread for the capability SETS
# (e.g. 'Eff|Prm') that are not empty.
caps_left() { grep -hE "^Cap($2):" /proc/"$1"/task/*/status | grep -vE ':[[:space:]]+0+$' || true; }
# check_runs_as WHAT PID UID GID [GROUPS]: every thread has UID (real,
# effective, saved, fs), GID likewise, GROUPS (default: GID alone) as its
# supplementary groups, and no capability.
check_runs_as() {
	local what=$1 pid=$2 uid=$3 gid=$4 groups=${5-$4} ids
	ids=$(ids_of "$pid")
	check_match "$what: real, effective, saved and fs uid of every thread" \
		"^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid$" "$ids"
	check_match "$what: the same for the gids" \
		"^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid$" "$ids"
	check_match "$what: supplementary groups '$groups'" "^Groups:[[:space:]]*$groups[[:space:]]*$" "$ids"
	check_eq "$what: one uid line for all threads" 1 "$(grep -c '^Uid:' <<<"$ids")"
	check_eq "$what: CapEff, CapPrm and CapAmb are 0 in every thread" "" "$(caps_left "$pid" 'Eff|Prm|Amb')"
}
# check_no_bounding WHAT PID: nor can one come back (a set-user-ID or
# file-capability program): the bounding set is empty too. Only a stubd
# started as root can empty it.
check_no_bounding() { check_eq "$1: CapBnd is 0 in every thread" "" "$(caps_left "$2" Bnd)"; }
# threads PID: how many threads the process has.
threads() { ls /proc/"$1"/task | wc -l; }

if [ "$(id -u)" -eq 0 ]; then
	nobody=$(id -u nobody)
	nogroup=$(getent group nogroup | cut -d: -f3 || true)
	nogroup=${nogroup:-$(id -g nobody)}

	# Its own user: a system user that exists (daemon, or nobody where
	# there is none), with two workers, whose threads start after the drop.
	own=daemon
	getent passwd "$own" >/dev/null || own=nobody
	printf 'user = %s\nworkers = 2\n' "$own" >"$TMP/drop.conf"
	chmod 644 "$TMP/drop.conf"
	chown root "$RUNTIME_DIRECTORY" # the stubd above, as nobody, was given it
	stubd_start -u "$UP" -c "$TMP/drop.conf"
	check "two workers, so two threads at least" [ "$(threads "$STUBD_PID")" -ge 2 ]
	check_runs_as "user = $own" "$STUBD_PID" "$(id -u "$own")" "$(id -g "$own")"
	check_no_bounding "user = $own" "$STUBD_PID"
	check_match "logged" "running as user $own \\(uid $(id -u "$own"), gid $(id -g "$own")\\), with no capabilities" \
		"$(cat "$TMP/stubd.log")"
	check_no_match "no warning about the user" 'to run as' "$(grep warning "$TMP/stubd.log")"
	check_eq "still serving after the drop" "192.0.2.1" "$(q +short priv.example.test)"
	check "its runtime directory is given to it" \
		[ "$(stat -c %U "$RUNTIME_DIRECTORY")" = "$own" ]
	kill -HUP "$STUBD_PID"
	check "reload works as $own" wait_for 3 grep -q 'configuration reloaded' "$TMP/stubd.log"
	if [ "$own" != nobody ] && command -v setpriv >/dev/null; then
		check_match "a process of its own user may reload it (access.h)" 'reloaded' \
			"$(setpriv --reuid="$own" --regid="$(id -g "$own")" --clear-groups \
				"$STUBCTL" -s "$TMP/control.sock" reload 2>&1 || true)"
	fi
	stubd_stop

	# A user that does not exist: nobody, never root, and the log says how
	# to do better.
	printf 'user = no-such-user-here\nworkers = 2\n' >"$TMP/baduser.conf"
	chmod 644 "$TMP/baduser.conf"
	chown root "$RUNTIME_DIRECTORY"
	stubd_start -u "$UP" -c "$TMP/baduser.conf"
	check_runs_as "unknown user" "$STUBD_PID" "$nobody" "$nogroup"
	check_no_bounding "unknown user" "$STUBD_PID"
	check_match "a warning: which user is missing, that it runs as nobody, how to create the user" \
		"\\[warning\\]: there is no user 'no-such-user-here' to run as: running as nobody \\(group nogroup\\) instead.*useradd --system --no-create-home no-such-user-here" \
		"$(cat "$TMP/stubd.log")"
	check_eq "serving as nobody" "192.0.2.1" "$(q +short nobody.example.test)"
	check "its runtime directory is nobody's" [ "$(stat -c %u "$RUNTIME_DIRECTORY")" = "$nobody" ]
	# nobody is not stubd's own user here, only a stand-in other programs
	# share: its processes get no say (an own user's would, access.h).
	if command -v setpriv >/dev/null; then
		rc=0
		err=$(setpriv --reuid="$nobody" --regid="$nogroup" --clear-groups \
			"$STUBCTL" -s "$TMP/control.sock" reload 2>&1) || rc=$?
		check_eq "a process of nobody's may not reload the fallback's stubd" 1 "$rc"
		check_match "and is told why" 'permission denied' "$err"
	fi
	stubd_stop

	# The default user, stubd, where it is not created: nobody too, and
	# systemd-sysusers is named (it creates stubd from the shipped entry).
	if ! getent passwd stubd >/dev/null; then
		stubd_start -u "$UP"
		check_runs_as "no user stubd" "$STUBD_PID" "$nobody" "$nogroup"
		check_no_bounding "no user stubd" "$STUBD_PID"
		check_match "no stubd user: warns it runs as nobody, says how to fix" \
			"there is no user 'stubd' to run as: running as nobody .*systemd-sysusers, or useradd --system --no-create-home stubd" \
			"$(cat "$TMP/stubd.log")"
		stubd_stop
	fi

	# Only user = root keeps root, and says so.
	printf 'user = root\n' >"$TMP/root.conf"
	stubd_start -u "$UP" -c "$TMP/root.conf"
	check_match "user = root: still uid 0" '^Uid:[[:space:]]+0[[:space:]]+0[[:space:]]' "$(ids_of "$STUBD_PID")"
	check_match "user = root: logged at info" "\\[info\\]: running as root, as 'user = root' in the config asks" \
		"$(cat "$TMP/stubd.log")"
	stubd_stop

	# Not even nobody (a private mount namespace hides it from this one
	# command; the host's files are untouched): exit 1, never root.
	grep -v '^nobody:' /etc/passwd >"$TMP/passwd"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$TMP/nsswitch.conf"
	set +e
	unshare --mount bash -c '
		mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/nsswitch.conf &&
		exec "${@:3}"' _ "$TMP/passwd" "$TMP/nsswitch.conf" \
		"$STUBD" -f -c "$TMP/baduser.conf" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
		-l "$(rand_addr):$(rand_port)" -s "$TMP/bad.sock" 2>"$TMP/nonobody.err"
	rc=$?
	set -e
	check_eq "no user and no nobody: a runtime error" 1 "$rc"
	check_match "and says what to do" \
		"no user 'no-such-user-here' to run as, nor user 'nobody'.*useradd --system --no-create-home no-such-user-here.*user = root" \
		"$(cat "$TMP/nonobody.err")"

	# Socket activation, started as root: nothing to bind, and the same drop.
	act_addr=$(rand_addr); act_port=$(rand_port)
	systemd-socket-activate --datagram -l "$act_addr:$act_port" \
		"$STUBD" -f -v -c "$TMP/baduser.conf" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
		-s "$TMP/act-drop.sock" >"$TMP/act-drop.log" 2>&1 &
	act_pid=$!
	PIDS+=($act_pid)
	wait_for 5 grep -qs "Listening on $act_addr" "$TMP/act-drop.log" || fail "systemd-socket-activate did not start"
	check_eq "activated, as root: answers" "192.0.2.1" \
		"$(dig @"$act_addr" -p "$act_port" +short +tries=1 +time=5 act-drop.example.test)"
	wait_for 5 grep -qs 'ready: serving' "$TMP/act-drop.log" || fail "activated stubd did not start"
	check_runs_as "activated" "$act_pid" "$nobody" "$nogroup"
	check_no_bounding "activated" "$act_pid"
	kill -TERM "$act_pid"; wait "$act_pid" || true

	# Started as a user with CAP_NET_BIND_SERVICE handed over (as systemd's
	# AmbientCapabilities= or setcap do): it binds port 53, then gives the
	# capability up, and a failure to would not stop it.
	if command -v setpriv >/dev/null; then
		mkdir -p "$TMP/nobody-run"
		chown nobody "$TMP/nobody-run"
		low=$(rand_addr)
		RUNTIME_DIRECTORY="$TMP/nobody-run" setpriv --reuid=nobody --regid="$nogroup" --clear-groups \
			--inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
			"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
			-l "$low:53" -s "$TMP/nobody-run/control.sock" >"$TMP/ambient.log" 2>&1 &
		amb_pid=$!
		PIDS+=($amb_pid)
		wait_for 5 grep -qs 'ready: serving' "$TMP/ambient.log" ||
			fail "stubd with CAP_NET_BIND_SERVICE did not start: $(cat "$TMP/ambient.log")"
		check_eq "not root, port 53 bound with the capability" "192.0.2.1" \
			"$(dig @"$low" +short +tries=1 +time=3 low.example.test)"
		check_runs_as "not root" "$amb_pid" "$nobody" "$nogroup" "" # setpriv --clear-groups
		check_match "gave the capability up, said so" 'gave up the capabilities it was started with' \
			"$(cat "$TMP/ambient.log")"
		kill -TERM "$amb_pid"; wait "$amb_pid" || true
	fi
fi
pass
