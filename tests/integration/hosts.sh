# The hosts stage: names in the hosts file are answered from it, with AA and
# TTL 0, and never reach the upstream; a name with no record of the asked
# type is NODATA; PTR works for the file's addresses; edits are picked up
# by themselves and on SIGHUP.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
hosts="$TMP/hosts"
cat >"$hosts" <<'HOSTS'
# test hosts file
192.0.2.10   api.local api   # a development override
2001:db8::10 api.local
192.0.2.11   Web.Example.test.
192.0.2.12   web.example.test
bogus-address  broken.example.test
HOSTS
stubd_start -u "$UP" --hosts "$hosts"
check "malformed line reported with file and line" grep -q "hosts:6" "$TMP/stubd.log"

out=$(q Web.Example.TEST A)
check_match "hosts answer is authoritative" 'flags: qr aa rd ra;' "$out"
check_match "both addresses, file order, TTL 0, client case" \
	'Web\.Example\.TEST\.[[:space:]]+0[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.11' "$out"
check_eq "all addresses for the name in file order" "192.0.2.11 192.0.2.12" "$(q +short web.example.test | tr '\n' ' ' | sed 's/ $//')"
check_eq "AAAA from the file" "2001:db8::10" "$(q +short api.local AAAA)"
check_eq "alias" "192.0.2.10" "$(q +short api A)"
check_eq "TCP too" "192.0.2.10" "$(q +tcp +short api.local A)"

out=$(q web.example.test AAAA)
check_match "NODATA for a type the file lacks" 'status: NOERROR.*' "$out"
check_match "NODATA has no answer" 'ANSWER: 0,' "$out"
out=$(q api.local MX)
check_match "NODATA for MX" 'ANSWER: 0,' "$out"

check_eq "PTR for a v4 address in the file" "Web.Example.test." "$(q +short -x 192.0.2.11)"
check_eq "PTR for a v6 address in the file" "api.local." "$(q +short -x 2001:db8::10)"
check_eq "no hosts name was forwarded" 0 "$(count_log UP 'api\|web\.example\|arpa')"
check_eq "a name not in the file still goes upstream" "192.0.2.1" "$(q +short other.example.test)"

# Edited in place: picked up without a signal (checked once a second).
sed -i 's/^192\.0\.2\.10 /192.0.2.20 /' "$hosts"
check "edit picked up without SIGHUP" wait_for 5 bash -c "[ \"\$(dig @$STUBD_ADDR -p $STUBD_PORT +short api.local A)\" = 192.0.2.20 ]"

# Replaced by rename, as editors and config tools do.
printf '192.0.2.30 api.local\n' >"$hosts.new"
mv "$hosts.new" "$hosts"
check "replacement picked up" wait_for 5 bash -c "[ \"\$(dig @$STUBD_ADDR -p $STUBD_PORT +short api.local A)\" = 192.0.2.30 ]"
check_eq "a removed name goes upstream again" "192.0.2.1" "$(q +short web.example.test)"

# SIGHUP reloads at once, even when the mtime did not move.
printf '192.0.2.40 api.local\n' >"$hosts"
touch -d '2000-01-01' "$hosts"
kill -HUP "$STUBD_PID"
check "SIGHUP reload" wait_for 3 bash -c "[ \"\$(dig @$STUBD_ADDR -p $STUBD_PORT +short api.local A)\" = 192.0.2.40 ]"
check "stubd still running" stubd_alive
pass
