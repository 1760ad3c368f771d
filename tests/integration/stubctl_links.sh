# stubctl's link commands (dns, domain, default-route, revert), its own
# side only, with no stubd: what it refuses before any connection (exit 2,
# even with no daemon), and the exact request line each sends, as a fake
# control socket (tests/tools/fake_control.py) receives it. Those lines are
# the contract with the daemon's side (include/stubd/control_proto.h):
#     dns|domain [IFACE [--set [VALUE...]]]
#     default-route IFACE [yes|no]
#     revert IFACE
. "$(dirname "$0")/lib.sh"

: "${STUBCTL:?run through ctest, which sets STUBCTL}"

# ctl ARGS...: runs stubctl; sets RC, OUT (stdout) and ERR (stderr).
ctl() {
	RC=0
	"$STUBCTL" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# usage_error DESCRIPTION ARGS...: stubctl must refuse ARGS with exit 2, a
# message on stderr that points at --help, and nothing on stdout. The
# socket is the fake one: a usage error must send nothing at all.
usage_error() {
	local what=$1 before
	shift
	before=$(requests CTL)
	ctl -s "$CTL" "$@"
	check_eq "$what: exit status" 2 "$RC"
	check_match "$what: points at --help" "^stubctl: .*stubctl --help" "$ERR"
	check_eq "$what: nothing on stdout" "" "$OUT"
	check_eq "$what: nothing sent" "$before" "$(requests CTL)"
}

# sends DESCRIPTION REQUEST ARGS...: stubctl ARGS... must exit 0 and send
# exactly "STUBCTL1 REQUEST".
sends() {
	local what=$1 want=$2
	shift 2
	ctl -s "$CTL" "$@"
	check_eq "$what: exit status" 0 "$RC"
	check_eq "$what: request" "STUBCTL1 $want" "$(last_request_of CTL)"
}

rep() { printf "%${2}s" "" | tr ' ' "$1"; } # rep CHAR N: CHAR N times

fake_control_start CTL

# ---- --help ----

ctl --help
for cmd in dns domain default-route revert; do
	check_match "--help lists $cmd" "^  $cmd( |$)" "$OUT"
done
check_match "--help says how a SERVER is written" 'ADDR\[:PORT\]\[%IFACE\]\[#NAME\]' "$OUT"

# ---- usage errors: exit 2, nothing sent ----

usage_error "default-route without IFACE" default-route
check_match "default-route without IFACE: says what to give" "needs an IFACE, e.g. 'stubctl default-route eth0 no'" "$ERR"
usage_error "revert without IFACE" revert
usage_error "revert with two words" revert eth0 eth1
check_match "revert with two words: names the extra" "unexpected argument 'eth1' after 'revert'" "$ERR"
usage_error "default-route with three words" default-route eth0 yes no
usage_error "default-route maybe" default-route eth0 maybe
check_match "default-route maybe: says what it takes" "'maybe' is neither yes nor no" "$ERR"
usage_error "default-route ''" default-route eth0 ''

# IFACE: a name the kernel could give, or an index.
usage_error "IFACE with a '/'" dns eth/0
check_match "IFACE with a '/': says what to give" "IFACE 'eth/0' .*interface's name or index" "$ERR"
usage_error "IFACE with a ':' (an address label, not an interface)" dns eth0:1 192.0.2.1
usage_error "IFACE '.'" revert .
usage_error "IFACE '..'" domain .. lan
usage_error "IFACE of 16 bytes" dns "$(rep e 16)"
check_match "IFACE of 16 bytes: says why" 'longer than an interface name can be' "$ERR"
usage_error "empty IFACE" dns ''
usage_error "IFACE with a blank" default-route 'eth 0' yes
check_match "IFACE with a blank: says so" 'blank or control character' "$ERR"
usage_error "IFACE with a newline" revert $'eth0\nSTUBCTL1 text reload'
usage_error "IFACE starting with '-'" revert -- -eth0

# The values: one word each, and a single '' to set none.
usage_error "'' and a SERVER" dns eth0 '' 192.0.2.1
check_match "'' and a SERVER: says '' goes alone" "empty SERVER clears the list and must come alone" "$ERR"
usage_error "a SERVER and ''" dns eth0 192.0.2.1 ''
usage_error "'' twice" domain eth0 '' ''
usage_error "SERVER with a blank" dns eth0 '192.0.2.1 192.0.2.2'
check_match "SERVER with a blank: names it" "SERVER '192\.0\.2\.1 192\.0\.2\.2' contains a blank" "$ERR"
usage_error "SERVER with a tab" dns eth0 $'192.0.2.1\t'
usage_error "DOMAIN with a control byte" domain eth0 $'corp\x01.example'
check_match "control byte shown escaped" 'corp\\x01\.example' "$ERR"
usage_error "DOMAIN of 256 bytes" domain eth0 "$(rep a 256)"
check_match "DOMAIN of 256 bytes: says so" "too long \(256 bytes, at most 255\)" "$ERR"
usage_error "SERVER starting with '-'" dns eth0 -- 192.0.2.1 -x

# Options of other commands.
usage_error "-t with dns" dns eth0 -t A
usage_error "--no-cache with domain" domain eth0 --no-cache
usage_error "--zone with revert" revert eth0 --zone
usage_error "unknown option" dns eth0 192.0.2.1 --frobnicate

# The protocol's limits: 256 words after the command, 4096 bytes a line.
# "dns eth0 S1..S254" is eth0, --set and 254 servers: 256 words.
mapfile -t many < <(seq 1 255)
usage_error "257 words after the command" dns eth0 "${many[@]}"
check_match "257 words: says so" 'at most 256 words after the command' "$ERR"
sends "256 words after the command" "text dns eth0 --set ${many[*]:0:254}" dns eth0 "${many[@]:0:254}"
usage_error "a command line longer than a request can hold" dns eth0 "${many[@]}" "${many[@]}"
long=()
for i in $(seq 1 16); do long+=("$(rep "$((i % 10))" 255)"); done
usage_error "a request over 4096 bytes" domain eth0 "${long[@]}"
check_match "over 4096 bytes: says so" 'request is too long \(at most 4096 bytes\)' "$ERR"
sends "15 domains of 255 bytes fit" "text domain eth0 --set ${long[*]:0:15}" domain eth0 "${long[@]:0:15}"

# ---- the request lines ----

sends "dns: every link" "text dns" dns
sends "dns IFACE: show" "text dns eth0" dns eth0
sends "dns IFACE SERVER...: set" "text dns eth0 --set 1.2.3.4 [fe80::1%eth0]:53#dns.example" \
	dns eth0 1.2.3.4 '[fe80::1%eth0]:53#dns.example'
sends "dns IFACE '': set none" "text dns eth0 --set" dns eth0 ''
sends "dns by index" "text dns 2 --set 192.0.2.1" dns 2 192.0.2.1
sends "dns --json, options after the values" "json dns eth0 --set 192.0.2.1" dns eth0 192.0.2.1 --json
sends "dns, a SERVER after --" "text dns eth0 --set 192.0.2.1" dns -- eth0 192.0.2.1
sends "domain: every link" "text domain" domain
sends "domain IFACE: show" "text domain wlan0" domain wlan0
sends "domain IFACE DOMAIN...: set" "text domain eth0 --set ~corp.example lan" \
	domain eth0 '~corp.example' lan
sends "domain ~.: route everything" "text domain tun0 --set ~." domain tun0 '~.'
sends "domain IFACE '': set none" "text domain eth0 --set" domain eth0 ''
sends "domain --json before the command" "json domain eth0 --set" --json domain eth0 ''
sends "default-route IFACE: show" "text default-route eth0" default-route eth0
for word in false no NO 0 off Off n f; do
	sends "default-route $word" "text default-route eth0 no" default-route eth0 "$word"
done
for word in true yes Yes 1 on ON y t; do
	sends "default-route $word" "text default-route eth0 yes" default-route eth0 "$word"
done
sends "revert" "text revert eth0" revert eth0
sends "revert, 15-byte name" "text revert $(rep v 15)" revert "$(rep v 15)"

# ---- the daemon's answer, relayed ----

fake_control_start FAILING --exit 1 --body $'no interface eth9 (ip link lists them)\n'
ctl -s "$FAILING" dns eth9 192.0.2.1
check_eq "daemon refuses: exit status" 1 "$RC"
check_eq "daemon refuses: its message on stderr" "no interface eth9 (ip link lists them)" "$ERR"
check_eq "daemon refuses: the request" "STUBCTL1 text dns eth9 --set 192.0.2.1" \
	"$(last_request_of FAILING)"
fake_control_start SHOWING --body $'eth0: 192.0.2.1\n'
ctl -s "$SHOWING" dns eth0
check_eq "dns IFACE: the answer on stdout" "0:eth0: 192.0.2.1:" "$RC:$OUT:$ERR"

ctl -s "$TMP/missing.sock" revert eth0
check_eq "no daemon: exit status" 3 "$RC"
check_match "no daemon: names the socket" "stubctl: cannot connect to stubd at $TMP/missing\.sock" "$ERR"

pass
