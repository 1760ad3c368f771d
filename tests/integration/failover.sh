# Failover: when the first upstream is unreachable, silent, or answers
# SERVFAIL/REFUSED, the question goes to the next one and the client gets
# that one's answer; a SERVFAIL from the only upstream reaches the client.
. "$(dirname "$0")/lib.sh"

a_rr() { echo "^$1[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+$2\$"; }

fakeup_start B --answer 192.0.2.2

# 1. First upstream a closed port: ICMP port unreachable moves on at once,
#    well before the 1 s default try timeout.
stubd_start -u "$(closed_addr)" -u "$B"
t0=$(now_ms)
out=$(q closed.example.test A)
dt=$(($(now_ms) - t0))
check_match "closed first: NOERROR" 'status: NOERROR' "$out"
check_match "closed first: answer from the second" "$(a_rr 'closed\.example\.test\.' '192\.0\.2\.2')" "$out"
check_between "closed first: fast (ms)" 0 600 "$dt"
check_eq "closed first: second asked once" 1 "$(count_log B '^udp closed\.example\.test\. A ')"
stubd_stop

# 2. First upstream silent: the second answers after the first's retransmit
#    timeout (unmeasured: upstream-timeout, 300 ms). With "order": under
#    "fastest" the second, unmeasured, is explored at once and answers sooner.
fakeup_start DEAD --mode dead
stubd_conf 'upstream-timeout = 300' 'upstream-strategy = order'
stubd_start -c "$TMP/stubd.conf" -u "$DEAD" -u "$B"
t0=$(now_ms)
out=$(q dead.example.test A)
dt=$(($(now_ms) - t0))
check_match "dead first: NOERROR" 'status: NOERROR' "$out"
check_match "dead first: answer from the second" "$(a_rr 'dead\.example\.test\.' '192\.0\.2\.2')" "$out"
check_eq "dead first: the dead one was asked first" 1 "$(count_log DEAD '^udp dead\.example\.test\. A ')"
check_eq "dead first: second asked once" 1 "$(count_log B '^udp dead\.example\.test\. A ')"
check_between "dead first: waited about one try timeout (ms)" 250 1500 "$dt"
stubd_stop

# 3. First upstream answers SERVFAIL to everything: the second is asked.
fakeup_start SF --mode servfail
stubd_start -u "$SF" -u "$B"
out=$(q sf.example.test A)
check_match "servfail first: NOERROR" 'status: NOERROR' "$out"
check_match "servfail first: answer from the second" "$(a_rr 'sf\.example\.test\.' '192\.0\.2\.2')" "$out"
check_eq "servfail first: first asked once" 1 "$(count_log SF '^udp sf\.example\.test\. A ')"
check_eq "servfail first: second asked once" 1 "$(count_log B '^udp sf\.example\.test\. A ')"
stubd_stop

# 4. Same with REFUSED.
fakeup_start RF --mode refused
stubd_start -u "$RF" -u "$B"
out=$(q rf.example.test A)
check_match "refused first: NOERROR" 'status: NOERROR' "$out"
check_match "refused first: answer from the second" "$(a_rr 'rf\.example\.test\.' '192\.0\.2\.2')" "$out"
check_eq "refused first: first asked once" 1 "$(count_log RF '^udp rf\.example\.test\. A ')"
check_eq "refused first: second asked once" 1 "$(count_log B '^udp rf\.example\.test\. A ')"
stubd_stop

# 5. The only upstream answers SERVFAIL: the client gets SERVFAIL, with its
#    question, promptly.
stubd_start -u "$B"
t0=$(now_ms)
out=$(q servfail.example.test A)
dt=$(($(now_ms) - t0))
check_match "single upstream SERVFAIL: passed on" 'status: SERVFAIL' "$out"
check_match "single upstream SERVFAIL: question echoed" '^;servfail\.example\.test\.[[:space:]]+IN[[:space:]]+A' "$out"
check_match "single upstream SERVFAIL: no records" 'ANSWER: 0,' "$out"
check_between "single upstream SERVFAIL: prompt (ms)" 0 1500 "$dt"
out=$(q ok.example.test A)
check_match "single upstream: normal names still answered" "$(a_rr 'ok\.example\.test\.' '192\.0\.2\.2')" "$out"

check "stubd still running" stubd_alive
pass
