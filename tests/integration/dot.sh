# DNS over TLS to Unbound (issue 17's Tests): strict mode answers over a
# verified connection, for #NAME and for the bare address; a certificate
# for another name, an expired one and a self-signed one fail the server
# promptly, with the reason shown, and not one query goes out in plain
# text; opportunistic mode takes an unverified certificate and falls back
# to plain DNS on the same port when nothing speaks TLS there; 100
# concurrent misses share at most 2 connections; a connection the server
# closed while idle does not lose the next query; a re-open resumes the
# TLS session. Unbound forwards to fakeup UP, whose log shows what got
# through; Unbound's own log ("info: 127.x.y.z NAME. A IN") shows every
# query it got, over TLS or not.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

PORT=$(rand_port)
ADDR=$(rand_addr) IADDR=$(rand_addr) MADDR=$(rand_addr) EADDR=$(rand_addr) SADDR=$(rand_addr)
fakeup_start UP --answer 192.0.2.53
tls_cert_make dot.test "$ADDR" "$IADDR"
unbound_tls_start DOT "$ADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
# Unbound closes a connection 1 s after its last query.
unbound_tls_start IDLE "$IADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP" "tcp-idle-timeout: 1000"
tls_cert_make other.test # no IP address in it either
unbound_tls_start MIS "$MADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
tls_cert_make --expired dot.test "$EADDR"
unbound_tls_start EXP "$EADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
tls_cert_make --self-signed dot.test "$SADDR"
unbound_tls_start SELF "$SADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"

f() { upstream_field "$@"; }
# asked VAR NAME: how many times Unbound VAR logged a query for NAME.
asked() { grep -c "info: [0-9.]* ${2//./\\.}\. " "$TMP/$1.log" || true; }
conns_are() { [ "$(tcp_conns "$1")" = "$2" ]; }
# at_least MIN VALUE: VALUE is a number >= MIN (an integer or not).
at_least() { awk -v m="$1" -v v="$2" 'BEGIN { exit !(v ~ /^[0-9.]+$/ && v + 0 >= m) }'; }
# conf MODE [LINE...]: stubd.conf with dns-over-tls = MODE and the test CA.
conf() {
	local mode=$1
	shift
	stubd_conf "dns-over-tls = $mode" "tls-ca-file = $TLS_CA" "$@"
}
restart() { stubd_stop; stubd_start -c "$TMP/stubd.conf" "$@"; }
check_imatch() { # check_imatch DESCRIPTION REGEX TEXT: as check_match, any case
	CHECKS=$((CHECKS + 1))
	grep -Eiq -- "$2" <<<"$3" || fail "$1: no match for /$2/ (any case) in: $3"
}

# ---- strict with #NAME ---------------------------------------------------
conf yes "tcp-max-queries = 256"
stubd_start -c "$TMP/stubd.conf" -u "$DOT#dot.test"
check_eq "strict: the answer through Unbound" 192.0.2.53 "$(a strict.example.test)"
check_eq "strict: Unbound got it" 1 "$(asked DOT strict.example.test)"
check_eq "strict: dns_over_tls" yes "$(f "$DOT" dns_over_tls)"
check_eq "strict: transport" tls "$(f "$DOT" transport)"
check_match "strict: tls_version" '^TLSv1\.[23]$' "$(f "$DOT" tls_version)"
check_eq "strict: tls_name is #NAME" dot.test "$(f "$DOT" tls_name)"
check_eq "strict: tls_verified" true "$(f "$DOT" tls_verified)"
check_eq "strict: one connection" 1 "$(f "$DOT" connections)"
check_eq "strict: one handshake" 1 "$(f "$DOT" handshakes)"
check_eq "strict: one query over TLS" 1 "$(f "$DOT" tls_queries)"
check_eq "strict: its connection stays open" 1 "$(tcp_conns "$DOT")"

# 100 concurrent misses, one TCP connection from dnsq to stubd: at most 2
# connections to Unbound at any moment (sampled) and opened in all.
for i in $(seq 1 100); do echo "c$i.example.test"; done >"$TMP/asked"
: >"$TMP/sampling"
(while [ -e "$TMP/sampling" ]; do tcp_conns "$DOT"; sleep 0.01; done >"$TMP/conns") &
sampler=$!
mapfile -t names <"$TMP/asked"
"$DNSQ" --timeout 10000 "$STUBD_ADDR:$STUBD_PORT" pipeline "${names[@]}" >"$TMP/pipe.out" ||
	fail "100 concurrent: $(tail -n 3 "$TMP/pipe.out")"
rm "$TMP/sampling"
wait "$sampler"
good=$(awk 'FNR == NR { want[FNR] = $0 "."; next }
	/^id=/ { split($1, a, "="); if ($3 == "rcode=NOERROR" && $4 == "an=1" && substr($2, 6) == want[a[2]]) n++ }
	END { print n + 0 }' "$TMP/asked" "$TMP/pipe.out")
check_eq "100 concurrent: all answered" 100 "$good"
check_eq "100 concurrent: each a miss that reached fakeup" 100 "$(grep -o ' c[0-9]*\.example\.test\. A' "$TMP/UP.log" | sort -u | wc -l)"
check_between "100 concurrent: at most 2 connections at once" 1 2 "$(sort -n "$TMP/conns" | tail -n 1)"
check_between "100 concurrent: at most 2 connections opened in all" 1 2 "$(f "$DOT" connections)"
check_between "100 concurrent: 101 queries over TLS (a few re-sent at most)" 101 110 "$(f "$DOT" tls_queries)"
qpc=$(f "$DOT" queries_per_connection)
check "queries per connection shown: at least 50 ($qpc)" at_least 50 "$qpc"

# ---- strict: refused certificates ---------------------------------------
# A plain query, were stubd to send one, would go to the same address on
# the given port (Unbound answers UDP there, and logs it) or on port 53: a
# fakeup there counts.
fake53() { # fake53 VAR ADDR: a fakeup on ADDR port 53, when it can have it
	"$FAKEUP" -l "$2:53" --ready-file "$TMP/$1.ready" --log "$TMP/$1.log" 2>"$TMP/$1.stderr.log" &
	PIDS+=($!)
	wait_for 3 test -f "$TMP/$1.ready" || { echo "note: no fakeup on $2:53: $(cat "$TMP/$1.stderr.log")"; : >"$TMP/$1.log"; }
}
fake53 P53M "$MADDR"
fake53 P53E "$EADDR"
fake53 P53S "$SADDR"
# refused CASE VAR SERVER REASON P53: with dns-over-tls = yes, SERVER
# (Unbound VAR) fails the handshake: SERVFAIL without waiting out a
# timeout, twice, REASON (an extended regex, any case) in last_error and in
# the log, no query at Unbound nor on port 53.
refused() {
	local case=$1 var=$2 server=$3 reason=$4 p53=$5 t0 dt
	conf yes
	restart -u "$server"
	t0=$(now_ms)
	check_eq "$case: SERVFAIL" SERVFAIL "$(rcode "$case.1.example.test")"
	dt=$(($(now_ms) - t0))
	check "$case: promptly, not after a timeout (${dt} ms)" test "$dt" -lt 2000
	check_eq "$case: asked again, SERVFAIL again" SERVFAIL "$(rcode "$case.2.example.test")"
	check_eq "$case: Unbound got no query at all" 0 "$(grep -c "info: .*$case\." "$TMP/$var.log" || true)"
	check_eq "$case: nothing on port 53" 0 "$(count_log "$p53" "$case\.")"
	check_eq "$case: nothing reached fakeup" 0 "$(count_log UP "$case\.")"
	check_match "$case: last_error is a TLS reason" "^TLS: " "$(f "$server" last_error)"
	check_imatch "$case: last_error says why" "$reason" "$(f "$server" last_error)"
	CHECKS=$((CHECKS + 1))
	grep -Ei "upstream ${server%%#*}.*TLS failed.*($reason)" "$TMP/stubd.log" >/dev/null ||
		fail "$case: no log line 'upstream ${server%%#*}...: TLS failed: ...$reason...'"
	check "$case: stubd still running" stubd_alive
}
refused mismatch MIS "$MIS#dot.test" "mismatch" P53M
refused mismatch-addr MIS "$MIS" "mismatch" P53M
refused expired EXP "$EXP#dot.test" "expired" P53E
refused selfsigned SELF "$SELF#dot.test" "unknown CA" P53S

# ---- opportunistic -------------------------------------------------------
# A certificate that fails the check is still used: encrypted, not
# authenticated (RFC 8310's opportunistic profile), and shown so.
conf opportunistic
restart -u "$EXP#dot.test"
check_eq "opportunistic, expired certificate: answered" 192.0.2.53 "$(a opp.example.test)"
check_eq "opportunistic, expired certificate: over TLS" 1 "$(asked EXP opp.example.test)"
check_eq "opportunistic, expired certificate: P53 asked nothing" 0 "$(count_log P53E 'opp\.')"
check_eq "opportunistic: dns_over_tls" opportunistic "$(f "$EXP" dns_over_tls)"
check_eq "opportunistic, expired certificate: transport" tls "$(f "$EXP" transport)"
check_eq "opportunistic, expired certificate: not verified" false "$(f "$EXP" tls_verified)"

# ---- connections that close -------------------------------------------------
# Unbound closes the idle connection after 1 s; the next query goes over a
# new one, at once: not lost, so not waiting out upstream-timeout (2 s).
conf yes "upstream-timeout = 2000"
restart -u "$IDLE#dot.test"
check_eq "idle close: first answer" 192.0.2.53 "$(a idle1.example.test)"
check_eq "idle close: one connection" 1 "$(tcp_conns "$IDLE")"
check "idle close: Unbound closed it after 1 s" wait_for 4 conns_are "$IDLE" 0
t0=$(now_ms)
check_eq "idle close: the next query answered" 192.0.2.53 "$(a idle2.example.test)"
dt=$(($(now_ms) - t0))
check "idle close: not lost on the closed connection (${dt} ms)" test "$dt" -lt 1500
check_eq "idle close: a second connection" 2 "$(f "$IDLE" connections)"
check "idle close: stubd still running" stubd_alive

# stubd closes its idle connection after tls-idle-timeout; the re-open
# resumes the TLS session.
conf yes "tls-idle-timeout = 500"
restart -u "$DOT#dot.test"
check_eq "resume: first answer" 192.0.2.53 "$(a res1.example.test)"
check "resume: stubd closed the idle connection" wait_for 3 conns_are "$DOT" 0
check_eq "resume: second answer" 192.0.2.53 "$(a res2.example.test)"
check_eq "resume: two connections" 2 "$(f "$DOT" connections)"
check_eq "resume: two handshakes" 2 "$(f "$DOT" handshakes)"
check_eq "resume: the second resumed the session" 1 "$(f "$DOT" resumptions)"
check_eq "resume: one query per connection" 1 "$(f "$DOT" queries_per_connection | sed 's/\.0*$//')"

# ---- strict without #NAME: the address ------------------------------------------
conf yes
restart -u "$DOT"
check_eq "strict, no #NAME: the answer" 192.0.2.53 "$(a byaddr.example.test)"
check_eq "strict, no #NAME: the certificate was checked for the address" "$ADDR" "$(f "$DOT" tls_name)"
check_eq "strict, no #NAME: verified" true "$(f "$DOT" tls_verified)"

# ---- opportunistic without a TLS listener ------------------------------------------
# Nothing listens for TLS: the connection is refused, plain DNS on the
# same port (a UDP-only fakeup) answers at once.
FADDR=$(rand_addr)
fakeup_start_at FB "$FADDR:$PORT" --udp-only --answer 192.0.2.54
conf opportunistic
restart -u "$FB"
t0=$(now_ms)
check_eq "opportunistic, no TLS listener: the plain answer" 192.0.2.54 "$(a fb.example.test)"
dt=$(($(now_ms) - t0))
check "opportunistic, no TLS listener: at once (${dt} ms)" test "$dt" -lt 2000
check_eq "opportunistic, no TLS listener: the fakeup on the port got it" 1 "$(count_log FB '^udp fb\.example\.test\. A')"
check_eq "opportunistic, no TLS listener: transport" udp-fallback "$(f "$FB" transport)"
check "opportunistic, no TLS listener: the log says the connection was refused" \
	grep -Eiq "upstream ${FB//./\\.}[^ ]* .*TLS failed: connection refused" "$TMP/stubd.log"
check_imatch "opportunistic, no TLS listener: last_error says why" '^TLS: connection refused' "$(f "$FB" last_error)"

# ---- a CA file that is not PEM ------------------------------------------------------
# Readable, so the config check lets it by; OpenSSL cannot load it: the log
# says so at start, a strict server fails at once and says why.
printf 'not a certificate\n' >"$TMP/bad-ca.pem"
stubd_conf "dns-over-tls = yes" "tls-ca-file = $TMP/bad-ca.pem"
restart -u "$DOT#dot.test"
check "bad CA file: the log at start names it" grep -q "tls-ca-file $TMP/bad-ca.pem: cannot load it" "$TMP/stubd.log"
check_eq "bad CA file: SERVFAIL" SERVFAIL "$(rcode badca.example.test)"
check_imatch "bad CA file: last_error says what to look at" '^TLS: no CA certificates loaded \(tls-ca-file' \
	"$(f "$DOT#dot.test" last_error)"
check "stubd still running" stubd_alive
pass
