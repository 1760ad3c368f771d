# A damaged cache file: truncated, corrupted, foreign, of a future
# version, oversized for the caps, not owned by stubd's user, or a
# symbolic link. Each is reported (a warning naming the file and what is
# wrong), renamed aside to PATH.damaged (replacing an older one), and
# ignored: stubd starts with an empty cache and answers. Each starts from a
# copy of a file stubd saved itself.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

mkdir "$TMP/c"
chown nobody:nogroup "$TMP/c"
F=$TMP/c/cache

# asked NAME: how many times NAME (A) reached the fakeup.
asked() { count_log UP " ${1//./\\.}\. A "; }
# cache_status FIELD: a field of "stubctl status --json"'s cache section.
cache_status() { ctl status --json | jq -r ".cache.$1"; }
# place FILE: a copy of FILE at $F, as stubd would have left it (nobody's, 0600).
place() {
	cp "$1" "$F"
	chown nobody:nogroup "$F"
	chmod 600 "$F"
}
# poke OFFSET HEX: overwrites the bytes at OFFSET of $F with HEX.
poke() { xxd -r -p <<<"$2" | dd of="$F" bs=1 seek="$1" conv=notrunc status=none; }

fakeup_start UP

# The files every case starts from, saved by stubd: five answers, and
# about 1000 for the oversized case.
stubd_start -u "$UP" --cache-file "$TMP/c/five"
for n in d1 d2 d3 d4 d5; do q +short "$n.damage.test" A >/dev/null; done
stubd_stop
mv "$TMP/c/five" "$TMP/five"
printf 'max-inflight = 100000\n' >"$TMP/fill.conf"
stubd_start -u "$UP" -c "$TMP/fill.conf" --cache-file "$TMP/c/big"
# 250 at a time, until the cache holds 1000: a busy machine may drop
# some of a batch on the way.
s=0
while [ "$(ctl status --json | jq .cache.entries)" -lt 1000 ] && [ $s -lt 20 ]; do
	s=$((s + 1))
	dq namesflood 250 flood.damage.test --seed "$s"
	sleep 0.3
done
stubd_stop
mv "$TMP/c/big" "$TMP/big"
size=$(stat -c %s "$TMP/five")

# The file itself is fine: it loads.
place "$TMP/five"
stubd_start -u "$UP" --cache-file "$F"
check_match "the copy of a saved file loads" "cache loaded from $F: 5 answers" "$(cat "$TMP/stubd.log")"
check_eq "d1 from the cache" 192.0.2.1 "$(q +short d1.damage.test A)"
check_eq "... not asked again" 1 "$(asked d1.damage.test)"
stubd_stop
rm -f "$F"

# damaged KIND WHAT [stubd args...]: starts stubd on the damaged $F and
# checks that the warning names $F and WHAT (a regex), that $F went to
# $F.damaged as it was, that the cache starts empty (status, and d1 is
# asked upstream again) and that stubd answers.
damaged() {
	local kind=$1 what=$2
	shift 2
	rm -rf "$TMP/before"
	cp -P "$F" "$TMP/before"
	local d1=$(($(asked d1.damage.test) + 1))
	stubd_start -u "$UP" --cache-file "$F" "$@"
	check_match "$kind: a warning names the file, what is wrong, where it went" \
		"stubd\[warning\]: $F: $what; moved to $F\.damaged; starting with an empty cache" \
		"$(cat "$TMP/stubd.log")"
	echo "[$TEST_NAME] $kind: $(grep -o "$F: .*" "$TMP/stubd.log" | head -n 1)"
	check "$kind: nothing is left at the path" test ! -e "$F" -a ! -L "$F"
	if [ -L "$TMP/before" ]; then
		check "$kind: the link itself was moved aside" test -L "$F.damaged"
		check_eq "$kind: ... still naming its target" "$(readlink "$TMP/before")" "$(readlink "$F.damaged")"
	else
		check "$kind: moved aside as it was" cmp -s "$TMP/before" "$F.damaged"
	fi
	check_eq "$kind: status: 0 loaded" 0 "$(cache_status loaded_at_start)"
	check_match "$kind: status: the file's problem" "$what" "$(cache_status file_error)"
	check_eq "$kind: stubd answers" 192.0.2.1 "$(q +short d1.damage.test A)"
	check_eq "$kind: ... from the upstream: the cache started empty" "$d1" "$(asked d1.damage.test)"
	check "$kind: stubd still runs" stubd_alive
	stubd_stop
	# The stop saved a new file; the next case puts its own there.
	rm -f "$F"
}

place "$TMP/five"
head -c $((size - 7)) "$TMP/five" >"$F"
damaged "truncated payload" "$((size - 56 - 7)) bytes of payload, the header says $((size - 56)) \(truncated\)"

place "$TMP/five"
truncate -s 30 "$F"
damaged "truncated header" "30 bytes, shorter than the 56-byte header \(truncated\)"

place "$TMP/five"
truncate -s 0 "$F"
damaged "empty" "0 bytes, shorter than the 56-byte header \(truncated\)"

# One byte of the payload flipped: inside the first answer.
place "$TMP/five"
byte=$(od -An -tx1 -j100 -N1 "$F" | tr -d ' ')
poke 100 "$(printf '%02x' $((0x$byte ^ 0xff)))"
damaged "a byte of the payload changed" "payload checksum mismatch \(corrupted\)"

# One byte of the header flipped: saved_wall_ms.
place "$TMP/five"
byte=$(od -An -tx1 -j20 -N1 "$F" | tr -d ' ')
poke 20 "$(printf '%02x' $((0x$byte ^ 0x01)))"
damaged "a byte of the header changed" "header checksum mismatch \(corrupted\)"

place "$TMP/five"
printf 'trailing!!' >>"$F"
damaged "bytes after the end" "10 bytes after the payload's end \(corrupted\)"

place "$TMP/five"
head -c 3000 /dev/urandom >"$F"
damaged "random bytes" "not a stubd cache file: bad magic \(foreign\)"

place "$TMP/five"
printf 'nameserver 127.0.0.53\noptions edns0\n' >"$F"
damaged "a text file" "not a stubd cache file: bad magic \(foreign\)"

# Version 2 (offset 8, big-endian): a later stubd's format.
place "$TMP/five"
poke 8 00000002
damaged "future version" "version 2, this stubd reads version 1 \(future version\)"

# A whole file, saved by stubd, larger than the caps allow:
# cache-memory 65536 + cache-size 1 * 64 + 4096 = 69696 bytes.
printf 'cache-memory = 65536\n' >"$TMP/small.conf"
big=$(stat -c %s "$TMP/big")
check "the big file is over 69696 bytes ($big)" test "$big" -gt 69696
place "$TMP/big"
damaged "oversized" "oversized: $big bytes, at most 69696" -c "$TMP/small.conf" --cache-size 1

place "$TMP/five"
chown root:root "$F"
damaged "not owned by stubd's user" "not owned by uid $(id -u nobody) \(owner: uid 0\)"

# A link to a whole file of stubd's: still not followed.
cp -p "$TMP/five" "$TMP/c/target"
chown nobody:nogroup "$TMP/c/target"
ln -s "$TMP/c/target" "$F"
damaged "symbolic link" "a symbolic link, not followed"
check "the link's target is untouched" cmp -s "$TMP/five" "$TMP/c/target"

# After all that, the file a clean stop saves loads again.
stubd_start -u "$UP" --cache-file "$F"
q +short d2.damage.test A >/dev/null
stubd_stop
stubd_start -u "$UP" --cache-file "$F"
check_match "a file saved after the damage loads" "cache loaded from $F: 1 answers" \
	"$(cat "$TMP/stubd.log")"
check_eq "... and the old .damaged stays where it is" 1 "$(find "$TMP/c" -name 'cache.damaged' | wc -l)"
pass
