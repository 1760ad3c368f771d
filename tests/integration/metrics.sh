# stubctl statistics --prometheus against a running stubd, as
# node_exporter's textfile collector is fed: the file is written and
# renamed as the help says, and read back with the Prometheus client's own
# parser (Debian's python3-prometheus-client). Every family promised is
# there with its type and its HELP; the values are those of the queries
# made here (UDP and TCP, cache hits and misses, NXDOMAIN, a slow upstream
# answer, a dead server) and the same as --json statistics says; the
# latency histogram's buckets are cumulative and end in +Inf = _count.
. "$(dirname "$0")/lib.sh"
: "${STUBCTL:?run through ctest, which sets STUBCTL}"

# Debian's python3, which the package installs into, whatever python3
# comes first on PATH.
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	fail "no prometheus_client for $PY: tools/deps test installs the Debian package python3-prometheus-client"

fakeup_start UP
# Nothing answers there: ICMP port unreachable takes it down at the first
# try ("fastest" measures the second server at once).
DEAD=$(closed_addr)
stubd_start -u "$UP" -u "$DEAD"

# Five questions over UDP and one over TCP: three misses that go upstream
# (one NXDOMAIN), two hits, a slow answer (fakeup waits 300 ms on "slow").
check_eq "a miss" 192.0.2.1 "$(q +short www.example.test A)"
check_eq "a hit" 192.0.2.1 "$(q +short www.example.test A)"
check_eq "another hit" 192.0.2.1 "$(q +short www.example.test A)"
check_eq "NXDOMAIN" NXDOMAIN "$(rcode nx.example.test)"
check_match "over TCP" '^192\.0\.2\.' "$(q +tcp +short tcp.example.test A)"
check_match "a slow answer" '^192\.0\.2\.' "$(q +short slow.example.test A)"
# The dead server was tried and found so (its state is what is checked).
check "the dead server is down" wait_for 5 bash -c \
	"'$STUBCTL' -s '$TMP/control.sock' status | grep -Eq '$DEAD +(down|probing)'"

# As the help says: another name in the collector's directory, then mv.
DIR=$TMP/textfile
mkdir -p "$DIR"
check "statistics --prometheus, written and renamed" bash -c \
	"'$STUBCTL' -s '$TMP/control.sock' statistics --prometheus >'$DIR/stubd.prom.\$\$' &&
	 mv '$DIR/stubd.prom.\$\$' '$DIR/stubd.prom'"
ctl --json statistics >"$TMP/statistics.json"
check_eq "only the renamed file is left" "stubd.prom" "$(ls "$DIR")"
check_match "a HELP line" '^# HELP stubd_queries_total ' "$(cat "$DIR/stubd.prom")"
check_match "a TYPE line" '^# TYPE stubd_queries_total counter$' "$(cat "$DIR/stubd.prom")"

# The parser, and what it read. It is lax (a sample it cannot place
# becomes a family of type "untyped"), so that is checked too.
out=$(UP="$UP" DEAD="$DEAD" VERSION="$("$STUBCTL" --version | awk '{ print $2 }')" \
	"$PY" - "$DIR/stubd.prom" "$TMP/statistics.json" 2>&1 <<'PYTHON'
import json, math, os, sys, time
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
js = json.load(open(sys.argv[2]))
problems = []
def expect(cond, what):
    if not cond:
        problems.append(what)

families = {}
for fam in text_string_to_metric_families(text):
    expect(fam.name not in families, "family %s twice" % fam.name)
    families[fam.name] = fam

# The parser names a counter without its _total, as OpenMetrics does.
expected = {
    "stubd_build_info": "gauge",
    "stubd_start_time_seconds": "gauge",
    "stubd_queries_total": "counter",
    "stubd_worker_queries_total": "counter",
    "stubd_queries_dropped_total": "counter",
    "stubd_queries_rejected_total": "counter",
    "stubd_queries_not_allowed_total": "counter",
    "stubd_truncated_replies_total": "counter",
    "stubd_send_errors_total": "counter",
    "stubd_tcp_connections_accepted_total": "counter",
    "stubd_tcp_connections_refused_total": "counter",
    "stubd_tcp_connections_idle_closed_total": "counter",
    "stubd_tcp_connections_open": "gauge",
    "stubd_answers_total": "counter",
    "stubd_answer_rcodes_total": "counter",
    "stubd_stale_answers_total": "counter",
    "stubd_coalesced_queries_total": "counter",
    "stubd_waiting_queries": "gauge",
    "stubd_queries_over_max_inflight_total": "counter",
    "stubd_queries_no_server_total": "counter",
    "stubd_query_duration_seconds": "histogram",
    "stubd_upstream_replies_dropped_total": "counter",
    "stubd_upstream_unanswered_total": "counter",
    "stubd_upstream_tcp_fallbacks_total": "counter",
    "stubd_upstream_queries_total": "counter",
    "stubd_upstream_answers_total": "counter",
    "stubd_upstream_refusals_total": "counter",
    "stubd_upstream_timeouts_total": "counter",
    "stubd_upstream_errors_total": "counter",
    "stubd_upstream_rtt_seconds": "gauge",
    "stubd_upstream_rto_seconds": "gauge",
    "stubd_upstream_state": "gauge",
    "stubd_cache_entries": "gauge",
    "stubd_cache_max_entries": "gauge",
    "stubd_cache_memory_bytes": "gauge",
    "stubd_cache_memory_max_bytes": "gauge",
    "stubd_cache_hits_total": "counter",
    "stubd_cache_misses_total": "counter",
    "stubd_cache_inserts_total": "counter",
    "stubd_cache_evictions_total": "counter",
    "stubd_cache_expirations_total": "counter",
    "stubd_cache_prefetches_total": "counter",
}
def parsed_name(name, typ):
    return name[:-len("_total")] if typ == "counter" else name
for name, typ in expected.items():
    fam = families.get(parsed_name(name, typ))
    expect(fam is not None, "no family %s" % name)
    if fam is None:
        continue
    expect(fam.type == typ, "%s is a %s, not a %s" % (name, fam.type, typ))
    expect(fam.documentation.strip() != "", "%s has no HELP" % name)
    expect(fam.samples, "%s has no samples" % name)
known = {parsed_name(n, t) for n, t in expected.items()}
for name, fam in families.items():
    expect(name in known, "unexpected family %s (%s)" % (name, fam.type))
    expect(fam.type != "untyped", "untyped samples (not under their TYPE): %s" % name)
    expect(name.startswith("stubd_"), "%s lacks the stubd_ prefix" % name)
    for s in fam.samples:
        expect(s.timestamp is None, "%s has a timestamp: the textfile collector refuses it" % s.name)

def value(name, **labels):
    """The one sample of that name with exactly those labels."""
    found = [s.value for f in families.values() for s in f.samples
             if s.name == name and s.labels == {k: str(v) for k, v in labels.items()}]
    expect(len(found) == 1, "%d samples %s%s" % (len(found), name, labels))
    return found[0] if found else math.nan

# What the queries of this test did.
expect(value("stubd_queries_total", transport="udp") == 5, "5 queries over UDP")
expect(value("stubd_queries_total", transport="tcp") == 1, "1 query over TCP")
expect(value("stubd_worker_queries_total", worker=0) == 6, "worker 0 took all 6")
expect(value("stubd_answers_total", source="upstream") == 4, "4 answers from upstream")
expect(value("stubd_answers_total", source="cache") == 2, "2 answers from the cache")
expect(value("stubd_answers_total", source="hosts") == 0, "none from hosts (--hosts none)")
expect(value("stubd_answer_rcodes_total", rcode="NXDOMAIN") == 1, "1 NXDOMAIN")
expect(value("stubd_answer_rcodes_total", rcode="NOERROR") == 5, "5 NOERROR")
expect(value("stubd_answer_rcodes_total", rcode="SERVFAIL") == 0, "no SERVFAIL")
expect(value("stubd_cache_hits_total") >= 2, "cache hits >= 2")
expect(value("stubd_cache_misses_total") >= 4, "cache misses >= 4")
expect(value("stubd_cache_entries") >= 4, "4 answers cached")
expect(value("stubd_tcp_connections_accepted_total") == 1, "1 TCP connection")
expect(value("stubd_build_info", version=os.environ["VERSION"]) == 1, "the version")
start = value("stubd_start_time_seconds")
expect(time.time() - 600 < start <= time.time(), "started within 10 minutes: %s" % start)

# The same numbers as --json statistics, read right after.
agree = [
    (("stubd_queries_total", {"transport": "udp"}), js["transport"]["udp"]),
    (("stubd_queries_total", {"transport": "tcp"}), js["transport"]["tcp"]),
    (("stubd_answers_total", {"source": "cache"}), js["source"]["cache"]),
    (("stubd_answers_total", {"source": "upstream"}), js["source"]["upstream"]),
    (("stubd_answer_rcodes_total", {"rcode": "NXDOMAIN"}), js["rcode"]["NXDOMAIN"]),
    (("stubd_stale_answers_total", {}), js["source"]["stale"]),
    (("stubd_cache_hits_total", {}), js["cache"]["hits"]),
    (("stubd_cache_misses_total", {}), js["cache"]["misses"]),
    (("stubd_cache_entries", {}), js["cache"]["entries"]),
    (("stubd_cache_memory_bytes", {}), js["cache"]["bytes"]),
    (("stubd_cache_evictions_total", {}), js["cache"]["evictions"]),
    (("stubd_upstream_tcp_fallbacks_total", {}), js["upstream"]["tcp_fallbacks"]),
]
for (name, labels), want in agree:
    got = value(name, **labels)
    expect(got == want, "%s%s is %s, --json statistics says %s" % (name, labels, got, want))

# The histogram: cumulative buckets in order of le, the last +Inf equal
# to _count; every answer in it; the slow one above 0.1 s.
hist = families.get("stubd_query_duration_seconds")
if hist is not None:
    buckets = [(s.labels["le"], s.value) for s in hist.samples if s.name.endswith("_bucket")]
    bounds = [float(le) for le, _ in buckets]
    counts = [v for _, v in buckets]
    expect(bounds == sorted(bounds) and len(set(bounds)) == len(bounds), "le in order: %s" % bounds)
    expect(buckets and buckets[-1][0] == "+Inf", "the last bucket is +Inf: %s" % buckets)
    expect(counts == sorted(counts), "buckets cumulative: %s" % buckets)
    count = value("stubd_query_duration_seconds_count")
    expect(counts and counts[-1] == count, "+Inf = _count: %s, %s" % (buckets, count))
    expect(count == 6, "every answer in the histogram: %s" % count)
    le = dict(buckets)
    expect(le.get("+Inf", 0) - le.get("0.1", 0) >= 1, "the slow answer above 0.1 s: %s" % buckets)
    expect(value("stubd_query_duration_seconds_sum") >= 0.25,
           "_sum counts the slow answer's 300 ms: %s" % value("stubd_query_duration_seconds_sum"))

# The servers: the live one up and measured, the dead one not up.
up, dead = os.environ["UP"], os.environ["DEAD"]
expect(value("stubd_upstream_queries_total", server=up) >= 4, "4 questions to the live server")
expect(value("stubd_upstream_rtt_seconds", server=up) > 0, "the live server's RTT")
expect(value("stubd_upstream_errors_total", server=dead)
       + value("stubd_upstream_timeouts_total", server=dead) >= 1, "the dead server's failure")
for server, want in ((up, "up"), (dead, None)):
    states = {st: value("stubd_upstream_state", server=server, state=st)
              for st in ("up", "down", "probing")}
    expect(sum(states.values()) == 1, "%s in one state: %s" % (server, states))
    if want:
        expect(states[want] == 1, "%s %s: %s" % (server, want, states))
    else:
        expect(states["up"] == 0, "%s not up: %s" % (server, states))

print("\n".join(problems) if problems else "ok: %d families" % len(families))
PYTHON
) || fail "the parser failed: $out"
check_match "parsed, and the numbers agree" '^ok: [0-9]+ families$' "$out"

# The daemon takes --prometheus and nothing else after statistics.
raw() { perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
	print $s $ARGV[1]; shutdown($s, 1); local $/; my $r = <$s>; print $r // "";' \
	"$TMP/control.sock" "$1"; }
check_match "statistics --bogus: usage error" '^STUBCTL1 2' "$(raw $'STUBCTL1 text statistics --bogus\n')"
check_match "the exposition over the wire" '^# HELP stubd_' \
	"$(raw $'STUBCTL1 text statistics --prometheus\n' | sed -n 2p)"

# stubd gone: stubctl fails, nothing is renamed, the last file stays.
before=$(cat "$DIR/stubd.prom")
stubd_stop
rc=0
"$STUBCTL" -s "$TMP/control.sock" statistics --prometheus >"$DIR/stubd.prom.new" 2>/dev/null &&
	mv "$DIR/stubd.prom.new" "$DIR/stubd.prom" || rc=$?
check_eq "no stubd: stubctl fails (unreachable)" 3 "$rc"
check_eq "no stubd: nothing on stdout" "" "$(cat "$DIR/stubd.prom.new")"
check_eq "no stubd: the last file stays" "$before" "$(cat "$DIR/stubd.prom")"
pass
