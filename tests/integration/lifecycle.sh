# Process lifecycle and command line: clean and quick exit on SIGTERM/SIGINT
# (status 0, even with a question in flight), SIGHUP keeps serving, an
# address in use is exit 1 with a useful message, usage and config errors
# are exit 2 naming file, line and key, settings that contradict each other
# are exit 2 naming both, --check-config prints the effective settings, and
# default upstreams from resolv.conf leave stubd itself out.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
: >"$TMP/empty"

# stop_with SIG: sends SIG to stubd and waits for it (SIGKILL after 5 s);
# sets RC to its exit status and DT to the ms it took.
stop_with() {
	local t0 wd pid=$STUBD_PID
	t0=$(now_ms)
	kill -"$1" "$pid"
	(
		for _ in $(seq 50); do sleep 0.1; done
		kill -KILL "$pid"
	) >/dev/null 2>&1 &
	wd=$!
	RC=0
	wait "$pid" || RC=$?
	DT=$(($(now_ms) - t0))
	kill "$wd" 2>/dev/null || true
	wait "$wd" 2>/dev/null || true
	stubd_stop # forgets the PID
}

# run_stubd ARGS...: runs stubd in the foreground (killed after 5 s); sets
# RC, OUT (stdout) and ERR (stderr).
run_stubd() {
	RC=0
	timeout 5 "$STUBD" "$@" >"$TMP/run.out" 2>"$TMP/run.err" || RC=$?
	OUT=$(cat "$TMP/run.out")
	ERR=$(cat "$TMP/run.err")
}

# --- signals ---
for sig in TERM INT; do
	stubd_start -u "$UP"
	out=$(q "sig$sig.example.test" A)
	check_match "SIG$sig: serving before" 'status: NOERROR' "$out"
	stop_with "$sig"
	check_eq "SIG$sig: exit status 0" 0 "$RC"
	check_between "SIG$sig: exits within 1 s (ms)" 0 1000 "$DT"
done

# With a question waiting on a silent upstream: still quick and clean.
fakeup_start DEAD --mode dead
stubd_start -u "$DEAD"
dig @"$STUBD_ADDR" -p "$STUBD_PORT" +tries=1 +time=3 inflight.example.test A >/dev/null 2>&1 &
dig_pid=$!
PIDS+=($dig_pid)
wait_for 3 grep -q '^udp inflight\.example\.test\. A ' "$TMP/DEAD.log" || fail "the question did not reach DEAD"
stop_with TERM
check_eq "SIGTERM with a question in flight: exit status 0" 0 "$RC"
check_between "SIGTERM with a question in flight: within 1 s (ms)" 0 1000 "$DT"
kill "$dig_pid" 2>/dev/null || true

# With TCP clients connected: one idle, one halfway through a frame, one
# waiting for an answer from a slow (300 ms) upstream.
stubd_start -u "$UP"
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
exec 4<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
exec 5<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
fd_send_hex 4 "0040$(dns_hdr 7774 0100 1 0 0 0)"
fd_send_hex 5 "$(tcp_frame "$(query_hex 0505 slow.term.test)")"
wait_for 3 grep -q "^udp slow\\.term\\.test\\. A " "$TMP/UP.log" || fail "the slow question did not reach UP"
stop_with TERM
exec 3<&- 4<&- 5<&-
check_eq "SIGTERM with TCP clients: exit status 0" 0 "$RC"
check_between "SIGTERM with TCP clients: within 1 s (ms)" 0 1000 "$DT"

# SIGHUP reloads; the sockets stay and so does the process.
stubd_start -u "$UP"
kill -HUP "$STUBD_PID"
sleep 0.2
check "SIGHUP: still running" stubd_alive
out=$(q hup.example.test A)
check_match "SIGHUP: still answering UDP" '^hup\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"
out=$(q +tcp hup2.example.test A)
check_match "SIGHUP: still answering TCP" '^hup2\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"

# --- address in use: exit 1, names the address and how to find the holder ---
run_stubd -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -l "$STUBD_ADDR:$STUBD_PORT" -u "$UP"
check_eq "address in use: exit status 1" 1 "$RC"
check "address in use: names the address ($ERR)" grep -qF -- "$STUBD_ADDR:$STUBD_PORT" <<<"$ERR"
check "address in use: says what to check ($ERR)" grep -qF -- 'ss -ulpn' <<<"$ERR"
check "address in use: the first stubd is unharmed" stubd_alive
out=$(q stillthere.example.test A)
check_match "address in use: the first stubd still answers" 'status: NOERROR' "$out"

# --check-config does not bind, so it works next to a running stubd.
printf '# test config\nupstream-timeout = 300\ncache-size = 5\n' >"$TMP/good.conf"
run_stubd --check-config -c "$TMP/good.conf" --resolv-conf "$TMP/empty" --hosts none \
	-l "$STUBD_ADDR:$STUBD_PORT" -u 127.0.0.9:5300 --cache-size 7
check_eq "--check-config: exit status 0" 0 "$RC"
check_match "--check-config: config value" '^upstream-timeout = 300$' "$OUT"
check_match "--check-config: flag overrides config" '^cache-size = 7$' "$OUT"
check_match "--check-config: upstream from -u" '^upstream = 127\.0\.0\.9:5300$' "$OUT"
check_match "--check-config: listen from -l" "^listen = ${STUBD_ADDR//./\\.}:$STUBD_PORT\$" "$OUT"
check_match "--check-config: defaults shown too" '^query-timeout = 5000$' "$OUT"
check_match "--check-config: defaults shown too" '^edns-buffer-size = 1232$' "$OUT"
stubd_stop

# --check-config --json: the same settings as one JSON object, for scripts:
# every key of conf/stubd.conf, lists as arrays, numbers and booleans bare.
SRC=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
printf 'resolv-conf = /dev/null\nupstream-timeout = 300\nserve-stale = no\nworkers = auto\nforward-zone = corp.example 192.0.2.53\n' >"$TMP/json.conf"
run_stubd --check-config -c "$TMP/json.conf" --json -u 127.0.0.9:5300 -u '[::1]:5301' --cache-size 7
check_eq "--check-config --json: exit status 0" 0 "$RC"
run_stubd --check-config -c "$TMP/json.conf" -u 127.0.0.9:5300 -u '[::1]:5301' --cache-size 7
TEXT=$OUT
run_stubd --check-config -c "$TMP/json.conf" --json -u 127.0.0.9:5300 -u '[::1]:5301' --cache-size 7
# Read as scripts read it; each "key = value" line of the text form has the
# same value in the JSON, and each key the shipped file documents is there.
json_check=$(python3 - "$TMP/run.out" "$SRC/conf/stubd.conf" "$TMP/json.conf" 3<<<"$TEXT" <<'PY' 2>&1
import json, re, sys
d = json.load(open(sys.argv[1]))
want = {"config_file": sys.argv[3], "upstream": ["127.0.0.9:5300", "[::1]:5301"],
        "upstream_from_resolv_conf": False, "cache-size": 7, "upstream-timeout": 300,
        "serve-stale": False, "workers": "auto", "listen": ["127.0.0.53:53"],
        "forward-zone": ["corp.example 192.0.2.53"], "allow": []}
for k, v in want.items():
    if d.get(k) != v:
        print("%s: expected %r, got %r" % (k, v, d.get(k)))
documented = re.findall(r"^# ([a-z-]+) = ", open(sys.argv[2]).read(), re.M)
for k in documented:
    if k not in d:
        print("%s: documented in conf/stubd.conf, missing from the JSON" % k)
lists = {}
for line in open(3).read().splitlines():
    if line.startswith("#") or " = " not in line:
        continue
    k, v = line.split(" = ", 1)
    lists.setdefault(k, []).append(v)
for k, vs in lists.items():
    j = d.get(k)
    if isinstance(j, bool):
        j = ["yes" if j else "no"]
    elif isinstance(j, list):
        pass
    else:
        j = [str(j)]
    if j != vs:
        print("%s: text says %r, JSON %r" % (k, vs, d.get(k)))
for k, v in d.items():
    if isinstance(v, float) or (isinstance(v, str) and re.fullmatch(r"[0-9]+", v)):
        print("%s: a number as %r" % (k, v))
PY
)
check_eq "--check-config --json: values, every key, same as the text" "" "$json_check"

# A bad config: exit 2, {"error": ...} on stdout, the message on stderr.
printf '# line 1\nupstream-timeout = 300\ncache-size = ten\n' >"$TMP/bad.conf"
run_stubd --check-config --json -c "$TMP/bad.conf" --resolv-conf "$TMP/empty"
check_eq "--check-config --json, bad value: exit status 2" 2 "$RC"
check_eq "--check-config --json, bad value: the error as JSON on stdout" \
	"$ERR" "stubd: $(python3 -c 'import json,sys; print(json.load(sys.stdin)["error"])' <<<"$OUT")"
check "--check-config --json, bad value: names file and line ($ERR)" grep -qF -- "$TMP/bad.conf:3:" <<<"$ERR"
run_stubd --check-config --json --no-such-flag
check_eq "--check-config --json, usage error: exit status 2" 2 "$RC"
check_match "--check-config --json, usage error: as JSON" '"error": "unknown option' "$OUT"
run_stubd --json -c "$TMP/empty"
check_eq "--json without --check-config: exit status 2" 2 "$RC"
check_match "--json without --check-config: says so" '--json goes with --check-config' "$ERR"

# --- config errors: exit 2, naming file, line and key ---
printf '# line 1\nupstream-timeout = 300\ncache-size = ten\n' >"$TMP/bad.conf"
run_stubd -f -c "$TMP/bad.conf" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "$UP"
check_eq "bad value: exit status 2" 2 "$RC"
check "bad value: names file and line ($ERR)" grep -qF -- "$TMP/bad.conf:3:" <<<"$ERR"
check "bad value: names the key ($ERR)" grep -qF -- 'cache-size' <<<"$ERR"
run_stubd --check-config -c "$TMP/bad.conf" --resolv-conf "$TMP/empty"
check_eq "bad value with --check-config: exit status 2" 2 "$RC"
check "bad value with --check-config: names file and line ($ERR)" grep -qF -- "$TMP/bad.conf:3:" <<<"$ERR"

printf '\nno-such-key = 1\n' >"$TMP/unknown.conf"
run_stubd -f -c "$TMP/unknown.conf" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "$UP"
check_eq "unknown key: exit status 2" 2 "$RC"
check "unknown key: names file and line ($ERR)" grep -qF -- "$TMP/unknown.conf:2:" <<<"$ERR"
check "unknown key: names the key ($ERR)" grep -qF -- 'no-such-key' <<<"$ERR"

run_stubd -f -c "$TMP/no-such-file.conf" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "$UP"
check_eq "missing config file: exit status 2" 2 "$RC"
check "missing config file: named ($ERR)" grep -qF -- "$TMP/no-such-file.conf" <<<"$ERR"

# --- settings that contradict each other: exit 2, naming both keys, and
# the file and line of the later one ---
printf '# line 1\nupstream-timeout = 2000\n\nquery-timeout = 1500\n' >"$TMP/contra.conf"
run_stubd -f -c "$TMP/contra.conf" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "$UP"
check_eq "contradiction: exit status 2" 2 "$RC"
check "contradiction: names file, the later line and its key ($ERR)" \
	grep -qF -- "$TMP/contra.conf:4: key 'query-timeout': 1500 ms is below" <<<"$ERR"
check "contradiction: names the other key and its line ($ERR)" grep -qF -- 'upstream-timeout (2000 ms, line 2)' <<<"$ERR"
run_stubd --check-config -c "$TMP/contra.conf" --resolv-conf "$TMP/empty"
check_eq "contradiction with --check-config: exit status 2" 2 "$RC"
check "contradiction with --check-config: names both keys ($ERR)" \
	grep -qF -- "$TMP/contra.conf:4: key 'query-timeout': 1500 ms is below upstream-timeout" <<<"$ERR"
check_eq "contradiction with --check-config: no settings printed" "" "$OUT"
printf 'cache-min-ttl = 600\ncache-max-ttl = 300\n' >"$TMP/ttl.conf"
run_stubd --check-config -c "$TMP/ttl.conf" --resolv-conf "$TMP/empty"
check_eq "cache-min-ttl above cache-max-ttl: exit status 2" 2 "$RC"
check "cache-min-ttl above cache-max-ttl: both named ($ERR)" \
	grep -qF -- "$TMP/ttl.conf:2: key 'cache-max-ttl': 300 s is below cache-min-ttl (600 s, line 1)" <<<"$ERR"
# An upstream that is stubd itself: every miss would loop.
self="$(rand_addr):$(rand_port)"
run_stubd -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -l "$self" -u "$self"
check_eq "upstream = listen: exit status 2" 2 "$RC"
check "upstream = listen: names both ($ERR)" \
	grep -qF -- "--upstream: $self is stubd's own listen address ($self, --listen)" <<<"$ERR"
printf 'listen = 0.0.0.0:%s\n' "${self##*:}" >"$TMP/wild.conf"
run_stubd --check-config -c "$TMP/wild.conf" --resolv-conf "$TMP/empty" -u "127.0.0.1:${self##*:}"
check_eq "upstream on loopback, listen on 0.0.0.0: exit status 2" 2 "$RC"
check "upstream on loopback, listen on 0.0.0.0: names both ($ERR)" \
	grep -qF -- "--upstream: 127.0.0.1:${self##*:} would reach stubd itself through its listen address (0.0.0.0:${self##*:}, line 1)" <<<"$ERR"
run_stubd --check-config -c "$TMP/empty" --resolv-conf "$TMP/empty" -u 'fe80::1'
check_eq "link-local upstream without its interface: exit status 2" 2 "$RC"
check "link-local upstream without its interface: says how to write it ($ERR)" \
	grep -qF -- "--upstream: fe80::1 is an IPv6 link-local address: give its interface, as in fe80::1%eth0" <<<"$ERR"

# --- usage errors: exit 2 ---
run_stubd --no-such-flag
check_eq "unknown flag: exit status 2" 2 "$RC"
check "unknown flag: named ($ERR)" grep -qF -- '--no-such-flag' <<<"$ERR"
run_stubd -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "$UP" --cache-size ten
check_eq "bad flag value: exit status 2" 2 "$RC"
run_stubd -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -l "127.0.0.1:99999" -u "$UP"
check_eq "bad listen port: exit status 2" 2 "$RC"
run_stubd -f -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -l "$(rand_addr):$(rand_port)" -u "not-an-address"
check_eq "bad upstream: exit status 2" 2 "$RC"
run_stubd --version
check_eq "--version: exit status 0" 0 "$RC"
check_match "--version: prints the version" '^stubd [0-9]+\.[0-9]+' "$OUT"
run_stubd --help
check_eq "--help: exit status 0" 0 "$RC"
check_match "--help: usage on stdout" '--check-config' "$OUT"

# --- default upstreams: resolv.conf minus stubd's own listen address ---
printf 'search example.test\nnameserver 127.0.0.53\nnameserver 127.0.0.1\n' >"$TMP/resolv.conf"
run_stubd --check-config -c "$TMP/empty" --resolv-conf "$TMP/resolv.conf" --hosts none -l 127.0.0.53
check_eq "resolv.conf: exit status 0" 0 "$RC"
check_match "resolv.conf: 127.0.0.1 used" 'upstream = 127\.0\.0\.1$' "$OUT"
check_no_match "resolv.conf: stubd's own address left out" 'upstream = 127\.0\.0\.53' "$OUT"
check_match "resolv.conf: says it left 127.0.0.53 out" '127\.0\.0\.53' "$ERR"
# Another port on the same address is not stubd: kept.
run_stubd --check-config -c "$TMP/empty" --resolv-conf "$TMP/resolv.conf" --hosts none -l 127.0.0.53:5353
check_match "resolv.conf: same address, other port: kept" 'upstream = 127\.0\.0\.53$' "$OUT"

# --- no control socket: a warning that says what to do, DNS goes on ---
# (stubd makes a missing parent directory; a file in its place stops it.)
: >"$TMP/a-file"
nosock="$TMP/a-file/control.sock"
stubd_start -u "$UP" -s "$nosock"
check_match "no control socket: the log names it and says what to do" \
	"cannot create control socket $nosock: Not a directory \(stubctl will not work; run as root, or choose a writable path with -s\)" \
	"$(cat "$TMP/stubd.log")"
out=$(q nocontrol.example.test A)
check_match "no control socket: DNS is still answered" 'status: NOERROR' "$out"
RC=0
OUT=$("$STUBCTL" -s "$nosock" status 2>&1) || RC=$?
check_eq "no control socket: stubctl exits 3" 3 "$RC"
stubd_stop

# A file that is not a socket is left alone, and named.
printf 'keep me\n' >"$TMP/not-a-socket"
stubd_start -u "$UP" -s "$TMP/not-a-socket"
check_match "a file in the way: the log says what to do" \
	"control socket $TMP/not-a-socket: a file that is not a socket is in the way; remove it or choose another path with -s" \
	"$(cat "$TMP/stubd.log")"
check_eq "a file in the way: left as it was" "keep me" "$(cat "$TMP/not-a-socket")"
stubd_stop

# A second stubd does not take the first one's control socket.
stubd_start -u "$UP"
second_log="$TMP/second-stubd.log"
"$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -s "$TMP/control.sock" \
	-l "$(rand_addr):$(rand_port)" -u "$UP" >"$second_log" 2>&1 &
second_pid=$!
PIDS+=($second_pid)
wait_for 5 grep -qs 'ready: serving' "$second_log" || fail "the second stubd did not start: $(cat "$second_log")"
check_match "a control socket in use: the second stubd says what to do" \
	"control socket $TMP/control.sock is in use by another stubd; stop it or choose another path with -s" \
	"$(cat "$second_log")"
check_match "a control socket in use: it still reaches the first stubd" "PID: +$STUBD_PID\$" \
	"$("$STUBCTL" -s "$TMP/control.sock" status)"
kill -TERM "$second_pid"
wait "$second_pid" || true
check_match "a control socket in use: still the first's after the second stops" "PID: +$STUBD_PID\$" \
	"$("$STUBCTL" -s "$TMP/control.sock" status)"
stubd_stop

pass
