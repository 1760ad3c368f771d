# stubd.service and stubd.socket under a real systemd, PID 1 of a booted
# Debian 12 (../shared/system-container.md), installed as a user installs
# them (cmake --install, systemd-sysusers, both units enabled before boot):
# - start: the boot starts stubd (Type=notify), as user stubd holding no
#   capability once serving, and it answers on 127.0.0.53 (stubd.socket's);
# - workers = auto: one worker thread pinned to each CPU the container has,
#   none refused by the unit's system-call filter;
# - reload: "systemctl reload stubd" (ExecReload= is "stubctl reload")
#   returns once the new config and hosts file are in force, and fails,
#   with the reason in the journal, on a config stubd rejects, which keeps
#   serving with the old one;
# - stop: nothing of stubd is left, and the next query on stubd.socket
#   starts it again;
# - watchdog: a stubd that stops answering (SIGSTOP) is killed and
#   restarted by systemd (WatchdogSec=, shortened here to 3 s by a drop-in);
# - the journal: stubd's own lines, at their own priorities;
# - the cache across restarts: "systemctl restart stubd" keeps an answer
#   (the upstream is not asked again, its TTL has gone down), saved in
#   /var/cache/stubd/cache (CacheDirectory=), 0600 and stubd's.
# DNS goes only to a fake upstream inside the container (127.0.0.9). Same
# image and boot as system_nm.sh.
. "$(dirname "$0")/lib.sh"

ct_image

# ---- install, as a user would ---------------------------------------------
ct_install "$FAKEUP"
systemd-sysusers --root "$root" >"$TMP/sysusers.log" 2>&1 ||
	fail "systemd-sysusers: $(cat "$TMP/sysusers.log")"
check "user stubd exists before boot" grep -q '^stubd:' "$root/etc/passwd"

# The image's resolv.conf names this machine's resolver, which must never
# be asked: programs inside ask stubd, stubd asks the fake upstream.
rm -f "$root/etc/resolv.conf"
printf 'nameserver 127.0.0.53\n' >"$root/etc/resolv.conf"
conf="$root/etc/stubd/stubd.conf"
# write_conf HOSTS-FILE HOSTS-TTL [LINE...]: the whole stubd.conf.
write_conf() {
	printf '%s\n' 'upstream = 127.0.0.9' 'workers = auto' "hosts-file = /etc/stubd/$1" \
		"hosts-ttl = $2" "${@:3}" >"$conf"
}
write_conf hosts.a 11
printf '192.0.2.10 before.unit.test\n' >"$root/etc/stubd/hosts.a"
printf '192.0.2.20 after.unit.test\n' >"$root/etc/stubd/hosts.b"

# The fake upstream starts with the boot, like stubd.
cat >"$root/etc/systemd/system/fake-global.service" <<'UNIT'
[Unit]
Description=fake upstream DNS server for the system_unit test
[Service]
ExecStart=/usr/local/bin/fakeup -l 127.0.0.9:53 --answer 192.0.2.99 --log /var/log/fake-global.log
[Install]
WantedBy=multi-user.target
UNIT
# No leak check for the ASan build inside the unit's sandbox, as in
# system_nm.sh; it applies to stubctl, run by ExecReload=, too. The
# watchdog: 3 s, not the unit's 30, to keep the test short.
mkdir -p "$root/etc/systemd/system/stubd.service.d"
printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\nWatchdogSec=3s\n' \
	>"$root/etc/systemd/system/stubd.service.d/test.conf"
systemctl --root="$root" enable stubd.socket stubd.service fake-global.service \
	>"$TMP/enable.log" 2>&1 || fail "systemctl --root enable: $(cat "$TMP/enable.log")"

# ---- boot ---------------------------------------------------------------
ct_boot

# On failure, the journal of stubd's units.
ct_fail() {
	ct journalctl -u stubd -u stubd.socket --no-pager -o short-monotonic >"$TMP/journal.log" 2>&1 || true
	fail "$@"
}
# show PROPERTY [UNIT]: a property of stubd.service (or UNIT).
show() { ct systemctl show -p "$1" --value "${2:-stubd.service}"; }
# ask NAME: what stubd answers for NAME (dig +short), "" when nothing.
ask() { ct dig +short +tries=1 +time=3 @127.0.0.53 "$1" A 2>/dev/null | head -n 1; }
# answer NAME: stubd's answer record for NAME, "NAME. TTL IN A ADDR".
answer() { ct dig +noall +answer +tries=1 +time=3 @127.0.0.53 "$1" A | tr -s ' \t' ' '; }
# The journal's messages, text only: jd [journalctl args]. stubd_log:
# stubd's own (sd_journal_print: no SYSLOG_IDENTIFIER, _COMM is stubd);
# stubctl_log: what stubctl, run by ExecReload=, wrote; pid1_log: systemd's
# about the unit. journald is asked to store what it got first.
jd() { ct journalctl --sync && ct journalctl --no-pager -o cat "$@"; }
stubd_log() { jd _SYSTEMD_UNIT=stubd.service _COMM=stubd "$@"; }
stubctl_log() { jd _SYSTEMD_UNIT=stubd.service SYSLOG_IDENTIFIER=stubctl "$@"; }
pid1_log() { jd UNIT=stubd.service _PID=1 "$@"; }
answers() { [ "$(ask "$1")" = "$2" ]; }
active() { ct systemctl is-active -q "${1:-stubd.service}"; }
uid=$(ct id -u stubd)
gid=$(ct id -g stubd)

# ---- (a) start, with the boot ----------------------------------------------
wait_for 20 active || ct_fail "stubd is not active after the boot: $(show ActiveState)"
check "stubd.socket is active" active stubd.socket
pid=$(show MainPID)
status=$(ct cat "/proc/$pid/status")
check_match "stubd runs as user stubd (real, effective, saved, fs)" \
	"^Uid:\s+$uid\s+$uid\s+$uid\s+$uid\$" "$status"
check_match "... and group stubd" "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid\$" "$status"
# The unit grants CAP_NET_BIND_SERVICE (for a start without stubd.socket);
# once its sockets are open stubd gives it up: no capability is left.
check_match "... with no capability left once serving (effective)" \
	'^CapEff:\s+0000000000000000$' "$status"
check_match "... nor permitted" '^CapPrm:\s+0000000000000000$' "$status"
check_eq "the process is stubd" stubd "$(ct cat "/proc/$pid/comm")"
wait_for 10 answers www.unit.example 192.0.2.99 ||
	ct_fail "stubd does not answer from the fake upstream: '$(ask www.unit.example)'"
check "127.0.0.53 answers from the fake upstream" true
check_eq "the hosts file's name, with hosts-ttl 11" "before.unit.test. 11 IN A 192.0.2.10" \
	"$(answer before.unit.test)"

# ---- (e) workers = auto: one thread pinned to each CPU ----------------------
# The CPUs the container's processes may use (its PID 1's), expanded.
cpu_list() {
	local part c list=()
	for part in ${1//,/ }; do
		for ((c = ${part%-*}; c <= ${part#*-}; c++)); do list+=("$c"); done
	done
	echo "${list[@]}"
}
cpus=$(cpu_list "$(ct awk '/^Cpus_allowed_list:/ { print $2 }' /proc/1/status)")
# At most CONFIG_MAX_WORKERS of them get a worker.
max=$(sed -n 's/^#define CONFIG_MAX_WORKERS \([0-9]*\).*/\1/p' "$SOURCE_DIR/include/stubd/config.h")
cpus=$(tr ' ' '\n' <<<"$cpus" | head -n "${max:?}" | tr '\n' ' ' | sed 's/ $//')
ncpu=$(wc -w <<<"$cpus")
# Each thread of stubd's: its CPU list, one line per thread.
threads=$(ct sh -c "for t in /proc/$pid/task/*; do awk '/^Cpus_allowed_list:/ { print \$2 }' \$t/status; done")
pinned=$(grep -Ex '[0-9]+' <<<"$threads" | sort -n | tr '\n' ' ' | sed 's/ $//' || true)
ready=$(stubd_log -g 'ready: serving' | tail -n 1)
if [ "$ncpu" -gt 1 ]; then
	check_eq "$ncpu CPUs: one worker thread pinned to each" "$cpus" "$pinned"
	check_match "the ready line counts $ncpu workers" ", $ncpu worker\(s\)" "$ready"
	check_match "stubctl status: the workers' CPUs" "Worker CPUs: +${cpus// /, }\$" "$(ct stubctl status)"
else
	echo "[$TEST_NAME] the container has 1 CPU ($cpus): one worker, nothing to pin"
	check_match "the ready line counts 1 worker" ', 1 worker\(s\)' "$ready"
fi
echo "[$TEST_NAME] threads' CPU lists: $(tr '\n' ' ' <<<"$threads")"

# ---- (b) reload: waits for the new config, fails on a bad one ---------------
write_conf hosts.b 22
t_reload=$(now_ms)
rc=0
out=$(ct systemctl reload stubd 2>&1) || rc=$?
t_reload=$(($(now_ms) - t_reload))
check_eq "systemctl reload stubd succeeds${out:+ ($out)}" 0 "$rc"
# Right after: no wait_for. The new hosts file (its name is only in the new
# config) is read and hosts-ttl is the new one.
check_eq "at once after the reload: the new hosts file, hosts-ttl 22" \
	"after.unit.test. 22 IN A 192.0.2.20" "$(answer after.unit.test)"
check_eq "... and the old one's name is forwarded" 192.0.2.99 "$(ask before.unit.test)"
check_eq "the same process" "$pid" "$(show MainPID)"
check "active after the reload" active
check_match "stubd logged the reload" '^configuration reloaded$' "$(stubd_log)"
# ExecReload= ran stubctl as user stubd (User=), which the daemon let
# reload: the group stubd is control-group's default.
check_match "stubctl, as user stubd, said it was done" 'Configuration and hosts file reloaded' \
	"$(stubctl_log _UID="$uid")"

# A config stubd rejects: the reload fails, visibly, and nothing of it
# applies (its hosts-file line included).
write_conf hosts.a banana
rc=0
out=$(ct systemctl reload stubd 2>&1) || rc=$?
check "systemctl reload fails on a bad config" [ "$rc" -ne 0 ]
check_match "systemctl says the reload failed" 'Job for stubd\.service failed' "$out"
check "still active" active
check_eq "the same process" "$pid" "$(show MainPID)"
check_eq "still the old config: hosts.b, hosts-ttl 22" "after.unit.test. 22 IN A 192.0.2.20" \
	"$(answer after.unit.test)"
check_match "the journal: stubd says why" \
	'^reload failed, keeping the running configuration: .*banana' "$(stubd_log)"
check_match "the journal: stubctl says why" 'reload failed, the running configuration stays: .*banana' \
	"$(stubctl_log)"
check_match "the journal: systemd saw the reload fail" 'Control process exited, code=exited, status=1' \
	"$(pid1_log)"
write_conf hosts.b 22
check "the config fixed, reload succeeds again" ct systemctl reload stubd

# ---- (c) stop, and start again through the socket ----------------------------
# (systemctl warns that stubd.socket can still start it: that is the point.)
ct systemctl stop stubd 2>"$TMP/stop.log" || ct_fail "systemctl stop stubd failed"
check_eq "stopped" inactive "$(show ActiveState)"
check_eq "a clean exit" "success 0" "$(show Result) $(show ExecMainStatus)"
check_eq "no stubd process left" "" \
	"$(ct sh -c 'grep -lx stubd /proc/[0-9]*/comm 2>/dev/null' || true)"
check "stubd.socket still holds the sockets" active stubd.socket
t_act=$(now_ms)
# The question waits in the socket until the stubd it starts reads it.
out=$(ct dig +short +tries=1 +time=15 @127.0.0.53 again.unit.example A 2>&1 || true)
t_act=$(($(now_ms) - t_act))
check_eq "a query on stubd.socket starts stubd and is answered" 192.0.2.99 "$out"
check "active again" active
pid2=$(show MainPID)
check "a new process" [ "$pid2" != "$pid" -a "$pid2" != 0 ]
check_eq "no restart counted so far (no watchdog kill yet)" 0 "$(show NRestarts)"

# ---- (d) the watchdog restarts a stubd that stopped ---------------------------
# No /bin/kill in the image: the shell's.
t_dog=$(now_ms)
ct sh -c "kill -STOP $pid2"
new_main() { local p; p=$(show MainPID); [ "$p" != "$pid2" ] && [ "$p" != 0 ] && active; }
wait_for 20 new_main || ct_fail "no restart 20 s after SIGSTOP: $(show ActiveState) $(show MainPID)"
t_dog_active=$(($(now_ms) - t_dog))
wait_for 10 answers dog.unit.example 192.0.2.99 || ct_fail "the restarted stubd does not answer"
t_dog_answer=$(($(now_ms) - t_dog))
check "the restarted stubd answers" true
pid3=$(show MainPID)
check_eq "one restart counted" 1 "$(show NRestarts)"
check "the stopped process is gone" ct sh -c "! test -e /proc/$pid2"
check_match "systemd: watchdog timeout" 'Watchdog timeout \(limit 3s\)' "$(pid1_log)"
check_match "systemd: failed with result 'watchdog'" "Failed with result 'watchdog'" "$(pid1_log)"
check_match "the new stubd runs as user stubd" "^Uid:\s+$uid\s" "$(ct cat "/proc/$pid3/status")"

# ---- (f) the journal: stubd's lines at their priorities ------------------------
check_no_match "no worker could not be pinned, in any of the three stubds" 'cannot pin' \
	"$(jd -u stubd)"
err=$(stubd_log -p 3..3)
info=$(stubd_log -p 6..6)
check_match "a rejected config is an error (3)" '^reload failed, keeping the running configuration' "$err"
check_match "ready is info (6)" '^stubd .* ready: serving on ' "$info"
check_match "a reload is info (6)" '^configuration reloaded$' "$info"
warn=$(stubd_log -p warning)
check_match "-p warning: the rejected config" 'reload failed' "$warn"
check_no_match "-p warning: not the info lines" 'ready: serving|configuration reloaded' "$warn"

# ---- (g) the cache across "systemctl restart stubd" ---------------------------
# up_asked NAME: how many times the fake upstream was asked NAME (A).
up_asked() { ct grep -c " ${1//./\\.}\. A " /var/log/fake-global.log || true; }
ttl_of() { answer "$1" | awk '$4 == "A" { print $2; exit }'; }
check_eq "a fresh answer, TTL 300" 300 "$(ttl_of kept.unit.example)"
t_kept=$(now_ms)
check_eq "the upstream was asked once" 1 "$(up_asked kept.unit.example)"
sleep 2
pid4=$(show MainPID)
ct systemctl restart stubd || ct_fail "systemctl restart stubd failed"
wait_for 10 active || ct_fail "stubd is not active after the restart"
pid5=$(show MainPID)
check "a new process" [ "$pid5" != "$pid4" -a "$pid5" != 0 ]
ttl=$(ttl_of kept.unit.example)
down=$((($(now_ms) - t_kept + 999) / 1000))
check_between "after the restart, the same answer, its TTL lower by the time between ($down s)" \
	$((300 - down - 1)) $((300 - down + 1)) "$ttl"
check "... at least 2 s lower (TTL $ttl)" test "$ttl" -le 298
check_eq "... from the cache: the upstream was not asked again" 1 "$(up_asked kept.unit.example)"
check_eq "/var/cache/stubd/cache: mode 0600, owned by stubd" "600 stubd stubd" \
	"$(ct stat -c '%a %U %G' /var/cache/stubd/cache)"
check_eq "/var/cache/stubd: mode 0700, owned by stubd (CacheDirectory=)" "700 stubd stubd" \
	"$(ct stat -c '%a %U %G' /var/cache/stubd)"
check_match "the journal: the stop saved the cache" \
	'^cache saved to /var/cache/stubd/cache: [1-9][0-9]* answers in [0-9]+ ms$' "$(stubd_log _PID="$pid4")"
check_match "the journal: the start loaded it" \
	'^cache loaded from /var/cache/stubd/cache: [1-9][0-9]* answers \(saved [0-9]+ s ago; ' \
	"$(stubd_log _PID="$pid5")"
status=$(ct stubctl status --json)
check_eq "stubctl status: the file" /var/cache/stubd/cache "$(jq -r .cache.file <<<"$status")"
check "stubctl status: answers loaded at start" test "$(jq -r .cache.loaded_at_start <<<"$status")" -ge 1
check_eq "stubctl status: no file problem" null "$(jq -r .cache.file_error <<<"$status")"

echo "[$TEST_NAME] image copy ${t_copy} s, boot ${t_boot} s, reload ${t_reload} ms," \
	"socket activation to the first answer ${t_act} ms; SIGSTOP (WatchdogSec=3s) to a new" \
	"active stubd ${t_dog_active} ms, to its first answer ${t_dog_answer} ms; ${SECONDS} s in all"
ct_poweroff
pass
