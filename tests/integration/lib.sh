# lib.sh - shared helpers for the integration tests, sourced by each script.
#
# Every server a test needs (fakeup upstreams, stubd) is started here on a
# random 127.x address and high port, and stopped by PID when the script
# exits, pass or fail. Nothing is sent outside 127.0.0.0/8 and ::1: stubd
# always gets its upstreams with -u and an empty resolv.conf.
set -euo pipefail

: "${STUBD:?run through ctest (tools/test), which sets STUBD}"
: "${FAKEUP:?run through ctest, which sets FAKEUP}"
: "${DNSQ:?run through ctest, which sets DNSQ}"

# A test that needs network interfaces sets NEEDS_NETNS=1 before sourcing
# this file: it is run again in a private network namespace (unshare
# --net) with loopback up, so the veth pairs it makes, and everything it
# starts, vanish with it.
if [ "${NEEDS_NETNS:-}" = 1 ] && [ -z "${STUBD_TEST_NETNS:-}" ]; then
	exec unshare --net env STUBD_TEST_NETNS=1 bash "$0" "$@"
fi
if [ -n "${STUBD_TEST_NETNS:-}" ]; then
	ip link set lo up
fi

TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/stubd-test-$TEST_NAME.XXXXXX")
# Started as root, stubd runs as its user, or nobody where there is none:
# it must still reach the files and sockets a test makes for it here.
chmod 755 "$TMP"
# Every stubd a test starts keeps its link settings and resolv.conf here,
# never in the machine's /run/stubd (runtime-directory follows this).
export RUNTIME_DIRECTORY="$TMP/run"
mkdir -p "$RUNTIME_DIRECTORY"
# Nor the machine's system bus: every stubd a test starts (dbus = auto)
# looks for a bus here, where there is none until bus_start makes one.
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TMP/bus.sock"
PIDS=()
CHECKS=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL [$TEST_NAME]: $*" >&2
	for f in "$TMP"/*.log; do
		[ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
	done
	exit 1
}

pass() {
	echo "PASS [$TEST_NAME]: $CHECKS checks"
	exit 0
}

# A random address in 127.0.0.0/8 (not 127.0.0.1 or .53, which real
# services may hold) and a random high port.
rand_addr() { echo "127.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"; }
rand_port() { echo $((20000 + RANDOM % 40000)); }

wait_for() { # wait_for SECONDS COMMAND...: polls until COMMAND succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

# fakeup_start VAR [fakeup args...]: starts a fake upstream and sets VAR to
# its ADDR:PORT; its query log is $TMP/VAR.log.
fakeup_start() {
	local var=$1
	shift
	local addr
	addr="$(rand_addr):$(rand_port)"
	"$FAKEUP" -l "$addr" --ready-file "$TMP/$var.ready" --log "$TMP/$var.log" "$@" \
		2>"$TMP/$var.stderr.log" &
	PIDS+=($!)
	wait_for 5 test -f "$TMP/$var.ready" || fail "fakeup $var did not start"
	printf -v "$var" '%s' "$addr"
}

# An address nothing listens on: queries to it get ICMP port unreachable.
closed_addr() { echo "$(rand_addr):$(rand_port)"; }

# stubd_start [stubd args...]: starts stubd in the foreground on a random
# address; sets STUBD_ADDR, STUBD_PORT, STUBD_PID; its log is $TMP/stubd.log.
# STUBD_PREFIX, if set, is a command that execs stubd (e.g. "taskset -c 0").
stubd_start() {
	STUBD_ADDR=$(rand_addr)
	STUBD_PORT=$(rand_port)
	: >"$TMP/empty"
	# Emptied here, not only by the redirection in the child: a restarted
	# stubd must not be taken as ready on its predecessor's log line.
	: >"$TMP/stubd.log"
	# shellcheck disable=SC2086 # STUBD_PREFIX is words
	# No cache file unless a test asks (--cache-file after this one wins):
	# a restart must not bring back the last run's answers by surprise.
	${STUBD_PREFIX:-} "$STUBD" -f -v -c "$TMP/empty" --resolv-conf "$TMP/empty" --hosts none -s "$TMP/control.sock" \
		--cache-file none -l "$STUBD_ADDR:$STUBD_PORT" "$@" >"$TMP/stubd.log" 2>&1 &
	STUBD_PID=$!
	PIDS+=($STUBD_PID)
	wait_for 5 grep -qs 'ready: serving' "$TMP/stubd.log" ||
		fail "stubd did not start: $(cat "$TMP/stubd.log")"
}

stubd_alive() { kill -0 "$STUBD_PID" 2>/dev/null; }

# q [dig args...]: asks stubd with dig, one try, short timeout.
q() { dig @"$STUBD_ADDR" -p "$STUBD_PORT" +tries=1 +time=3 "$@"; }

# count_log VAR PATTERN: how many lines of fakeup VAR's query log match.
count_log() { grep -c -- "$2" "$TMP/$1.log" 2>/dev/null || true; }

check() { # check DESCRIPTION COMMAND...: the command must succeed
	local what=$1
	shift
	CHECKS=$((CHECKS + 1))
	"$@" || fail "$what"
}

check_eq() { # check_eq DESCRIPTION EXPECTED ACTUAL
	CHECKS=$((CHECKS + 1))
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

check_match() { # check_match DESCRIPTION REGEX TEXT
	CHECKS=$((CHECKS + 1))
	grep -Eq -- "$2" <<<"$3" || fail "$1: no match for /$2/ in: $3"
}

check_no_match() { # check_no_match DESCRIPTION REGEX TEXT
	CHECKS=$((CHECKS + 1))
	! grep -Eq -- "$2" <<<"$3" || fail "$1: unexpected match for /$2/ in: $3"
}

# fake_control_start VAR [fake_control.py args...]: starts a fake stubd
# control socket (tests/tools/fake_control.py: it answers "STUBCTL1 0" and
# nothing else unless told) and sets VAR to its path; the requests it got
# are the lines of $TMP/VAR.requests, one per connection.
fake_control_start() {
	local var=$1
	shift
	local src=${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	: >"$TMP/$var.requests"
	python3 "$src/tests/tools/fake_control.py" "$TMP/$var.sock" "$TMP/$var.requests" \
		--ready "$TMP/$var.ready" "$@" 2>"$TMP/$var.log" &
	PIDS+=($!)
	wait_for 5 test -f "$TMP/$var.ready" ||
		fail "fake control socket $var did not start: $(cat "$TMP/$var.log")"
	printf -v "$var" '%s' "$TMP/$var.sock"
}

# requests VAR: how many requests fake control socket VAR got so far.
requests() { wc -l <"$TMP/$1.requests"; }
# last_request_of VAR: the last request it got, one line.
last_request_of() { tail -n 1 "$TMP/$1.requests"; }

# build_dir: sets BUILD, the build tree (where CMakeCache.txt is, at or
# above the stubd binary; ctest runs the tests from build/tests).
build_dir() {
	BUILD=$(dirname "$STUBD")
	while [ ! -f "$BUILD/CMakeCache.txt" ]; do
		[ "$BUILD" != / ] || fail "no CMakeCache.txt above $STUBD"
		BUILD=$(dirname "$BUILD")
	done
}
# cache_var NAME: a variable of the build's CMake cache (after build_dir).
cache_var() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }

# ---- helpers shared by the robustness tests ----

# fakeup_start_at VAR ADDR:PORT [fakeup args...]: like fakeup_start, on a
# given address (e.g. "[::1]:$(rand_port)").
fakeup_start_at() {
	local var=$1 addr=$2
	shift 2
	"$FAKEUP" -l "$addr" --ready-file "$TMP/$var.ready" --log "$TMP/$var.log" "$@" \
		2>"$TMP/$var.stderr.log" &
	PIDS+=($!)
	wait_for 5 test -f "$TMP/$var.ready" || fail "fakeup $var did not start: $(cat "$TMP/$var.stderr.log")"
	printf -v "$var" '%s' "$addr"
}

# stubd_conf LINE...: writes the lines to $TMP/stubd.conf, for stubd_start -c.
stubd_conf() { printf '%s\n' "$@" >"$TMP/stubd.conf"; }

# stubd_stop: stops the stubd of stubd_start (SIGTERM) and waits for it, so
# a script can start another one with different settings; its log is kept
# as $TMP/stubd.PID.log.
stubd_stop() {
	kill -TERM "$STUBD_PID" 2>/dev/null || true
	wait "$STUBD_PID" 2>/dev/null || true
	mv "$TMP/stubd.log" "$TMP/stubd.$STUBD_PID.log" 2>/dev/null || true
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		[ "$pid" = "$STUBD_PID" ] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
}

# now_ms: a wall clock in milliseconds, for timing checks.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# check_between DESCRIPTION MIN MAX VALUE: MIN <= VALUE <= MAX (integers).
check_between() {
	CHECKS=$((CHECKS + 1))
	[ "$4" -ge "$2" ] && [ "$4" -le "$3" ] || fail "$1: $4 not in [$2, $3]"
}

# dq [dnsq args...]: runs dnsq against stubd (stubd_start's address).
dq() { "$DNSQ" "$STUBD_ADDR:$STUBD_PORT" "$@"; }

# wire_name NAME: NAME in DNS wire format as hex, e.g. "a.bc" -> 0161026263 00 (no blank).
wire_name() {
	local name=${1%.} label out=""
	local IFS=.
	for label in $name; do
		out+=$(printf '%02x' "${#label}")
		out+=$(printf '%s' "$label" | od -v -An -tx1 | tr -d ' \n')
	done
	echo "${out}00"
}

# dns_hdr ID FLAGS QD AN NS AR: a 12-byte DNS header as hex; ID and FLAGS
# are given in hex, the counts in decimal.
dns_hdr() { printf '%04x%04x%04x%04x%04x%04x' $((16#$1)) $((16#$2)) "$3" "$4" "$5" "$6"; }

# query_hex ID NAME: a plain query (RD, no EDNS) for NAME IN A, as hex.
query_hex() { echo "$(dns_hdr "$1" 0100 1 0 0 0)$(wire_name "$2")00010001"; }

# Raw TCP, for what dnsq cannot do (several frames on one connection, odd
# framing): open with exec FD<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT".
# tcp_frame HEX: HEX with its 2-byte length prefix.
tcp_frame() { printf '%04x%s' $((${#1} / 2)) "$1"; }
# fd_send_hex FD HEX: writes the bytes to file descriptor FD.
fd_send_hex() { xxd -r -p <<<"$2" >&"$1"; }
# fd_read_frame FD: the next length-prefixed message on FD as hex; empty on
# EOF or after 3 s.
fd_read_frame() {
	local len
	len=$(timeout 3 dd bs=1 count=2 status=none <&"$1" | od -An -tu1 | awk 'NF == 2 { print $1 * 256 + $2 }')
	[ -n "$len" ] || return 0
	timeout 3 dd bs=1 count="$len" status=none <&"$1" | od -v -An -tx1 | tr -d ' \n'
}

# ---- links (tests run with NEEDS_NETNS=1) ----

# veth_add NAME: an interface NAME, up with a carrier (its peer NAME-p up).
veth_add() {
	ip link add "$1" type veth peer name "$1-p"
	ip link set "$1-p" up
	ip link set "$1" up
}

# (/sys/class/net would show the first namespace's interfaces: ask ip.)
ifindex() { ip -o link show dev "$1" | cut -d: -f1; }

# ctl [stubctl args...]: stubctl against stubd_start's daemon.
ctl() { "$STUBCTL" -s "$TMP/control.sock" "$@"; }

# rc_setup: "resolvconf" on PATH is stubctl under that name, talking to
# stubd_start's daemon.
rc_setup() {
	mkdir -p "$TMP/bin"
	ln -sf "$STUBCTL" "$TMP/bin/resolvconf"
	export PATH="$TMP/bin:$PATH" STUBCTL_SOCKET="$TMP/control.sock"
}

# a NAME: the A record stubd answers for NAME (dig +short), "" when none.
a() { q +short "$1" A | head -n 1; }

# rcode NAME: the status dig reports for NAME (NOERROR, SERVFAIL, ...).
rcode() { q "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }

# ---- D-Bus: a private system bus, never the machine's ----

# bus_start: starts a dbus-daemon of the system type of its own, listening
# on $TMP/bus.sock, and exports DBUS_SYSTEM_BUS_ADDRESS naming it: sd-bus
# (stubd, busctl --system, resolvectl) takes that for the system bus. Its
# policy lets anyone own any name and send or receive anything, so that
# what a test sees is stubd's own checks, not the bus's. Sets BUS_ADDRESS
# and BUS_PID; the daemon's log is $TMP/bus.log. After bus_stop, bus_start
# brings up a fresh bus at the same address. XML, if given, goes into the
# configuration after that policy, e.g. "<include>FILE</include>".
bus_start() { # bus_start [XML...]
	command -v dbus-daemon >/dev/null ||
		fail "dbus-daemon not found: tools/deps test installs the Debian package 'dbus-daemon'"
	BUS_ADDRESS="unix:path=$TMP/bus.sock"
	cat >"$TMP/bus.conf" <<-CONF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <type>system</type>
		  <listen>$BUS_ADDRESS</listen>
		  <auth>EXTERNAL</auth>
		  <policy context="default">
		    <allow user="*"/>
		    <allow own="*"/>
		    <allow send_type="method_call"/>
		    <allow send_type="signal"/>
		    <allow send_requested_reply="true" send_type="method_return"/>
		    <allow send_requested_reply="true" send_type="error"/>
		    <allow receive_type="method_call"/>
		    <allow receive_type="method_return"/>
		    <allow receive_type="error"/>
		    <allow receive_type="signal"/>
		  </policy>
		$(printf '%s\n' "$@")
		</busconfig>
	CONF
	# A bus killed with SIGKILL leaves its socket behind.
	rm -f "$TMP/bus.sock"
	dbus-daemon --config-file="$TMP/bus.conf" --nofork --nopidfile >"$TMP/bus.log" 2>&1 &
	BUS_PID=$!
	PIDS+=("$BUS_PID")
	wait_for 5 bus_ping || fail "dbus-daemon did not start: $(cat "$TMP/bus.log")"
	export DBUS_SYSTEM_BUS_ADDRESS=$BUS_ADDRESS
}

# bus_ping: the bus of bus_start answers (the bus driver's GetId).
bus_ping() {
	busctl --address="$BUS_ADDRESS" call org.freedesktop.DBus /org/freedesktop/DBus \
		org.freedesktop.DBus GetId >/dev/null 2>&1
}

# bus_stop: stops the bus of bus_start (SIGTERM) and waits for it, e.g. to
# see what stubd does when the bus goes away; its log is kept as
# $TMP/bus.PID.log. DBUS_SYSTEM_BUS_ADDRESS stays, naming the dead socket:
# nothing falls back to the machine's bus meanwhile.
bus_stop() {
	kill -TERM "$BUS_PID" 2>/dev/null || true
	wait "$BUS_PID" 2>/dev/null || true
	mv "$TMP/bus.log" "$TMP/bus.$BUS_PID.log" 2>/dev/null || true
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		[ "$pid" = "$BUS_PID" ] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
}

# need_resolvectl: fails unless $RESOLVECTL, systemd-resolved's client, is
# there: "tools/deps test" unpacks it into build-deps/ (the package itself
# is never installed: it would take over /etc/resolv.conf).
need_resolvectl() {
	: "${RESOLVECTL:?run through ctest (tools/test), which sets RESOLVECTL}"
	[ -x "$RESOLVECTL" ] ||
		fail "no resolvectl at $RESOLVECTL: run tools/deps test, which unpacks the systemd-resolved package there (without installing it)"
}

# ---- a booted Debian 12 with systemd (the system_*.sh tests) ----
# ../shared/system-container.md: the image is built once by
# tools/container-image (about 90 s, then reused) and copied per test;
# without a reachable Debian mirror the test is skipped. Used in this order:
# ct_image, ct_install, (the test's own files in $root), ct_boot, ct ...,
# ct_poweroff.

# ct_skip REASON: the test is skipped, not failed.
ct_skip() { echo "SKIP [$TEST_NAME]: $*"; exit 0; }

# ct_image: skips unless this runs as root with systemd-nspawn and an image
# can be had; copies the image to $TMP/root. Sets root and t_copy (seconds
# the copy took). The container's own system bus, not the private address
# above, is the one systemctl, busctl and resolvectl inside must use.
ct_image() {
	unset DBUS_SYSTEM_BUS_ADDRESS
	[ "$(id -u)" -eq 0 ] || ct_skip "needs root (systemd-nspawn)"
	command -v systemd-nspawn >/dev/null ||
		fail "systemd-nspawn is missing (tools/deps test installs systemd-container)"
	local rc=0 image
	image=$("$SOURCE_DIR/tools/container-image") || rc=$?
	[ "$rc" -eq 77 ] && ct_skip "no Debian mirror reachable to build the container image"
	[ "$rc" -eq 0 ] || fail "tools/container-image failed ($rc)"
	root="$TMP/root"
	t_copy=$SECONDS
	cp -a "$image" "$root"
	t_copy=$((SECONDS - t_copy))
}

# ct_install [PROGRAM...]: installs this build into $root as a user would
# (cmake --install --prefix /usr), and each PROGRAM (fakeup, resolvectl) as
# /usr/local/bin/NAME; then copies in the libraries the test's build needs
# that the minimal image lacks (ldns, libevent, libmnl, the sanitizers):
# the host is Debian 12 too.
ct_install() {
	local build bin lib
	build=$(dirname "$STUBD")
	DESTDIR="$root" cmake --install "$build" --prefix /usr >"$TMP/install.log" 2>&1 ||
		fail "cmake --install into the image failed: $(tail -5 "$TMP/install.log")"
	for bin in "$@"; do
		install -m 0755 "$bin" "$root/usr/local/bin/$(basename "$bin")"
	done
	for bin in "$root/usr/sbin/stubd" "$root/usr/bin/stubctl" "$@"; do
		for lib in $(ldd "$bin" | awk '/=> \// { print $3 }'); do
			[ -e "$root$lib" ] || cp -L "$lib" "$root/usr/lib/x86_64-linux-gnu/"
		done
	done
}

# ct_boot: boots $root (systemd-nspawn -b, with a veth: host0 inside; the
# host's end is brought up with no address, which gives host0 a carrier)
# and waits until systemd says running (or degraded). Sets NSPAWN (the
# nspawn process), leader (the container's PID 1, as the host sees it),
# veth and t_boot (seconds the boot took). nspawn removes its veth when it
# exits; if it is killed, the exit trap does.
ct_boot() {
	local machine="stubd$$"
	veth="ve-${machine:0:12}"
	systemd-nspawn -D "$root" -b --network-veth --register=no --keep-unit -M "$machine" \
		>"$TMP/nspawn.log" 2>&1 &
	NSPAWN=$!
	PIDS+=("$NSPAWN")
	trap 'cleanup; ip link del "$veth" 2>/dev/null || true' EXIT
	wait_for 20 pgrep -P "$NSPAWN" >/dev/null ||
		fail "the container did not start: $(tail "$TMP/nspawn.log")"
	leader=$(pgrep -P "$NSPAWN" | head -n 1)
	t_boot=$SECONDS
	wait_for 60 ct_booted ||
		fail "the container did not finish booting: $(ct systemctl --failed --no-pager 2>&1 | tail -5)"
	ip link set "$veth" up
	t_boot=$((SECONDS - t_boot))
}

# ct COMMAND...: runs COMMAND inside the booted container (its mount, UTS,
# IPC, network and PID namespaces: PIDs are the container's).
ct() { nsenter -t "$leader" -m -u -i -n -p "$@"; }

ct_booted() {
	case "$(ct systemctl is-system-running 2>/dev/null)" in running | degraded) return 0 ;; esac
	return 1
}

# ct_poweroff: shuts the container down and waits for nspawn to exit.
ct_poweroff() {
	ct systemctl poweroff >/dev/null 2>&1 || true
	wait_for 30 ct_nspawn_gone || kill -TERM "$NSPAWN" 2>/dev/null || true
}
ct_nspawn_gone() { ! kill -0 "$NSPAWN" 2>/dev/null; }

# ---- DNS over TLS: a test CA, certificates, Unbound as the TLS server ----
# Everything is made at test time under $TMP/tls by openssl with a config
# of its own (the machine's openssl.cnf and trust store are not read), and
# Unbound runs from a config in $TMP (nothing of /etc/unbound, no chroot,
# no user change, no control socket, no trust anchor). "tools/deps test"
# installs unbound and openssl. tests/integration/tls_upstream_infra.sh
# shows them at work with kdig and openssl s_client.

# tls_ca_make and tls_cert_make (a test CA, server certificates) live in
# tools/tls-certs.sh, which tools/bench uses too; here they write to $TMP/tls.
. "$(dirname "${BASH_SOURCE[0]}")/../../tools/tls-certs.sh"

# unbound_tls_start VAR ADDR PORT CERT KEY UPSTREAM [LINE...]: Unbound from
# Debian serving DNS over TLS on ADDR port PORT (loopback only: 127.x or
# ::1) with CERT and KEY, forwarding everything (forward-zone ".",
# forward-first no, over UDP) to UPSTREAM, a fakeup's ADDR:PORT or
# [ADDR6]:PORT, and to nothing else: no DNSSEC validation
# (module-config "iterator"), no trust anchor, no root hints in use.
# Each LINE is one more "server:" option, e.g. "tcp-idle-timeout: 2000" or
# "edns-tcp-keepalive: yes". Sets VAR to ADDR:PORT ([ADDR]:PORT for IPv6)
# and VAR_PID; its config is $TMP/VAR.unbound.conf, its log (queries
# included; Unbound appends, across restarts too) $TMP/VAR.log, which
# fail() shows. Returns once Unbound answers
# over TLS (kdig, opportunistic: no certificate check); unbound_tls_stop
# VAR stops it, after which the same call starts it again.
unbound_tls_start() {
	local var=$1 addr=$2 port=$3 cert=$4 key=$5 up=$6
	shift 6
	command -v unbound >/dev/null ||
		fail "unbound not found: tools/deps test installs the Debian package 'unbound' (without starting its service)"
	case $addr in 127.* | ::1) ;; *) fail "unbound_tls_start: $addr is not a loopback address" ;; esac
	# fakeup's [ADDR]:PORT or ADDR:PORT is Unbound's ADDR@PORT.
	local up_addr=${up%:*} up_port=${up##*:}
	up_addr=${up_addr#[}
	up_addr=${up_addr%]}
	local conf=$TMP/$var.unbound.conf
	{
		cat <<-EOF
			server:
				interface: $addr@$port
				port: $port
				tls-port: $port
				tls-service-pem: "$cert"
				tls-service-key: "$key"
				num-threads: 1
				incoming-num-tcp: 1000
				access-control: 127.0.0.0/8 allow
				access-control: ::1 allow
				do-not-query-localhost: no
				module-config: "iterator"
				local-zone: "test." nodefault
				chroot: ""
				username: ""
				directory: "$TMP"
				pidfile: "$TMP/$var.pid"
				use-syslog: no
				logfile: "$TMP/$var.log"
				log-time-ascii: yes
				verbosity: 1
				log-queries: yes
		EOF
		printf '%s\n' "$@"
		cat <<-EOF
			remote-control:
				control-enable: no
			forward-zone:
				name: "."
				forward-addr: $up_addr@$up_port
				forward-first: no
		EOF
	} >"$conf"
	unbound-checkconf "$conf" >"$TMP/$var.checkconf.out" 2>&1 ||
		fail "unbound-checkconf refused $conf: $(cat "$TMP/$var.checkconf.out")"
	unbound -d -c "$conf" >"$TMP/$var.stderr.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	printf -v "${var}_PID" '%s' "$pid"
	local deadline=$((SECONDS + 10))
	until unbound_tls_ready "$addr" "$port"; do
		kill -0 "$pid" 2>/dev/null || fail "unbound $var exited: $(cat "$TMP/$var.stderr.log")"
		[ $SECONDS -lt $deadline ] || fail "unbound $var does not answer over TLS on $addr port $port"
		sleep 0.1
	done
	case $addr in *:*) printf -v "$var" '[%s]:%s' "$addr" "$port" ;; *) printf -v "$var" '%s:%s' "$addr" "$port" ;; esac
}

# unbound_tls_ready ADDR PORT: Unbound answers a name of its own
# (localhost., never forwarded) over TLS there.
unbound_tls_ready() {
	[ "$(kdig +tls +retry=0 +timeout=1 +short @"$1" -p "$2" localhost A 2>/dev/null)" = 127.0.0.1 ]
}

# unbound_tls_stop VAR: stops the Unbound of unbound_tls_start VAR
# (SIGTERM) and waits for it.
unbound_tls_stop() {
	local var=$1 pidvar="${1}_PID"
	local pid=${!pidvar} keep=() p
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# tcp_conns ADDR:PORT: how many TCP connections to ADDR:PORT ([ADDR]:PORT
# for IPv6) are established now, counted at the clients' end (destination
# ADDR:PORT), so the server's own end of each is not counted twice, nor
# connections to the same port on other addresses (tests run in parallel).
tcp_conns() {
	local addr=${1%:*} port=${1##*:}
	ss -Htn state established "( dst $addr and dport = :$port )" | wc -l
}

# fake_tls_start VAR ADDR PORT CERT KEY MODE [ARG...]: tests/tools/fake_tls.py,
# a DNS-over-TLS server that misbehaves as MODE says (ok, garbage,
# garbage-framed, not-tls, stall, split, hang-65535, close-inflight: see
# the script), on ADDR port PORT (loopback only) with CERT and KEY; each
# ARG goes to it (e.g. --answer 192.0.2.7, --bad-conns 2, --tls-max 1.2).
# Sets VAR to ADDR:PORT ([ADDR]:PORT for IPv6) and VAR_PID; its log, one
# line per connection, handshake and query ("conn N", "tls N TLSv1.3
# resumed=no sni=NAME", "query N NAME TYPE id=ID len=LEN", ...), is
# $TMP/VAR.log. Returns once the port listens.
fake_tls_start() {
	local var=$1 addr=$2 port=$3 cert=$4 key=$5 mode=$6
	shift 6
	local src=${SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
	local hp
	case $addr in
	127.*) hp=$addr:$port ;;
	::1) hp=[$addr]:$port ;;
	*) fail "fake_tls_start: $addr is not a loopback address" ;;
	esac
	rm -f "$TMP/$var.ready"
	python3 "$src/tests/tools/fake_tls.py" --listen "$hp" --cert "$cert" --key "$key" --mode "$mode" \
		--log "$TMP/$var.log" --ready "$TMP/$var.ready" "$@" 2>"$TMP/$var.stderr.log" &
	local pid=$!
	PIDS+=("$pid")
	printf -v "${var}_PID" '%s' "$pid"
	wait_for 5 test -f "$TMP/$var.ready" || fail "fake_tls $var did not start: $(cat "$TMP/$var.stderr.log")"
	printf -v "$var" '%s' "$hp"
}

# upstream_field SERVER KEY: KEY of the upstream SERVER in stubctl --json
# status, SERVER being its ADDR:PORT (stubd may show "ADDR:PORT#NAME":
# either matches): a string as it is, a boolean as true/false, a number as
# JSON writes it; "MISSING" when there is no such server or key.
upstream_field() {
	ctl --json status | python3 -c '
import json, sys
server, key = sys.argv[1], sys.argv[2]
for u in json.load(sys.stdin).get("upstreams", []):
    a = u.get("address", "")
    if a == server or a.split("#")[0] == server.split("#")[0]:
        v = u.get(key, "MISSING")
        print(json.dumps(v) if isinstance(v, (bool, int, float)) else v)
        break
else:
    print("MISSING")' "$1" "$2"
}
