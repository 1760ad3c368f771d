# A job off the loop (here, reading a hosts file of 100,000 lines after a
# reload) runs on a thread of its own, stubd-offload, that may run on any
# CPU but the one the loop that started it runs on, when there is another:
# a job filling that CPU's idle moments would take the loop's caches
# between answers (tools/bench measured a cache save there costing each
# answer 10-15% more CPU). stubd runs pinned to CPU 0 here (taskset), as
# tools/bench runs it; the job's thread may use every other CPU and not 0.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

online=$(getconf _NPROCESSORS_ONLN)
[ "$online" -ge 2 ] || ct_skip "one CPU online: the job has nowhere else to run"
taskset -c 0 true 2>/dev/null || ct_skip "taskset cannot pin to CPU 0 here"

awk 'BEGIN { for (i = 0; i < 100000; i++)
	printf "10.%d.%d.%d h%06d.offload.test\n", int(i / 65536), int(i / 256) % 256, i % 256, i }' >"$TMP/hosts"
fakeup_start UP
STUBD_PREFIX="taskset -c 0" stubd_start -u "$UP" --hosts "$TMP/hosts"

# offload_cpus: the Cpus_allowed_list of stubd's stubd-offload thread,
# once one is seen (a reload starts a job; it lives while the file is read).
offload_cpus() {
	local t
	for t in /proc/"$STUBD_PID"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = stubd-offload ] || continue
		sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$t/status" 2>/dev/null && return 0
	done
	return 1
}
# on_cpu LIST CPU: whether the list (e.g. "1-3,5") has CPU.
on_cpu() {
	tr ',' '\n' <<<"$1" | awk -F- -v c="$2" '{ lo = $1; hi = NF > 1 ? $2 : $1; if (c >= lo && c <= hi) f = 1 } END { exit !f }'
}
not_on_cpu() { ! on_cpu "$@"; }

seen=""
for _ in $(seq 20); do
	kill -HUP "$STUBD_PID"
	for _ in $(seq 400); do
		seen=$(offload_cpus) && break
		sleep 0.005
	done
	[ -n "$seen" ] && break
done
[ -n "$seen" ] || fail "no stubd-offload thread seen across 20 reloads"
check "the job's thread may not run on the loop's CPU 0 (allowed: $seen)" not_on_cpu "$seen" 0
check "the job's thread may run on CPU 1 (allowed: $seen)" on_cpu "$seen" 1
check "stubd answers from the hosts file" \
	test "$(q +short h000001.offload.test A)" = 10.0.0.1
check "stubd still running" stubd_alive

pass
