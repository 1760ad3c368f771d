# stubctl's own side, with no stubd: the command line is checked before
# any connection (usage errors are exit 2 with or without a daemon), an
# unreachable socket is exit 3 with a message that says what to do, and a
# fake control socket (a few lines of perl, which Debian always has) shows
# the request line stubctl sends and how it relays each kind of reply.
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
# socket is one that does not exist: usage errors come first.
usage_error() {
	local what=$1
	shift
	ctl -s "$TMP/nothing-here.sock" "$@"
	check_eq "$what: exit status" 2 "$RC"
	check_match "$what: points at --help" "^stubctl: .*stubctl --help" "$ERR"
	check_eq "$what: nothing on stdout" "" "$OUT"
}

rep() { printf "%${2}s" "" | tr ' ' "$1"; } # rep CHAR N: CHAR N times
# type_opts N TYPE: sets TYPE_OPTS to N times "-t TYPE".
type_opts() {
	TYPE_OPTS=()
	local n
	for ((n = 0; n < $1; n++)); do TYPE_OPTS+=(-t "$2"); done
}

# ---- help and version ----

ctl --help
check_eq "--help exit status" 0 "$RC"
for cmd in status query flush-cache statistics reset-statistics reload dump-cache dns domain \
	default-route revert; do
	check_match "--help lists $cmd" "^  $cmd( |$)" "$OUT"
done
check_match "--help names the options" '--json' "$OUT"
check_match "--help: statistics takes --prometheus" '^  statistics \[--prometheus\]' "$OUT"
check_match "--help: writing the textfile collector's file" \
	'statistics --prometheus >DIR/stubd\.prom\.\$\$ &&' "$OUT"
check_eq "--help nothing on stderr" "" "$ERR"
ctl -h
check_eq "-h exit status" 0 "$RC"
check_match "-h prints the usage" '^Usage: stubctl ' "$OUT"
ctl query --help
check_eq "--help after a command" 0 "$RC"

ctl --version
check_eq "--version exit status" 0 "$RC"
check_match "--version" '^stubctl [0-9]+\.[0-9]+\.[0-9]+' "$OUT"

# ---- usage errors: exit 2, even with no daemon ----

usage_error "no command"
usage_error "unknown command" frobnicate
check_match "unknown command named" "unknown command 'frobnicate'" "$ERR"
usage_error "unknown option" status --frobnicate
check_match "unknown option named" "'--frobnicate'" "$ERR"
usage_error "unknown short option" -x status
usage_error "-s without a value" status -s
usage_error "query without NAME" query
usage_error "query -t without a TYPE" query example.com -t
usage_error "query with a bad TYPE" query example.com -t 'A;B'
usage_error "query with two NAMEs" query example.com example.org
usage_error "NAME starting with '-'" query -- -example.com
usage_error "flush-cache --zone without NAME" flush-cache --zone
usage_error "flush-cache with two NAMEs" flush-cache a.example b.example
usage_error "status with an argument" status now
usage_error "-t outside query" status -t A
usage_error "--no-cache outside query" flush-cache --no-cache
usage_error "--zone outside flush-cache" query example.com --zone
usage_error "--prometheus outside statistics" status --prometheus
check_match "--prometheus: says where it belongs" "'statistics' only" "$ERR"
usage_error "--prometheus with --json" statistics --prometheus --json
check_match "--prometheus with --json: one format" 'two output formats' "$ERR"
usage_error "statistics with an argument" statistics now
usage_error "a word with a space" query 'exa mple.com'
check_match "the blank is named" 'blank or control character' "$ERR"
usage_error "a word with a newline" query $'example.com\nSTUBCTL1 text reload'
check_match "control characters shown escaped" 'example\.com\\x0aSTUBCTL1' "$ERR"
usage_error "a word with a tab" flush-cache $'a\tb'
usage_error "an empty word" query ''
usage_error "a word over 255 bytes" query "$(rep a 256)"
# The daemon takes at most 8 types in one query. (A request over
# CONTROL_REQUEST_MAX bytes or CONTROL_MAX_ARGS words: stubctl_links.sh.)
type_opts 9 A
usage_error "9 types" query example.com "${TYPE_OPTS[@]}"
check_match "9 types: says how many may be" 'at most 8 -t options' "$ERR"
usage_error "empty socket path" -s '' status
usage_error "socket path too long for sockaddr_un" -s "/tmp/$(rep s 120)" status
check_match "too long: says so" 'too long' "$ERR"

# ---- the daemon cannot be reached: exit 3 ----

ctl -s "$TMP/missing.sock" status
check_eq "missing socket: exit status" 3 "$RC"
check_match "missing socket: names the path" "$TMP/missing\.sock" "$ERR"
check_match "missing socket: the error" 'No such file or directory' "$ERR"
check_match "missing socket: how to start stubd" "systemctl start stubd.*stubd -f" "$ERR"
check_match "missing socket: how to give the socket" '-s SOCKET' "$ERR"

: >"$TMP/regular-file"
ctl -s "$TMP/regular-file" status
check_eq "regular file as socket: exit status" 3 "$RC"
check_match "regular file: names the path and says why" "$TMP/regular-file: not a socket" "$ERR"

ctl -s "$TMP" status
check_eq "directory as socket: exit status" 3 "$RC"

# A socket nobody listens on any more (a stubd that died): refused.
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!\n"' \
	"$TMP/stale.sock"
ctl -s "$TMP/stale.sock" status
check_eq "stale socket: exit status" 3 "$RC"
check_match "stale socket: refused" 'Connection refused' "$ERR"
check_match "stale socket: how to start stubd" 'systemctl start stubd' "$ERR"

# The options may follow the command, and -s wins over STUBCTL_SOCKET.
ctl query example.com --json -s "$TMP/after.sock"
check_eq "-s after the command: exit status" 3 "$RC"
check_match "-s after the command is used" "$TMP/after\.sock" "$ERR"
RC=0
STUBCTL_SOCKET="$TMP/env.sock" "$STUBCTL" status 2>"$TMP/err" || RC=$?
check_eq "STUBCTL_SOCKET: exit status" 3 "$RC"
check_match "STUBCTL_SOCKET is used" "$TMP/env\.sock" "$(cat "$TMP/err")"
STUBCTL_SOCKET="$TMP/env.sock" "$STUBCTL" -s "$TMP/flag.sock" status 2>"$TMP/err" || true
check_match "-s wins over STUBCTL_SOCKET" "$TMP/flag\.sock" "$(cat "$TMP/err")"
POSIXLY_CORRECT=1 "$STUBCTL" status -s "$TMP/posix.sock" 2>"$TMP/err" || true
check_match "options after the command even with POSIXLY_CORRECT" "$TMP/posix\.sock" \
	"$(cat "$TMP/err")"

# No permission: a socket in a folder the user cannot search. Root passes
# every such check, so as root the test runs stubctl as nobody (when
# setpriv exists and nobody may run the binary).
mkdir -m 000 "$TMP/locked"
as_user=()
if [ "$(id -u)" = 0 ]; then
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	"${as_user[@]}" "$STUBCTL" --version >/dev/null 2>&1 || as_user=(false)
fi
RC=0
"${as_user[@]}" "$STUBCTL" -s "$TMP/locked/control.sock" status 2>"$TMP/err" || RC=$?
if [ "${as_user[*]}" != false ]; then
	check_eq "no permission: exit status" 3 "$RC"
	check_match "no permission: the error" "$TMP/locked/control\.sock: Permission denied" \
		"$(cat "$TMP/err")"
	check_match "no permission: says what to do" \
		'as root or as a member of the control group \(control-group in stubd\.conf\)' \
		"$(cat "$TMP/err")"
fi

# ---- a fake control socket: the request stubctl sends, the reply relayed ----

# Serves one connection at a time: logs the request (read up to stubctl's
# shutdown), answers with the bytes of $TMP/reply, or with nothing and
# without closing when that file says SILENT. A reply that starts with
# NOREAD is sent (without that word) with the request left unread, as a
# daemon that refuses a client at once might do.
cat >"$TMP/fakectl.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
my ($path, $dir) = @ARGV;
$SIG{PIPE} = 'IGNORE';
my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $path, Listen => 5)
	or die "listen on $path: $!\n";
open(my $ready, '>', "$dir/fakectl.ready") or die; close $ready;
my @held;
while (my $c = $srv->accept) {
	open(my $f, '<:raw', "$dir/reply") or die; my $reply = do { local $/; <$f> } // ''; close $f;
	if ($reply =~ s/^NOREAD//) {
		select(undef, undef, undef, 0.2);  # the request is in, unread
	} else {
		my $req = do { local $/; <$c> } // '';
		open(my $log, '>>', "$dir/requests.log") or die; print $log $req; close $log;
	}
	if ($reply eq 'SILENT') { push @held, $c; next; }
	print $c $reply;
	close $c;
}
EOF
SOCK="$TMP/fake.sock"
perl "$TMP/fakectl.pl" "$SOCK" "$TMP" 2>"$TMP/fakectl.log" &
PIDS+=($!)
wait_for 5 test -f "$TMP/fakectl.ready" || fail "fake control socket did not start"

reply() { printf '%b' "$1" >"$TMP/reply"; } # reply TEXT: with \n etc.
last_request() { tail -n 1 "$TMP/requests.log"; }

# One canonical request line, whatever the order and spelling.
reply 'STUBCTL1 0\n{"answers": []}\n'
ctl query Example.COM --type mx -taaaa -t TYPE65 --no-cache --json -s "$SOCK"
check_eq "query: exit status" 0 "$RC"
check_eq "query: request line" "STUBCTL1 json query Example.COM -t MX -t AAAA -t TYPE65 --no-cache" \
	"$(last_request)"
check_eq "query: body on stdout" '{"answers": []}' "$OUT"
check_eq "query: nothing on stderr" "" "$ERR"

reply 'STUBCTL1 0\nflushed 3\n'
ctl -s "$SOCK" flush-cache --zone example.com
check_eq "flush-cache --zone: request line" "STUBCTL1 text flush-cache example.com --zone" \
	"$(last_request)"
check_eq "flush-cache: body" "flushed 3" "$OUT"
ctl -s "$SOCK" query example.com
check_eq "query, no types: request line" "STUBCTL1 text query example.com" "$(last_request)"
for cmd in status statistics reset-statistics reload dump-cache flush-cache; do
	ctl -s "$SOCK" "$cmd"
	check_eq "$cmd: request line" "STUBCTL1 text $cmd" "$(last_request)"
done
# The exposition is relayed as it comes, on stdout.
reply 'STUBCTL1 0\n# HELP stubd_cache_entries Answers.\n# TYPE stubd_cache_entries gauge\nstubd_cache_entries 3\n'
ctl --prometheus -s "$SOCK" statistics
check_eq "statistics --prometheus: request line" "STUBCTL1 text statistics --prometheus" \
	"$(last_request)"
check_eq "statistics --prometheus: exit status" 0 "$RC"
check_match "statistics --prometheus: the text on stdout" '^stubd_cache_entries 3$' "$OUT"
check_eq "statistics --prometheus: nothing on stderr" "" "$ERR"
type_opts 8 "$(rep A 255)"
ctl -s "$SOCK" query "$(rep a 255)" "${TYPE_OPTS[@]}" --no-cache
check_eq "8 types, the longest words: exit status" 0 "$RC"
check_eq "8 types, the longest words: request line" \
	"STUBCTL1 text query $(rep a 255)$(printf ' -t %s' "$(rep A 255)"{,,,,,,,}) --no-cache" \
	"$(last_request)"
STUBCTL_SOCKET="$SOCK" "$STUBCTL" status >/dev/null
check_eq "STUBCTL_SOCKET finds the daemon" "STUBCTL1 text status" "$(last_request)"

# FORMAT: colour only on a terminal, and not with NO_COLOR or TERM=dumb.
if command -v script >/dev/null; then
	on_tty() { # on_tty COMMAND...: runs it with a pseudo-terminal as stdout
		script -qec "$(printf '%q ' "$@")" /dev/null >/dev/null ||
			fail "on a terminal: $* failed"
	}
	on_tty env -u NO_COLOR TERM=xterm "$STUBCTL" -s "$SOCK" status
	check_eq "terminal: color" "STUBCTL1 color status" "$(last_request)"
	on_tty env NO_COLOR= TERM=xterm "$STUBCTL" -s "$SOCK" status
	check_eq "terminal, NO_COLOR empty: color" "STUBCTL1 color status" "$(last_request)"
	on_tty env NO_COLOR=1 TERM=xterm "$STUBCTL" -s "$SOCK" status
	check_eq "terminal, NO_COLOR=1: text" "STUBCTL1 text status" "$(last_request)"
	on_tty env -u NO_COLOR TERM=dumb "$STUBCTL" -s "$SOCK" status
	check_eq "terminal, TERM=dumb: text" "STUBCTL1 text status" "$(last_request)"
	on_tty env -u NO_COLOR TERM=xterm "$STUBCTL" -s "$SOCK" --json status
	check_eq "terminal, --json: json" "STUBCTL1 json status" "$(last_request)"
fi

# The daemon's exit status is stubctl's; a failure goes to stderr, except
# in JSON, where scripts look for the object on stdout.
reply 'STUBCTL1 1\nnx.example: NXDOMAIN\n'
ctl -s "$SOCK" query nx.example
check_eq "failure: exit status" 1 "$RC"
check_eq "failure: message on stderr" "nx.example: NXDOMAIN" "$ERR"
check_eq "failure: nothing on stdout" "" "$OUT"
reply 'STUBCTL1 1\n{"error": "NXDOMAIN"}\n'
ctl -s "$SOCK" --json query nx.example
check_eq "JSON failure: exit status" 1 "$RC"
check_eq "JSON failure: object on stdout" '{"error": "NXDOMAIN"}' "$OUT"
reply 'STUBCTL1 2\nunknown type FOO\n'
ctl -s "$SOCK" query example.com -t FOO
check_eq "daemon usage error: exit status" 2 "$RC"
check_eq "daemon usage error: message" "unknown type FOO" "$ERR"
reply 'STUBCTL1 1\n'
ctl -s "$SOCK" reload
check_eq "failure without a word: exit status" 1 "$RC"
check_match "failure without a word: stubctl says so" 'failed.*no details' "$ERR"
reply 'STUBCTL1 0\n'
ctl -s "$SOCK" reload
check_eq "empty success" "0::" "$RC:$OUT:$ERR"

reply 'NOREADSTUBCTL1 1\nnot allowed\n'
ctl -s "$SOCK" reload
check_eq "reply with the request unread: exit status" 1 "$RC"
check_eq "reply with the request unread: whole message" "not allowed" "$ERR"

# Replies that are not the protocol's.
for bad in 'HTTP/1.1 400 Bad Request\r\n\r\n' 'STUBCTL1 0' 'STUBCTL1 3\n' 'STUBCTL1 00\n' \
	'STUBCTL2 0\nhi\n' 'stubctl1 0\n'; do
	reply "$bad"
	ctl -s "$SOCK" status
	check_eq "reply '$bad': exit status" 1 "$RC"
	check_match "reply '$bad': message" \
		"^stubctl: unexpected reply from $SOCK \(is it a stubd control socket\?\)$" "$ERR"
	check_eq "reply '$bad': nothing relayed" "" "$OUT"
done
reply ''
ctl -s "$SOCK" status
check_eq "no reply at all: exit status" 1 "$RC"
check_match "no reply at all: message" "$SOCK closed the connection without a reply" "$ERR"

# A big reply arrives whole (it spans many reads).
{ printf 'STUBCTL1 0\n'; head -c 3000000 /dev/zero | tr '\0' 'x'; } >"$TMP/reply"
"$STUBCTL" -s "$SOCK" dump-cache >"$TMP/big" || fail "big reply: exit status $?"
check_eq "big reply: every byte" 3000000 "$(wc -c <"$TMP/big")"
# ... and a reader that stops early is no error.
RC=0
"$STUBCTL" -s "$SOCK" dump-cache 2>"$TMP/err" | head -c 10 >/dev/null || RC=$?
check_eq "reader gone: exit status" 0 "$RC"
check_eq "reader gone: no message" "" "$(cat "$TMP/err")"

# A daemon that accepts but never answers: 15 s, then exit 1.
reply 'SILENT'
t0=$(now_ms)
ctl -s "$SOCK" status
t1=$(now_ms)
check_eq "silent daemon: exit status" 1 "$RC"
check_eq "silent daemon: message" "stubctl: stubd at $SOCK did not answer within 15 s" "$ERR"
check_between "silent daemon: gives up after 15 s" 14500 17000 $((t1 - t0))

pass
