# Malformed queries, sent byte for byte with dnsq (and bash /dev/tcp for
# several frames on one TCP connection): stubd answers what has a usable
# header with the right error and the client's ID, drops what has none or is
# not a query, and keeps serving through all of it.
. "$(dirname "$0")/lib.sh"

fakeup_start UP
stubd_start -u "$UP"

QNAME=$(wire_name mal.example.test)
QUESTION=${QNAME}00010001                       # mal.example.test. A IN
OPT0=0000290200000000000000                     # OPT, 512 bytes, version 0
OPT1=0000290200000100000000                     # OPT, version 1
ANSWER_RR=c00c000100010000012c0004c0000201      # mal.example.test. A 192.0.2.1

# expect_none DESC DNSQ-ARGS...: no reply at all within 500 ms.
expect_none() {
	local what=$1 out rc=0
	shift
	out=$(dq --timeout 500 "$@" 2>&1) || rc=$?
	check_eq "$what: no reply (dnsq exit status)" 1 "$rc"
	check_eq "$what: no reply" timeout "$out"
}

# expect_reply DESC ID RCODE DNSQ-ARGS...: one reply with that decimal ID and
# rcode, QR set; sets OUT to dnsq's output.
expect_reply() {
	local what=$1 id=$2 rcode=$3 rc=0
	shift 3
	OUT=$(dq --timeout 2000 "$@") || rc=$?
	check_eq "$what: a reply" 0 "$rc"
	check_match "$what: ID echoed, QR set, $rcode" "^id=$id rcode=$rcode flags=qr( |$)" "$OUT"
}

# still_serving DESC: a normal query still gets its answer. Up to 3 tries,
# as a client would: after a flood the kernel may have dropped the first one
# on a full socket buffer (UDP), which says nothing about stubd.
still_serving() {
	local out rc try
	for try in 1 2 3; do
		rc=0
		out=$(dq --timeout 1500 query "after.$RANDOM.example.test" A 2>&1) || rc=$?
		[ $rc != 0 ] || break
	done
	check_eq "$1: stubd still answers (dnsq exit status)" 0 "$rc"
	check_match "$1: stubd still answers" '^an after\.[0-9]+\.example\.test\. 300 IN A 192\.0\.2\.1$' "$out"
	check "$1: stubd still running" stubd_alive
}

# --- no usable header, or not a query: silence ---
expect_none "5-byte packet" hex abcd010000
still_serving "after a 5-byte packet"
expect_none "empty datagram" hex ""
expect_none "11-byte packet" hex abcd010000010000000000
expect_none "QR=1 (a response)" hex "$(dns_hdr 1111 8180 1 1 0 0)$QUESTION$ANSWER_RR"
expect_none "QR=1, no question" hex "$(dns_hdr 1112 8000 0 0 0 0)"

# --- unknown opcode: NOTIMP ---
expect_reply "opcode STATUS" $((16#2222)) NOTIMP hex "$(dns_hdr 2222 1100 1 0 0 0)$QUESTION"
flags=$((16#${OUT:4:4}))
check_eq "opcode STATUS: opcode echoed" 2 $(((flags >> 11) & 15))
expect_reply "opcode 15" $((16#2223)) NOTIMP hex "$(dns_hdr 2223 7900 1 0 0 0)$QUESTION"

# --- header counts that do not make a single question: FORMERR ---
expect_reply "QDCOUNT=0" $((16#3331)) FORMERR hex "$(dns_hdr 3331 0100 0 0 0 0)"
expect_reply "QDCOUNT=2" $((16#3332)) FORMERR hex "$(dns_hdr 3332 0100 2 0 0 0)$QUESTION$QUESTION"
expect_reply "ANCOUNT=1 in a query" $((16#3333)) FORMERR hex "$(dns_hdr 3333 0100 1 1 0 0)$QUESTION$ANSWER_RR"
expect_reply "NSCOUNT=1 in a query" $((16#3334)) FORMERR hex "$(dns_hdr 3334 0100 1 0 1 0)$QUESTION$ANSWER_RR"
expect_reply "QDCOUNT=1 but no question" $((16#3335)) FORMERR hex "$(dns_hdr 3335 0100 1 0 0 0)"
expect_reply "ARCOUNT=1 but nothing there" $((16#3336)) FORMERR hex "$(dns_hdr 3336 0100 1 0 0 1)$QUESTION"

# --- broken names: FORMERR ---
expect_reply "label running past the end" $((16#4441)) FORMERR hex "$(dns_hdr 4441 0100 1 0 0 0)076578"
expect_reply "question without type/class" $((16#4442)) FORMERR hex "$(dns_hdr 4442 0100 1 0 0 0)$QNAME"
# A pointer at offset 12 pointing at itself, and one pointing forward to a
# valid name after the question: no compression in a question.
expect_reply "compression loop in question" $((16#4443)) FORMERR hex "$(dns_hdr 4443 0100 1 0 0 0)c00c00010001"
expect_reply "compression pointer in question" $((16#4444)) FORMERR \
	hex "$(dns_hdr 4444 0100 1 0 0 0)c01200010001$(wire_name example.test)"
expect_reply "label type 0x40 (EDNS0 extended label)" $((16#4445)) FORMERR \
	hex "$(dns_hdr 4445 0100 1 0 0 0)41$QUESTION"
long=$(printf 'a%.0s' {1..63})
long_name=$(wire_name "$long.$long.$long.$long.example")            # 4*64+8+1 = 265 > 255
expect_reply "name longer than 255 bytes" $((16#4446)) FORMERR hex "$(dns_hdr 4446 0100 1 0 0 0)${long_name}00010001"

# --- EDNS ---
expect_reply "two OPT records" $((16#5551)) FORMERR hex "$(dns_hdr 5551 0100 1 0 0 2)$QUESTION$OPT0$OPT0"
expect_reply "OPT owner not the root" $((16#5552)) FORMERR hex "$(dns_hdr 5552 0100 1 0 0 1)$QUESTION${QNAME}00290200000000000000"
# EDNS version 1: BADVERS (extended rcode 1, header rcode 0) with our OPT, version 0.
expect_reply "OPT version 1" $((16#5553)) BADVERS hex "$(dns_hdr 5553 0100 1 0 0 1)$QUESTION$OPT1"
check_match "OPT version 1: reply OPT says version 0" ' ednsver=0 ' "$OUT"
flags=$((16#${OUT:4:4}))
check_eq "OPT version 1: header rcode 0" 0 $((flags & 15))
expect_reply "OPT version 1 (dnsq query)" 4242 BADVERS query mal.example.test A --edns-version 1 --id 4242
check_match "OPT version 1: question echoed" ' q=mal\.example\.test\. A ' "$OUT"
out=$(q +edns=1 +noednsnegotiation mal.example.test A)
check_match "dig +edns=1: BADVERS" 'status: BADVERS' "$out"
check_match "dig +edns=1: version 0 offered" 'EDNS: version: 0,' "$out"
check_eq "nothing malformed was forwarded" 0 "$(count_log UP 'mal\.example\.test')"

# --- qtypes a stub does not forward ---
expect_reply "AXFR over UDP" 6661 REFUSED query mal.example.test AXFR --id 6661
check_match "AXFR over UDP: question echoed" ' q=mal\.example\.test\. AXFR ' "$OUT"
expect_reply "AXFR over TCP" 6662 REFUSED --tcp query mal.example.test AXFR --id 6662
check_match "AXFR over TCP: question echoed" ' q=mal\.example\.test\. AXFR ' "$OUT"
expect_reply "qtype OPT" 6663 FORMERR hex "$(dns_hdr 1a07 0100 1 0 0 0)${QNAME}00290001"
check_eq "AXFR and OPT not forwarded" 0 "$(count_log UP 'mal\.example\.test')"

# --- a flood of random datagrams ---
seed=$RANDOM
dq flood 1000 --seed "$seed" || fail "dnsq flood failed"
still_serving "after 1000 garbage datagrams (seed $seed)"

# --- TCP: one connection, several frames (bash /dev/tcp) ---
good_answer_tail=0004c0000201 # ... A 192.0.2.1, the end of a reply without OPT

exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
# A 5-byte garbage frame (no header: ignored), a header-only frame
# (FORMERR), then a real query: the connection keeps going.
fd_send_hex 3 "$(tcp_frame 0102030405)$(tcp_frame "$(dns_hdr 7771 0100 0 0 0 0)")$(tcp_frame "$(query_hex 7772 tcp1.example.test)")"
f1=$(fd_read_frame 3)
f2=$(fd_read_frame 3)
check_eq "TCP garbage frames: FORMERR for the header-only frame first" 7771 "${f1:0:4}"
check_eq "TCP garbage frames: FORMERR rcode" 1 $((16#${f1:4:4} & 15))
check_eq "TCP garbage frames: then the answer to the query" 7772 "${f2:0:4}"
check_eq "TCP garbage frames: NOERROR" 0 $((16#${f2:4:4} & 15))
check_eq "TCP garbage frames: 192.0.2.1" "$good_answer_tail" "${f2: -12}"
exec 3<&-

# A zero-length frame carries nothing to answer: skipped, and the next query
# on the connection is answered.
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
fd_send_hex 3 "0000$(tcp_frame "$(query_hex 7773 tcp2.example.test)")"
f1=$(fd_read_frame 3)
check_eq "TCP zero-length frame: next query answered" 7773 "${f1:0:4}"
check_eq "TCP zero-length frame: 192.0.2.1" "$good_answer_tail" "${f1: -12}"
exec 3<&-

# The largest possible frame: a header asking nothing, then 65523 zero bytes.
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
{
	printf '\xff\xff'
	xxd -r -p <<<"$(dns_hdr 7775 0100 0 0 0 0)"
	head -c 65523 /dev/zero
} >&3
f1=$(fd_read_frame 3)
check_eq "TCP 65535-byte frame: answered, ID echoed" 7775 "${f1:0:4}"
check_eq "TCP 65535-byte frame: FORMERR" 1 $((16#${f1:4:4} & 15))
exec 3<&-

# A frame cut short by the client closing: nothing breaks.
exec 3<>"/dev/tcp/$STUBD_ADDR/$STUBD_PORT"
fd_send_hex 3 "0040$(dns_hdr 7774 0100 1 0 0 0)"
exec 3<&-
still_serving "after a TCP frame cut short"
out=$(q +tcp tcp3.example.test A)
check_match "TCP still answered" '^tcp3\.example\.test\.[[:space:]]+300[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' "$out"

pass
