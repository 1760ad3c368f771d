# Special-use names never leave the machine (RFC 6761, 6762, 7686): they
# are answered by stubd itself even with the hosts file off, and the
# upstream never sees them.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
stubd_start -u "$UP"   # lib.sh turns the hosts file off: these are built in

check_eq "localhost A" "127.0.0.1" "$(q +short localhost A)"
check_eq "localhost AAAA" "::1" "$(q +short LocalHost. AAAA)"
check_eq "*.localhost" "127.0.0.1" "$(q +short app.dev.localhost A)"
check_match "localhost is authoritative" 'flags: qr aa' "$(q localhost A)"
check_match "localhost MX is NODATA" 'status: NOERROR.*' "$(q localhost MX)"
check_match "localhost MX has no answer" 'ANSWER: 0,' "$(q localhost MX)"
check_eq "reverse of 127.0.0.1" "localhost." "$(q +short -x 127.0.0.1)"
check_eq "reverse of 127.1.2.3" "localhost." "$(q +short -x 127.1.2.3)"
check_eq "reverse of ::1" "localhost." "$(q +short -x ::1)"

for name in foo.invalid hidden.onion printer.local printer; do
	check_match "$name is NXDOMAIN" 'status: NXDOMAIN' "$(q "$name" A)"
done

host=$(hostname)
if [ -n "$host" ] && [ "$host" != localhost ]; then
	out=$(q +short "$host" A)
	check_match "own hostname answers" '^[0-9.]+$' "$out"
fi

check_eq "none of them reached the upstream" 0 "$(count_log UP '.')"
check_eq "a normal name still goes upstream" "192.0.2.1" "$(q +short www.example.test)"
check_eq "one query upstream" 1 "$(count_log UP 'www\.example\.test')"

# forward-single-label = yes sends single labels upstream.
printf 'forward-single-label = yes\n' >"$TMP/single.conf"
kill -TERM "$STUBD_PID"; wait "$STUBD_PID" || true
stubd_start -u "$UP" -c "$TMP/single.conf"
check_eq "single label forwarded when configured" "192.0.2.1" "$(q +short printer A)"
check_eq "upstream saw it" 1 "$(count_log UP '^udp printer\. ')"
pass
