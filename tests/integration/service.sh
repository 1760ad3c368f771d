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
if [ "$(id -u)" -eq 0 ]; then
	printf 'user = nobody\n' >"$TMP/drop.conf"
	chmod 755 "$TMP"; chmod 644 "$TMP/drop.conf" "$TMP/empty"
	stubd_start -u "$UP" -c "$TMP/drop.conf"
	status=$(cat "/proc/$STUBD_PID/status")
	nobody=$(id -u nobody)
	check_match "real, effective, saved and fs uid are nobody's" "Uid:[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody" "$status"
	check_match "gids too" "Gid:[[:space:]]+$(id -g nobody)[[:space:]]+$(id -g nobody)" "$status"
	check_match "no capabilities left" 'CapEff:[[:space:]]+0+$' "$status"
	check_match "logged" 'running as user nobody' "$(cat "$TMP/stubd.log")"
	check_eq "still serving after the drop" "192.0.2.1" "$(q +short priv.example.test)"
	kill -HUP "$STUBD_PID"
	check "reload works as nobody" wait_for 3 grep -q 'configuration reloaded' "$TMP/stubd.log"
	kill -TERM "$STUBD_PID"; wait "$STUBD_PID" || true

	printf 'user = no-such-user-here\n' >"$TMP/baduser.conf"
	set +e
	"$STUBD" -f -c "$TMP/baduser.conf" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
		-l "$(rand_addr):$(rand_port)" -s "$TMP/bad.sock" 2>"$TMP/baduser.err"
	rc=$?
	set -e
	check_eq "an unknown user is a runtime error" 1 "$rc"
	check_match "and says so" "no-such-user-here.*no such user" "$(cat "$TMP/baduser.err")"

	if ! getent passwd stubd >/dev/null; then
		stubd_start -u "$UP"
		check_match "no stubd user: warns it stays root, says how to fix" \
			'running as root: there is no user .stubd.*useradd' "$(cat "$TMP/stubd.log")"
	fi
fi
pass
