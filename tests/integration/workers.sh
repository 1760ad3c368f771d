# workers = N: one event loop per thread, each with its own SO_REUSEPORT
# sockets, all sharing one cache. Checks that every worker serves, that an
# answer one worker stored is a hit for the others, that reload,
# flush-cache and reset-statistics reach every worker, that "auto" follows
# the CPU affinity, and that stubd stops cleanly with its threads.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

fakeup_start UP
stubd_start -u "$UP" --workers 2
SOCK="$TMP/control.sock"
ctl() { "$STUBCTL" -s "$SOCK" "$@"; }

check_match "status shows two workers" 'Workers: +2' "$(ctl status)"
check_no_match "a number of workers are not pinned to CPUs" 'Worker CPUs' "$(ctl status)"
check_match "the log says two workers" '2 worker\(s\)' "$(cat "$TMP/stubd.log")"
# Each worker binds its own sockets on the one address.
udp_socks=$(ss -Hulnp "src $STUBD_ADDR:$STUBD_PORT" | grep -c "pid=$STUBD_PID," || true)
tcp_socks=$(ss -Htlnp "src $STUBD_ADDR:$STUBD_PORT" | grep -c "pid=$STUBD_PID," || true)
check_eq "one UDP socket per worker" 2 "$udp_socks"
check_eq "one TCP socket per worker" 2 "$tcp_socks"

# SO_REUSEPORT would let a second stubd of the same user join the group
# and take a share of the queries: it must fail as with one worker.
for second in 2 1; do
	second_out=$(timeout 5 "$STUBD" -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none \
		-s "$TMP/second.sock" -l "$STUBD_ADDR:$STUBD_PORT" -u "$UP" --workers "$second" 2>&1 &&
		echo "exit 0" || echo "exit $?")
	check_match "a second stubd ($second worker(s)) on the same address exits 1" 'exit 1$' "$second_out"
	check_match "a second stubd ($second worker(s)) says the address is in use" \
		"cannot listen on $STUBD_ADDR:$STUBD_PORT \(udp\): Address already in use" "$second_out"
done
check "the first stubd is unharmed" stubd_alive

# dig takes a new source port each time, and the kernel spreads source
# ports over the workers' sockets: 40 lookups of one name reach both
# workers, yet the upstream is asked once, as the cache is shared.
for i in $(seq 40); do
	q +short shared.example.test A >>"$TMP/answers"
done
check_eq "every lookup answered" 40 "$(grep -c '^192\.0\.2\.1$' "$TMP/answers")"
check_eq "the upstream was asked once for the shared name" 1 \
	"$(count_log UP 'shared\.example\.test\. A ')"
stats=$(ctl --json statistics)
w0=$(sed -n 's/.*"0": \([0-9]*\).*/\1/p' <<<"$stats" | head -1)
w1=$(sed -n 's/.*"1": \([0-9]*\).*/\1/p' <<<"$stats" | head -1)
check "worker 0 answered some lookups ($w0)" test "${w0:-0}" -gt 0
check "worker 1 answered some lookups ($w1)" test "${w1:-0}" -gt 0
check_eq "the workers' counts add up to the queries" 40 $((w0 + w1))
check_match "the cache hits are counted across workers" '"hits": 39' "$stats"

# Different names from many ports, over UDP and TCP: all answered.
ok=0
for i in $(seq 20); do
	[ "$(q +short "n$i.example.test" A)" = 192.0.2.1 ] && ok=$((ok + 1))
	[ "$(q +tcp +short "t$i.example.test" A)" = 192.0.2.1 ] && ok=$((ok + 1))
done
check_eq "40 different names answered over UDP and TCP" 40 "$ok"

# flush-cache empties the one cache: the next lookup goes upstream again.
ctl flush-cache shared.example.test >/dev/null
for i in $(seq 10); do q +short shared.example.test A >/dev/null; done
check_eq "after flush-cache the upstream is asked again, once" 2 \
	"$(count_log UP 'shared\.example\.test\. A ')"

# reset-statistics reaches every worker.
ctl reset-statistics >/dev/null
stats=$(ctl --json statistics)
check_match "reset-statistics zeroes worker 0" '"0": 0' "$stats"
check_match "reset-statistics zeroes worker 1" '"1": 0' "$stats"

# A reload hands the new upstream to every worker.
fakeup_start OLD
printf 'upstream = %s\nworkers = 2\n' "$OLD" >"$TMP/stubd.conf"
stubd_stop
stubd_start -c "$TMP/stubd.conf"
printf 'upstream = %s\nworkers = 2\n' "$UP" >"$TMP/stubd.conf"
ctl reload >/dev/null
for i in $(seq 20); do q +short "after$i.example.test" A >/dev/null; done
check_eq "after reload every worker asks the new upstream" 20 "$(count_log UP 'after[0-9]*\.example\.test\. A ')"
check_eq "and none asks the old one" 0 "$(count_log OLD 'after[0-9]*\.example\.test\. A ')"

# Floods on every worker while the control socket reloads, flushes and
# gathers statistics from them: nothing breaks, every answer still right.
bg=()
for k in 1 2 3 4; do
	"$DNSQ" "$STUBD_ADDR:$STUBD_PORT" namesflood 2000 example.test --seed "$k" >/dev/null 2>&1 &
	bg+=($!)
done
for i in $(seq 5); do
	ctl statistics >/dev/null
	ctl flush-cache >/dev/null
	ctl reload >/dev/null
	kill -HUP "$STUBD_PID"
done
wait "${bg[@]}" || true
check "stubd survived floods during reloads" stubd_alive
ok=0
for i in $(seq 10); do [ "$(q +short "late$i.example.test" A)" = 192.0.2.1 ] && ok=$((ok + 1)); done
check_eq "answers after the storm" 10 "$ok"

# SIGTERM stops every thread and exits 0 (ASan reports leaks at exit).
kill -TERM "$STUBD_PID"
rc=0
wait "$STUBD_PID" || rc=$?
check_eq "stubd with two workers exits 0 on SIGTERM" 0 "$rc"
check_no_match "no sanitizer report" 'ERROR: (Address|Leak)Sanitizer|runtime error' "$(cat "$TMP/stubd.log")"

# Socket activation: every worker serves (a duplicate of) systemd's socket.
# activated_start WORKERS [PREFIX...]: stubd behind systemd-socket-activate
# on a new UDP address; sets act_pid, act_addr, act_port.
activated_start() {
	local workers=$1
	shift
	act_addr=$(rand_addr); act_port=$(rand_port)
	rm -f "$TMP/act.log"
	"$@" systemd-socket-activate --datagram -l "$act_addr:$act_port" \
		"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
		--workers "$workers" -s "$TMP/act.sock" >"$TMP/act.log" 2>&1 &
	act_pid=$!
	PIDS+=($act_pid)
	wait_for 5 grep -qs "Listening on $act_addr" "$TMP/act.log" ||
		fail "systemd-socket-activate did not start"
}
activated_answers() { # activated_answers N: how many of N lookups are answered
	local ok=0
	for i in $(seq "$1"); do
		[ "$(dig @"$act_addr" -p "$act_port" +short +tries=1 +time=5 "act$i.example.test")" = 192.0.2.1 ] &&
			ok=$((ok + 1))
	done
	echo "$ok"
}
activated_stop() {
	kill -TERM "$act_pid"
	rc=0
	wait "$act_pid" || rc=$?
	check_eq "activated stubd exits 0" 0 "$rc"
}
if command -v systemd-socket-activate >/dev/null; then
	activated_start 2
	check_eq "two workers answer on an activated UDP socket" 20 "$(activated_answers 20)"
	check_match "activated stubd runs two workers" '2 worker\(s\)' "$(cat "$TMP/act.log")"
	activated_stop
fi

# "auto": one worker per CPU stubd may run on.
if command -v taskset >/dev/null; then
	STUBD_PREFIX="taskset -c 0" stubd_start -u "$UP" --workers auto
	check_match "auto on one allowed CPU: one worker" 'Workers: +1' "$(ctl status)"
	stubd_stop
	if [ "$(nproc)" -ge 2 ]; then
		STUBD_PREFIX="taskset -c 0,1" stubd_start -u "$UP" --workers auto
		check_match "auto on two allowed CPUs: two workers" 'Workers: +2' "$(ctl status)"
		check_match "status shows each worker's CPU and the steering" \
			'Worker CPUs: +0, 1 \(each answers the UDP queries that arrive on its CPU\)' \
			"$(ctl status)"
		pinned=$(cat /proc/"$STUBD_PID"/task/*/status | sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' |
			sort | tr '\n' ' ')
		check_eq "one thread pinned to each CPU" "0 1 " "$pinned"
		# The reload runs on worker 0's thread, pinned to one CPU: "auto"
		# is still two workers, not the one CPU that thread may use.
		ctl reload >/dev/null
		check_no_match "a reload with auto: no 'workers changed'" 'workers changed' "$(cat "$TMP/stubd.log")"
		# A local client's datagram is received on the client's CPU, and
		# the worker pinned there answers it: question and answer stay on
		# one core. dig new source ports would otherwise spread over both.
		for cpu in 1 0; do
			ctl reset-statistics >/dev/null
			ok=0
			for i in $(seq 20); do
				[ "$(taskset -c "$cpu" dig @"$STUBD_ADDR" -p "$STUBD_PORT" +short +tries=1 +time=3 \
					"cpu$cpu-$i.example.test")" = 192.0.2.1 ] && ok=$((ok + 1))
			done
			check_eq "clients on CPU $cpu answered" 20 "$ok"
			stats=$(ctl --json statistics)
			check_match "the worker on CPU $cpu answered all 20" "\"$cpu\": 20,?$" "$stats"
			check_match "the other worker answered none" "\"$((1 - cpu))\": 0,?$" "$stats"
		done
		stubd_stop
		# systemd's one socket cannot be steered: the workers are still
		# pinned, and status does not claim the steering.
		if command -v systemd-socket-activate >/dev/null; then
			activated_start auto taskset -c 0,1
			check_eq "auto workers answer on an activated UDP socket" 10 "$(activated_answers 10)"
			act_status=$("$STUBCTL" -s "$TMP/act.sock" status)
			check_match "activated auto: workers pinned" 'Worker CPUs: +0, 1$' "$act_status"
			activated_stop
		fi
	fi
fi
pass
