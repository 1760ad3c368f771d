# stubctl under the name "resolvconf" (a link, as installed): the command
# lines of wg-quick, openvpn's update-resolv-conf, dhclient's hook and
# ifupdown, and the request each sends, as a fake control socket
# (tests/tools/fake_control.py) receives it:
#     resolvconf-add NAME [--exclusive] [--if-exists] [--nameserver ADDR]... [--search DOMAIN]...
#     resolvconf-del NAME [--if-exists]
# Exit statuses as resolvconf's callers know them: 0, 1 (the message says
# why), 99 unknown command; no stubd here, so every failure is stubctl's
# own or the fake daemon's.
. "$(dirname "$0")/lib.sh"

: "${STUBCTL:?run through ctest, which sets STUBCTL}"

# "printf ... | rc ...": rc runs in this shell, so that RC, OUT and ERR
# are the ones it set (a script runs without job control, as lastpipe needs).
shopt -s lastpipe

mkdir "$TMP/bin"
ln -s "$STUBCTL" "$TMP/bin/resolvconf"
RESOLVCONF=$TMP/bin/resolvconf

fake_control_start CTL
export STUBCTL_SOCKET=$CTL

# A stdin that never ends: a FIFO open for reading and writing (which
# Linux allows), whose writer never closes. -d must not wait for it.
mkfifo "$TMP/never"
exec 7<>"$TMP/never"

# rc ARGS... [<STDIN]: runs resolvconf; sets RC, OUT (stdout) and ERR
# (stderr). Within 10 s: a resolvconf that waits on a stdin it should not
# read fails the test instead of hanging it.
rc() {
	RC=0
	timeout 10 "$RESOLVCONF" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
}

# refused DESCRIPTION STATUS ARGS...: resolvconf ARGS (stdin empty) must
# exit STATUS with a "resolvconf: " message, and send nothing.
refused() {
	local what=$1 status=$2 before
	shift 2
	before=$(requests CTL)
	rc "$@" </dev/null
	check_eq "$what: exit status" "$status" "$RC"
	check_match "$what: says why" "^resolvconf: " "$ERR"
	check_eq "$what: nothing sent" "$before" "$(requests CTL)"
}

# sent DESCRIPTION REQUEST: the last call exited 0 and sent exactly
# "STUBCTL1 text REQUEST".
sent() {
	check_eq "$1: exit status" 0 "$RC"
	check_eq "$1: request" "STUBCTL1 text $2" "$(last_request_of CTL)"
	check_eq "$1: nothing on stderr" "" "$ERR"
}

# ---- the callers' own command lines ----

# wg-quick up (set_dns) and down (unset_dns).
printf 'nameserver 10.0.0.1\nsearch wg.example\n' >"$TMP/wg"
rc -a tun.wg0 -m 0 -x <"$TMP/wg"
sent "wg-quick up" "resolvconf-add tun.wg0 --exclusive --nameserver 10.0.0.1 --search wg.example"
{
	printf 'nameserver %s\n' 10.0.0.1 fd00::1
	printf 'search %s\n' "wg.example vpn.example"
} | rc -a wg0 -m 0 -x
sent "wg-quick up, two servers, two domains, no tun. prefix" \
	"resolvconf-add wg0 --exclusive --nameserver 10.0.0.1 --nameserver fd00::1 --search wg.example --search vpn.example"
rc -d tun.wg0 -f <&7
sent "wg-quick down" "resolvconf-del tun.wg0 --if-exists"
POSIXLY_CORRECT=1 rc -a tun.wg0 -m 0 -x <"$TMP/wg"
sent "wg-quick up, POSIXLY_CORRECT" \
	"resolvconf-add tun.wg0 --exclusive --nameserver 10.0.0.1 --search wg.example"

# openvpn's update-resolv-conf: the pushed DOMAIN/DNS options as lines,
# "search" with the blanks it leaves; down without -f.
printf 'search  corp.example lab.example\ndomain corp.example\nnameserver 10.8.0.1\nnameserver fe80::1%%tun0\n' |
	rc -a tun0.openvpn
sent "openvpn up" "resolvconf-add tun0.openvpn --nameserver 10.8.0.1 --nameserver fe80::1%tun0 --search corp.example --search lab.example"
rc -d tun0.openvpn <&7
sent "openvpn down" "resolvconf-del tun0.openvpn"

# dhclient's hook (Debian's and conf/dhclient-enter-hook) and ifupdown.
printf 'nameserver 192.0.2.53\nsearch corp.example\n' | rc -a eth0.dhclient
sent "dhclient" "resolvconf-add eth0.dhclient --nameserver 192.0.2.53 --search corp.example"
printf 'nameserver fe80::1%%eth0\nnameserver 2001:db8::53\n' | rc -a eth0.ip6.dhclient
sent "dhclient, DHCPv6: the zone kept" \
	"resolvconf-add eth0.ip6.dhclient --nameserver fe80::1%eth0 --nameserver 2001:db8::53"
rc -d eth0.dhclient -f </dev/null
sent "dhclient's hook, lease gone" "resolvconf-del eth0.dhclient --if-exists"
printf 'nameserver 192.0.2.1\n' | rc -a eth0.inet
sent "ifupdown" "resolvconf-add eth0.inet --nameserver 192.0.2.1"

# ---- what stdin may hold ----

cat >"$TMP/resolv" <<'EOF'
# a comment
; another
options ndots:2 edns0
sortlist 192.0.2.0/255.255.255.0

	nameserver	192.0.2.1  # the office's
nameserver 192.0.2.2 192.0.2.3
nameserver 192.0.2.1
domain a.example
search b.example a.example ; and so on
search
lookup file bind
EOF
printf 'nameserver 192.0.2.9' >>"$TMP/resolv" # the last line without its newline
rc -a eth1.x -p -f <"$TMP/resolv"
sent "comments, other keywords, blanks, repeats, a last line with no newline" \
	"resolvconf-add eth1.x --if-exists --nameserver 192.0.2.1 --nameserver 192.0.2.2 --nameserver 192.0.2.3 --nameserver 192.0.2.9 --search a.example --search b.example"
printf 'nameserver 192.0.2.1\r\nsearch c.example\r\n' | rc -a eth1.crlf
sent "CRLF lines" "resolvconf-add eth1.crlf --nameserver 192.0.2.1 --search c.example"
{ printf 'options %s\n' "$(printf '%5000s' '' | tr ' ' x)"; echo 'nameserver 192.0.2.1'; } | rc -a eth1.long
sent "an over-long line stubd does not read" "resolvconf-add eth1.long --nameserver 192.0.2.1"
# 127 entries are 254 words beside NAME and --exclusive: they fit.
seq -f 'nameserver 10.0.%g.1' 1 120 >"$TMP/many"
seq -f 'search d%g.example' 1 7 >>"$TMP/many"
rc -a eth1.many -x <"$TMP/many"
check_eq "127 entries: exit status" 0 "$RC"
check_eq "127 entries: all sent (3 words, then 256)" 259 "$(last_request_of CTL | wc -w)"

# ---- what resolvconf refuses: exit 1, nothing sent ----

refused "-a with no nameserver line" 1 -a eth0.dhclient
check_match "no nameserver: says so and what to do" "no nameserver line on stdin.*resolvconf -d eth0\.dhclient" "$ERR"
before=$(requests CTL)
printf 'search corp.example\n# nameserver 192.0.2.1\n' | rc -a eth0.dhclient
check_eq "-a with a search line only: exit status" 1 "$RC"
check_match "-a with a search line only: says so" "no nameserver line on stdin" "$ERR"
printf 'nameserver 192.0.2.1\001\n' >"$TMP/ctl-byte"
rc -a eth0.x <"$TMP/ctl-byte"
check_eq "a control byte in a server: exit status" 1 "$RC"
check_match "a control byte: names the line and the word" "stdin line 1: '192\.0\.2\.1\\\\x01' contains a blank or control character" "$ERR"
printf 'nameserver 192.0.2.1\nsearch a\000b\n' | rc -a eth0.x
check_eq "a NUL byte: exit status" 1 "$RC"
check_match "a NUL byte: says so" "stdin line 2 holds a NUL byte" "$ERR"
printf 'nameserver 192.0.2.1\nsearch %s\n' "$(printf '%256s' '' | tr ' ' d)" | rc -a eth0.x
check_eq "a 256-byte domain: exit status" 1 "$RC"
check_match "a 256-byte domain: says so" "too long \(256 bytes, at most 255\)" "$ERR"
printf 'nameserver %s\n' "$(printf '%5000s' '' | tr ' ' 1)" | rc -a eth0.x
check_eq "an over-long nameserver line: exit status" 1 "$RC"
check_match "an over-long nameserver line: says so" "stdin line 1 is longer than 4095 bytes" "$ERR"
printf 'nameserver -x\n' | rc -a eth0.x
check_eq "a server starting with '-': exit status" 1 "$RC"
seq -f 'nameserver 10.0.%g.1' 1 128 | rc -a eth0.x
check_eq "128 entries: exit status" 1 "$RC"
check_match "128 entries: says so" "too many nameserver and search entries" "$ERR"
check_eq "refused stdin: nothing sent" "$before" "$(requests CTL)"

refused "-a without NAME" 1 -a
check_match "-a without NAME: says what to give" "-a needs a NAME, e\.g\. 'resolvconf -a eth0\.dhclient'" "$ERR"
refused "-d without NAME" 1 -d -f
refused "two NAMEs" 1 -d eth0.a eth0.b
check_match "two NAMEs: names the extra" "unexpected argument 'eth0\.b'" "$ERR"
refused "-a and -d" 1 -a -d eth0.a
refused "NAME with a '/'" 1 -d ../eth0
check_match "NAME with a '/': says so" "NAME '\.\./eth0' holds a '/'" "$ERR"
refused "NAME starting with '.'" 1 -d .eth0
refused "NAME starting with '-'" 1 -d -- -eth0
refused "NAME with a blank" 1 -d 'eth0 x'
refused "empty NAME" 1 -d ''
refused "NAME with a newline" 1 -d $'eth0\nSTUBCTL1 text reload'
refused "-m without a number" 1 -a eth0.a -m x
refused "-m without a value" 1 -a eth0.a -m

# openresolv's own options: not this resolvconf's.
for opt in -I "-i eth0" "-l eth0" -R "-r eth0" -v -V -i; do
	# shellcheck disable=SC2086 # the option and its value are two words
	refused "$opt" 1 $opt
	check_match "$opt: says it is not supported here" "^resolvconf: ${opt%% *} is not supported by this resolvconf \(stubd's\)" "$ERR"
done

# ---- no command: 99, or nothing to do: 0 ----

refused "no command" 99
check_match "no command: says what to give" "no command given: -a NAME .* or -d NAME" "$ERR"
check_match "no command: points at --help" "run 'resolvconf --help'" "$ERR"
refused "unknown option" 99 -z eth0
check_match "unknown option: named" "unknown option '-z'" "$ERR"
refused "unknown long option" 99 --frobnicate
refused "only a NAME" 99 eth0.dhclient

before=$(requests CTL)
for opt in -u --enable-updates --disable-updates --updates-are-enabled; do
	rc $opt </dev/null
	check_eq "$opt: exit status" "0::" "$RC:$OUT:$ERR"
done
check_eq "-u and the like send nothing" "$before" "$(requests CTL)"

rc --help
check_eq "--help: exit status" 0 "$RC"
check_match "--help: resolvconf's usage" "^Usage: resolvconf -a NAME" "$OUT"
rc -h
check_match "-h: resolvconf's usage" "^Usage: resolvconf -a NAME" "$OUT"
rc --version
check_match "--version: says it is stubd's" "^resolvconf \(stubd\) [0-9]+\.[0-9]+\.[0-9]+$" "$OUT"
ln -s "$STUBCTL" "$TMP/bin/stubctl"
RC=0
(cd "$TMP/bin" && ./resolvconf --version) >"$TMP/out" || RC=$?
check_match "run by a relative path" "^resolvconf \(stubd\)" "$(cat "$TMP/out")"
"$TMP/bin/stubctl" --help >"$TMP/out"
check_match "under its own name it is stubctl" "^Usage: stubctl " "$(cat "$TMP/out")"

# ---- the daemon's answer ----

fake_control_start FAILING --reply-file "$TMP/failing.reply"
printf '1\nno interface tun9 (resolvconf -f: no error)\n' >"$TMP/failing.reply"
printf 'nameserver 10.9.0.1\n' | STUBCTL_SOCKET=$FAILING rc -a tun9.openvpn
check_eq "daemon refuses: exit status" 1 "$RC"
check_eq "daemon refuses: its message relayed" "no interface tun9 (resolvconf -f: no error)" "$ERR"
check_eq "daemon refuses: the request" "STUBCTL1 text resolvconf-add tun9.openvpn --nameserver 10.9.0.1" \
	"$(last_request_of FAILING)"
printf '2\n192.0.2.300 is not an IP address\n' >"$TMP/failing.reply"
printf 'nameserver 192.0.2.300\n' | STUBCTL_SOCKET=$FAILING rc -a eth0.x
check_eq "daemon usage error: exit status 1, resolvconf's" 1 "$RC"
check_eq "daemon usage error: its message relayed" "192.0.2.300 is not an IP address" "$ERR"
printf '0\nok\n' >"$TMP/failing.reply"
STUBCTL_SOCKET=$FAILING rc -d eth0.x
check_eq "daemon says yes: exit status, output" "0:ok:" "$RC:$OUT:$ERR"

# The daemon cannot be reached: 1, not stubctl's 3.
STUBCTL_SOCKET=$TMP/missing.sock rc -d tun.wg0 -f
check_eq "no daemon: exit status" 1 "$RC"
check_match "no daemon: names the socket" "^resolvconf: cannot connect to stubd at $TMP/missing\.sock: No such file or directory" "$ERR"
check_match "no daemon: says how to give another socket" "STUBCTL_SOCKET=SOCKET" "$ERR"
check_no_match "no daemon: no stubctl option to give" "-s SOCKET" "$ERR"
: >"$TMP/not-a-socket"
printf 'nameserver 10.0.0.1\n' | STUBCTL_SOCKET=$TMP/not-a-socket rc -a tun.wg0
check_eq "a file that is no socket: exit status" 1 "$RC"
STUBCTL_SOCKET=/tmp/$(printf '%120s' '' | tr ' ' s) rc -d tun.wg0
check_eq "a socket path too long: exit status" 1 "$RC"
check_match "a socket path too long: says so" "File name too long" "$ERR"

pass
