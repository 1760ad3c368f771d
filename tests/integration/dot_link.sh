# DNS over TLS per link, set the way systemd-resolved's clients set it:
# resolvectl (the real one, unpacked by tools/deps) on a private system
# bus gives a link a server "ADDR:PORT#NAME" (SetLinkDNSEx) and a mode
# (resolvectl dnsovertls: SetLinkDNSOverTLS). The link's mode wins over
# the global one for that link's servers, in both directions; the same
# server asked in two modes is two servers in stubd's status. Unbound
# serves DNS over TLS (and, on the same port, plain UDP; its log has
# every query either way); the global server is a plain fakeup.
NEEDS_NETNS=1
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"
need_resolvectl
bus_start

PORT=$(rand_port)
ADDR=$(rand_addr) MADDR=$(rand_addr)
fakeup_start_at GLOBAL "$(rand_addr):$PORT" --answer 192.0.2.10
fakeup_start UP --answer 192.0.2.53
tls_cert_make dot.test "$ADDR"
unbound_tls_start DOT "$ADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
tls_cert_make other.test
unbound_tls_start MIS "$MADDR" "$PORT" "$TLS_CERT" "$TLS_KEY" "$UP"
veth_add eth0
veth_add wg0

rctl() { "$RESOLVECTL" "$@"; }
# fm SERVER MODE KEY: KEY of the upstream SERVER in MODE (stubd's status
# may list one address in two modes).
fm() {
	ctl --json status | python3 -c '
import json, sys
for u in json.load(sys.stdin)["upstreams"]:
    if u["address"].split("#")[0] == sys.argv[1] and u.get("dns_over_tls") == sys.argv[2]:
        v = u.get(sys.argv[3], "MISSING")
        print(json.dumps(v) if isinstance(v, (bool, int, float)) else v)
        break
else:
    print("MISSING")' "$@"
}
asked() { grep -c "info: [0-9.]* ${2//./\\.}\. " "$TMP/$1.log" || true; }
# modes_of SERVER: the dns_over_tls of each upstream that is SERVER, sorted
# (the same address may be there in two modes).
modes_of() {
	ctl --json status | python3 -c '
import json, sys
print(" ".join(sorted(u.get("dns_over_tls", "?") for u in json.load(sys.stdin)["upstreams"]
                      if u["address"].split("#")[0] == sys.argv[1])))' "$1"
}

stubd_conf "dbus = yes" "networkd-links-dir = none" "dns-over-tls = no" "tls-ca-file = $TLS_CA"
stubd_start -c "$TMP/stubd.conf" -u "$GLOBAL"
check_match "stubd owns the name" 'owner of org\.freedesktop\.resolve1' "$(cat "$TMP/stubd.log")"
check_eq "the global mode on D-Bus" no "$(busctl get-property org.freedesktop.resolve1 /org/freedesktop/resolve1 \
	org.freedesktop.resolve1.Manager DNSOverTLS | sed 's/^s "\(.*\)"$/\1/')"

# eth0: Unbound for tls.test, checked for dot.test, TLS required on the link.
rctl dns eth0 "$DOT#dot.test" || fail "resolvectl dns eth0 failed"
rctl domain eth0 '~tls.test' || fail "resolvectl domain eth0 failed"
rctl dnsovertls eth0 yes || fail "resolvectl dnsovertls eth0 yes failed"
check_match "resolvectl status eth0: its mode" ' \+DNSOverTLS ' "$(rctl status eth0)"
check_match "resolvectl status eth0: its server and name" "Servers: $ADDR:$PORT#dot\.test" "$(rctl status eth0)"
check_eq "eth0 yes: answered through Unbound" 192.0.2.53 "$(a a.tls.test)"
check_eq "eth0 yes: Unbound got it" 1 "$(asked DOT a.tls.test)"
check_eq "eth0 yes: its server in mode yes" yes "$(modes_of "$DOT")"
check_eq "eth0 yes: over TLS" tls "$(fm "$DOT" yes transport)"
check_eq "eth0 yes: verified for dot.test" "dot.test true" "$(fm "$DOT" yes tls_name) $(fm "$DOT" yes tls_verified)"
check_eq "eth0 yes: other names still go to the global server, in plain" 192.0.2.10 "$(a www.example)"
check_eq "the global server stays in mode no" no "$(modes_of "$GLOBAL")"

# The same server, the link set to no: a server of its own in mode no,
# asked in plain text (Unbound answers UDP on the port too); the TLS
# one's count of TLS queries does not move.
tls_before=$(fm "$DOT" yes tls_queries)
rctl dnsovertls eth0 no || fail "resolvectl dnsovertls eth0 no failed"
check_match "resolvectl status eth0: no" ' -DNSOverTLS ' "$(rctl status eth0)"
check_eq "eth0 no: answered" 192.0.2.53 "$(a b.tls.test)"
check_eq "eth0 no: Unbound got it" 1 "$(asked DOT b.tls.test)"
check_match "eth0 no: the server is in mode no now" '(^| )no( |$)' "$(modes_of "$DOT")"
check_eq "eth0 no: asked in plain" udp "$(fm "$DOT" no transport)"
check_eq "eth0 no: no TLS query more" "$tls_before" "$(fm "$DOT" yes tls_queries | sed 's/^MISSING$/'"$tls_before"'/')"

# wg0: a server whose certificate is for another name. yes: SERVFAIL, and
# Unbound never asked; opportunistic: answered, unverified.
rctl dns wg0 "$MIS#dot.test" || fail "resolvectl dns wg0 failed"
rctl domain wg0 '~vpn.test' || fail "resolvectl domain wg0 failed"
rctl dnsovertls wg0 yes || fail "resolvectl dnsovertls wg0 yes failed"
check_eq "wg0 yes, another name: SERVFAIL" SERVFAIL "$(rcode a.vpn.test)"
check_eq "wg0 yes, another name: no query at Unbound" 0 "$(asked MIS a.vpn.test)"
check_match "wg0 yes, another name: last_error" 'mismatch' "$(fm "$MIS" yes last_error)"
rctl dnsovertls wg0 opportunistic || fail "resolvectl dnsovertls wg0 opportunistic failed"
check_eq "wg0 opportunistic: answered" 192.0.2.53 "$(a b.vpn.test)"
check_eq "wg0 opportunistic: Unbound got it (over TLS: it has no plain fallback here)" 1 "$(asked MIS b.vpn.test)"
check_eq "wg0 opportunistic: over TLS, not verified" "tls false" "$(fm "$MIS" opportunistic transport) $(fm "$MIS" opportunistic tls_verified)"

# The global mode yes with a link saying no: the link's wins for its
# servers. revert takes the link's mode away: the global one applies.
stubd_conf "dbus = yes" "networkd-links-dir = none" "dns-over-tls = yes" "tls-ca-file = $TLS_CA"
stubd_stop
stubd_start -c "$TMP/stubd.conf"
check_match "restarted: D-Bus name" 'owner of org\.freedesktop\.resolve1' "$(cat "$TMP/stubd.log")"
rctl dns eth0 "$DOT#dot.test"
rctl domain eth0 '~tls.test'
rctl dnsovertls eth0 no
check_eq "global yes, eth0 no: answered" 192.0.2.53 "$(a c.tls.test)"
check_eq "global yes, eth0 no: the server in mode no" no "$(modes_of "$DOT")"
check_eq "global yes, eth0 no: transport udp" udp "$(fm "$DOT" no transport)"
rctl dnsovertls eth0 '' || rctl revert eth0
rctl dns eth0 "$DOT#dot.test"
rctl domain eth0 '~tls.test'
check_eq "eth0 unset: answered" 192.0.2.53 "$(a d.tls.test)"
check_match "eth0 unset: the global yes applies" '(^| )yes( |$)' "$(modes_of "$DOT")"
check_eq "eth0 unset: over TLS" tls "$(fm "$DOT" yes transport)"
check "stubd still running" stubd_alive
pass
