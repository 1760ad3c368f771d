# The cache file against smaller caps: a file saved with more answers than
# the next start's cache-size (or cache-memory) holds loads the most
# recently used ones, the caps hold, and the start says how many it kept
# and how many it dropped. cache_file.sh has the rest of cache-file.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

mkdir "$TMP/c"
chown nobody:nogroup "$TMP/c"

# asked FAKEUP NAME: how many times NAME (A) reached that fakeup.
asked() { count_log "$1" " ${2//./\\.}\. A "; }
# cache_status FIELD: a field of "stubctl status --json"'s cache section.
cache_status() { ctl status --json | jq -r ".cache.$1"; }
# header_count FILE: the record count in FILE's header (offset 24, 8 bytes, big-endian).
header_count() { od -An -tu1 -j24 -N8 "$1" | awk '{ n = 0; for (i = 1; i <= NF; i++) n = n * 256 + $i; print n }'; }

# ---- cache-size 3, a file of 10: the 3 most recently used ---------------------
fakeup_start LRU
F=$TMP/c/lru
stubd_start -u "$LRU" --cache-file "$F"
for i in 0 1 2 3 4 5 6 7 8 9; do
	q +short "n$i.lru.test" A >/dev/null
done
# Used again, each from the cache, in another order: the last three used
# are n2, n6, n4 (a few ms apart, so the order is clear), not the last
# three stored (n7, n8, n9).
for i in 3 7 1 9 5 0 8 2 6 4; do
	sleep 0.01
	q +short "n$i.lru.test" A >/dev/null
done
check_eq "10 names, each asked upstream once" 10 "$(count_log LRU '\.lru\.test\. A')"
stubd_stop
check_eq "the file has 10 answers" 10 "$(header_count "$F")"
stubd_start -u "$LRU" --cache-file "$F" --cache-size 3
size_log=$(cat "$TMP/stubd.log")
size_loaded=$(cache_status loaded_at_start)
check_eq "cache-size 3 holds during the load: 3 entries" 3 "$(cache_status entries)"
for i in 2 6 4; do
	check_eq "n$i, among the last 3 used, answers" 192.0.2.1 "$(q +short "n$i.lru.test" A)"
done
check_eq "n2, n6, n4 answered from the cache" "1 1 1" \
	"$(asked LRU n2.lru.test) $(asked LRU n6.lru.test) $(asked LRU n4.lru.test)"
for i in 0 1 3 5 7 8 9; do
	q +short "n$i.lru.test" A >/dev/null
done
check_eq "the 7 others were asked again" "2 2 2 2 2 2 2" \
	"$(for i in 0 1 3 5 7 8 9; do asked LRU "n$i.lru.test"; done | tr '\n' ' ' | sed 's/ $//')"
stubd_stop

# ---- cache-memory 64K, a file of about 1000 answers ---------------------------
fakeup_start MEM
F=$TMP/c/mem
printf 'max-inflight = 100000\n' >"$TMP/fill.conf"
stubd_start -u "$MEM" -c "$TMP/fill.conf" --cache-file "$F"
q +short first.mem.test A >/dev/null
# About 1000 random names, 250 at a time, until the cache holds 1000 (a
# busy machine may drop some of a batch on the way).
s=0
while [ "$(ctl status --json | jq .cache.entries)" -lt 1000 ] && [ $s -lt 20 ]; do
	s=$((s + 1))
	dq namesflood 250 flood.mem.test --seed "$s"
	sleep 0.3
done
q +short last.mem.test A >/dev/null
stubd_stop
saved=$(header_count "$F")
check "the file has 1000 answers or more ($saved)" test "$saved" -ge 1000
printf 'cache-memory = 65536\n' >"$TMP/mem.conf"
stubd_start -u "$MEM" -c "$TMP/mem.conf" --cache-file "$F"
mem_log=$(cat "$TMP/stubd.log")
mem_loaded=$(cache_status loaded_at_start)
mem_entries=$(cache_status entries)
check "cache-memory holds during the load ($(cache_status memory_bytes) bytes)" \
	test "$(cache_status memory_bytes)" -le 65536
check "... fewer entries than the file's $saved ($mem_entries)" test "$mem_entries" -lt "$saved"
check "... but some ($mem_entries)" test "$mem_entries" -gt 100
check_eq "the last name used answers" 192.0.2.1 "$(q +short last.mem.test A)"
check_eq "... from the cache" 1 "$(asked MEM last.mem.test)"
q +short first.mem.test A >/dev/null
check_eq "the first name used was dropped: asked again" 2 "$(asked MEM first.mem.test)"
stubd_stop

# ---- what the start says it loaded -------------------------------------------
# Last, so that the checks above run even when these fail: the log line
# and stubctl status count what the load kept, not what it read.
echo "[$TEST_NAME] cache-size 3: $(grep -o 'cache loaded .*' <<<"$size_log"); status: $size_loaded loaded"
echo "[$TEST_NAME] cache-memory 64K: $(grep -o 'cache loaded .*' <<<"$mem_log"); status: $mem_loaded loaded, $mem_entries entries"
check_match "cache-size 3: the log says 3 loaded, 7 over the caps" \
	"cache loaded from $TMP/c/lru: 3 answers \(saved [0-9]+ s ago; 0 expired, 7 over the caps, 0 refused\)" \
	"$size_log"
check_eq "cache-size 3: status says 3 loaded at start" 3 "$size_loaded"
check_eq "cache-memory: status says loaded at start = the entries kept" "$mem_entries" "$mem_loaded"
check_match "cache-memory: the log says so, the rest over the caps" \
	"cache loaded from $TMP/c/mem: $mem_entries answers \(saved [0-9]+ s ago; 0 expired, $((saved - mem_entries)) over the caps, 0 refused\)" \
	"$mem_log"
pass
