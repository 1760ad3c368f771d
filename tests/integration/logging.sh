# Where stubd's messages go: in the foreground to stderr, each line with
# its level; once it detaches (started as root, no -f, no systemd) to
# syslog, with syslog priorities, since stderr is then /dev/null. (Under
# systemd they go to the journal: system_nm's container sees that.)
#
# Started as root, the test runs again in a private mount namespace
# (unshare --mount), where /dev is a tmpfs of its own with the host's
# null, zero, urandom... bound in one by one, so that /dev/log can be the
# socket of a fake syslogd (tests/tools/fake_syslog.py). The host's /dev
# is never written to; every mount vanishes with the namespace.
if [ "$(id -u)" -eq 0 ] && [ -z "${STUBD_TEST_MOUNTNS:-}" ]; then
	exec unshare --mount --propagation private env STUBD_TEST_MOUNTNS=1 bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

fakeup_start UP

# --- the foreground: stderr, a level on every line -------------------------
stubd_conf 'log-level = debug'
stubd_start -c "$TMP/stubd.conf"
# No upstream was given: a warning (and SERVFAIL). A reload of a broken
# config: an error.
check_match "no upstream: SERVFAIL" 'status: SERVFAIL' "$(q nope.example.test || true)"
printf 'no-such-key = 1\n' >"$TMP/stubd.conf"
kill -HUP "$STUBD_PID"
wait_for 3 grep -q 'reload failed' "$TMP/stubd.log" || fail "no reload failure logged"
log=$(cat "$TMP/stubd.log")
check_match "info lines say info" '^stubd\[info\]: stubd .* ready: serving on ' "$log"
check_match "warnings say warning" '^stubd\[warning\]: no upstream servers' "$log"
check_match "errors say error" '^stubd\[error\]: reload failed, keeping the running configuration: .*no-such-key' "$log"
check_match "debug lines say debug (log-level = debug)" '^stubd\[debug\]: ' "$log"
check_eq "every line starts with stubd[LEVEL]: " "" \
	"$(grep -vE '^stubd\[(error|warning|info|debug)\]: ' <<<"$log" || true)"
stubd_stop

# --- detached: syslog ------------------------------------------------------
if [ -z "${STUBD_TEST_MOUNTNS:-}" ]; then
	echo "not root: the detached case (it needs root and a private /dev/log) is not tested"
	pass
fi

# This namespace's own /dev: a tmpfs, the device nodes bound in, then moved
# over /dev. $TMP/dev is left an empty directory, so that cleanup's rm -rf
# never reaches a device.
newdev="$TMP/dev"
mkdir "$newdev"
mount -t tmpfs -o mode=755,nosuid tmpfs "$newdev"
for node in null zero full random urandom tty; do
	[ -c "/dev/$node" ] || continue
	touch "$newdev/$node"
	mount --bind "/dev/$node" "$newdev/$node"
done
ln -s /proc/self/fd "$newdev/fd"
ln -s /proc/self/fd/0 "$newdev/stdin"
ln -s /proc/self/fd/1 "$newdev/stdout"
ln -s /proc/self/fd/2 "$newdev/stderr"
mount --move "$newdev" /dev
check "the private /dev has no log socket yet" test ! -e /dev/log
check "and a working /dev/null" sh -c 'echo x >/dev/null && [ -c /dev/null ] && [ ! -s /dev/null ]'

: >"$TMP/syslog.txt"
python3 "$SRC/tests/tools/fake_syslog.py" /dev/log "$TMP/syslog.txt" --ready "$TMP/syslog.ready" \
	2>"$TMP/fake_syslog.log" &
PIDS+=($!)
wait_for 5 test -f "$TMP/syslog.ready" || fail "fake syslogd did not start: $(cat "$TMP/fake_syslog.log")"

# Started as root with no -f and no sign of systemd: stubd detaches once
# its sockets are open, and the command returns.
bg_addr=$(rand_addr); bg_port=$(rand_port)
printf 'log-level = info\n' >"$TMP/bg.conf"
rc=0
env -u INVOCATION_ID -u NOTIFY_SOCKET -u JOURNAL_STREAM -u LISTEN_FDS -u LISTEN_PID \
	timeout 10 "$STUBD" -c "$TMP/bg.conf" --resolv-conf "$TMP/empty" --hosts none -u "$UP" \
	-l "$bg_addr:$bg_port" -s "$TMP/bg-control.sock" >"$TMP/bg.out" 2>"$TMP/bg.err" || rc=$?
check_eq "the command returns 0 once stubd has detached" 0 "$rc"
wait_for 5 grep -q 'ready: serving' "$TMP/syslog.txt" ||
	fail "no 'ready' in syslog: $(cat "$TMP/syslog.txt"; cat "$TMP/bg.err")"
bg_pid=$(sed -nE 's/.* stubd\[([0-9]+)\]: .*ready: serving.*/\1/p' "$TMP/syslog.txt" | head -n 1)
[ -n "$bg_pid" ] && kill -0 "$bg_pid" || fail "no running stubd behind the syslog lines"
PIDS+=($bg_pid)
check_eq "the detached stubd answers" "192.0.2.1" \
	"$(dig @"$bg_addr" -p "$bg_port" +short +tries=1 +time=3 bg.example.test)"

# What it said before detaching reached the terminal; nothing after.
check_match "start-up messages on the terminal's stderr" 'stubd\[info\]: running as user' "$(cat "$TMP/bg.err")"
check_no_match "nothing after detaching on it" 'ready: serving' "$(cat "$TMP/bg.err")"

# Facility daemon (3 << 3 = 24) plus the level: info 6, warning 4, error 3.
printf 'workers = 2\n' >"$TMP/bg.conf"
kill -HUP "$bg_pid"
wait_for 3 grep -q 'configuration reloaded' "$TMP/syslog.txt" || fail "reload not logged"
printf 'no-such-key = 1\n' >"$TMP/bg.conf"
kill -HUP "$bg_pid"
wait_for 3 grep -q 'reload failed' "$TMP/syslog.txt" || fail "reload failure not logged"
kill -TERM "$bg_pid"
wait_for 5 sh -c "! kill -0 $bg_pid 2>/dev/null" || fail "the detached stubd did not stop"
sys=$(cat "$TMP/syslog.txt")
check_match "info at <30>, tagged stubd[PID]" "^<30>.* stubd\\[$bg_pid\\]: stubd .* ready: serving on $bg_addr:$bg_port" "$sys"
check_match "warning at <28>" "^<28>.* stubd\\[$bg_pid\\]: reload: workers changed" "$sys"
check_match "error at <27>" "^<27>.* stubd\\[$bg_pid\\]: reload failed, keeping the running configuration: .*no-such-key" "$sys"
check_match "the shutdown too" "^<30>.* stubd\\[$bg_pid\\]: received Terminated, shutting down" "$sys"
check_no_match "no level above the config's (info): no debug" '^<31>' "$sys"
pass
