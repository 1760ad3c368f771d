/* fuzz_hosts.c - libFuzzer target: a hosts file, read by hosts_load and
 * then asked about.
 *
 * The input is the file (written to a memfd and loaded by path, as the
 * daemon loads /etc/hosts). The table is then asked, through
 * hosts_answer, about the words of the input itself (so the names and
 * addresses the file defines are asked about), as written and in upper
 * case, for A, AAAA, PTR, ANY and MX, and about the reverse names of the
 * addresses. Each answer is checked, fitted to a client with
 * wire_finish_reply and checked again. Aborts when an invariant of
 * hosts.h breaks.
 */
#include "fuzz_common.h"

#include <arpa/inet.h>

#include "stubd/hosts.h"

#define TTL 42
#define MAX_WORDS 8
#define OUR_EDNS 1232

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

/* A text name to wire form, one trailing dot allowed; 0 if it is none. */
static size_t to_wire(const char *text, size_t len, uint8_t *out)
{
	size_t n = 0, start = 0;
	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0)
		return 0;
	while (start <= len) {
		const char *dot = memchr(text + start, '.', len - start);
		size_t label = dot ? (size_t)(dot - (text + start)) : len - start;
		if (label == 0 || label > WIRE_LABEL_MAX || n + label + 2 > WIRE_NAME_MAX)
			return 0;
		out[n++] = (uint8_t)label;
		memcpy(out + n, text + start, label);
		n += label;
		start += label + 1;
	}
	out[n++] = 0;
	return n;
}

/* The reverse name of an address (RFC 1035 §3.5, RFC 3596 §2.5). */
static size_t reverse_wire(const uint8_t *addr, size_t alen, uint8_t *out)
{
	static const char hex[] = "0123456789abcdef";
	char text[80];
	size_t pos = 0;
	for (size_t i = alen; i-- > 0;) {
		if (alen == 4)
			pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%u.", addr[i]);
		else
			pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%c.%c.",
						hex[addr[i] & 0xf], hex[addr[i] >> 4]);
	}
	pos += (size_t)snprintf(text + pos, sizeof(text) - pos, "%s",
				alen == 4 ? "in-addr.arpa" : "ip6.arpa");
	return to_wire(text, pos, out);
}

static void check_records(const uint8_t *out, size_t len, const struct wire_query *q)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	int got;
	unsigned n = 0;

	FUZZ_CHECK(wire_rr_iter_init(&it, out, len) == 0);
	while ((got = wire_rr_next(&it, &rr)) == 1) {
		n++;
		FUZZ_CHECK(rr.section == WIRE_SECTION_ANSWER);
		FUZZ_CHECK(rr.ttl == TTL && rr.rclass == WIRE_CLASS_IN);
		/* Owned by the question name: a pointer to offset 12. */
		FUZZ_CHECK(rr.start + 2 + 4 == rr.ttl_off && wire_get16(out + rr.start) == 0xc00c);
		switch (rr.type) {
		case WIRE_TYPE_A:
			FUZZ_CHECK(rr.rdlen == 4);
			FUZZ_CHECK(q->qtype == WIRE_TYPE_A || q->qtype == WIRE_TYPE_ANY);
			break;
		case WIRE_TYPE_AAAA:
			FUZZ_CHECK(rr.rdlen == 16);
			FUZZ_CHECK(q->qtype == WIRE_TYPE_AAAA || q->qtype == WIRE_TYPE_ANY);
			break;
		case WIRE_TYPE_PTR:
			FUZZ_CHECK(fuzz_valid_name(out + rr.end - rr.rdlen, rr.rdlen));
			FUZZ_CHECK(q->qtype == WIRE_TYPE_PTR || q->qtype == WIRE_TYPE_ANY);
			break;
		default:
			FUZZ_CHECK(!"the hosts stage answered with a type it does not serve");
		}
	}
	FUZZ_CHECK(got == 0 && it.off == len);
	FUZZ_CHECK(n == wire_get16(out + 6));
}

/* Asks t about name as type; returns the answer's length, 0 for PASS. */
static size_t ask(const struct hosts_table *t, const struct hosts_options *opt,
		  const uint8_t *name, size_t name_len, uint16_t qtype, uint8_t *out, size_t cap,
		  struct wire_query *q)
{
	size_t len = 0;
	memset(q, 0, sizeof(*q));
	q->id = 0x5353;
	q->flags = WIRE_FLAG_RD;
	q->qtype = qtype;
	q->qclass = WIRE_CLASS_IN;
	q->has_question = true;
	q->qname_len = (uint8_t)name_len;
	memcpy(q->qname, name, name_len);
	if (hosts_answer(t, opt, q, out, cap, &len) != HOSTS_ANSWERED)
		return 0;
	FUZZ_CHECK(len >= WIRE_HEADER_LEN + name_len + 4 && len <= cap);
	return len;
}

static void ask_all(const struct hosts_table *t, const struct hosts_options *opt,
		    const uint8_t *name, size_t name_len)
{
	static const uint16_t types[] = { WIRE_TYPE_A, WIRE_TYPE_AAAA, WIRE_TYPE_PTR,
					  WIRE_TYPE_ANY, 15 /* MX */ };
	static uint8_t big[WIRE_MSG_MAX], other[WIRE_MSG_MAX], small[WIRE_UDP_MIN],
		reply[WIRE_MSG_MAX];
	uint8_t upper[WIRE_NAME_MAX];

	for (size_t i = 0; i < name_len; i++)
		upper[i] = name[i] >= 'a' && name[i] <= 'z' ? (uint8_t)(name[i] - 32) : name[i];
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		struct wire_query q, uq, sq;
		size_t len = ask(t, opt, name, name_len, types[k], big, sizeof(big), &q);
		size_t ulen = ask(t, opt, upper, name_len, types[k], other, sizeof(other), &uq);
		/* Names match without regard to case (RFC 4343): the same
		 * answer but for the question's spelling. */
		FUZZ_CHECK(len == ulen);
		if (len == 0)
			continue;
		size_t qend = WIRE_HEADER_LEN + name_len;
		FUZZ_CHECK(memcmp(big, other, WIRE_HEADER_LEN) == 0);
		FUZZ_CHECK(memcmp(big + qend, other + qend, len - qend) == 0);

		uint16_t flags = wire_get16(big + 2);
		FUZZ_CHECK((flags & WIRE_FLAG_QR) && (flags & WIRE_FLAG_AA));
		FUZZ_CHECK(WIRE_RCODE(flags) == WIRE_RCODE_NOERROR ||
			   WIRE_RCODE(flags) == WIRE_RCODE_NXDOMAIN);
		if (WIRE_RCODE(flags) == WIRE_RCODE_NXDOMAIN || types[k] == 15)
			FUZZ_CHECK(wire_get16(big + 6) == 0);
		FUZZ_CHECK(wire_get16(big + 8) == 0 && wire_get16(big + 10) == 0);
		check_records(big, len, &q);
		ldns_pkt_free(fuzz_must_parse(big, len));

		/* A small buffer gets whole records, a prefix of the list. */
		size_t slen = ask(t, opt, name, name_len, types[k], small, sizeof(small), &sq);
		FUZZ_CHECK(slen > 0 && slen <= len);
		FUZZ_CHECK(memcmp(small + 4, big + 4, 2) == 0);
		FUZZ_CHECK(memcmp(small + WIRE_HEADER_LEN, big + WIRE_HEADER_LEN,
				  slen - WIRE_HEADER_LEN) == 0);
		check_records(small, slen, &sq);

		/* Fitted to a plain UDP client, as the pipeline does. */
		size_t n = wire_finish_reply(reply, sizeof(reply), big, len, &q, WIRE_UDP_MIN,
					     OUR_EDNS);
		FUZZ_CHECK(n > 0);
		fuzz_check_client_reply(reply, n, &q);
	}
}

static bool is_separator(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '#';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct hosts_load_info info;
	int fd = fuzz_input_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;

	memset(&info, 0xa5, sizeof(info));
	struct hosts_table *t = hosts_load(path, &info);
	close(fd);
	FUZZ_CHECK(t != NULL);

	size_t lines = 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (size > 0 && data[size - 1] != '\n')
		lines++;
	FUZZ_CHECK(info.lines == lines);
	FUZZ_CHECK(info.skipped <= info.lines && !info.missing);

	struct hosts_options opt = { .ttl = TTL };
	hosts_options_set_hostname(&opt, "fuzzbox");
	inet_pton(AF_INET, "192.0.2.7", &opt.self_v4[0]);
	opt.n_self_v4 = 1;

	/* The words of the file: its addresses and names. */
	size_t words = 0, i = 0;
	while (i < size && words < MAX_WORDS) {
		while (i < size && is_separator(data[i]))
			i++;
		size_t start = i;
		while (i < size && !is_separator(data[i]))
			i++;
		size_t wlen = i - start;
		if (wlen == 0 || wlen > 300)
			continue;
		words++;
		char word[301];
		memcpy(word, data + start, wlen);
		word[wlen] = '\0';

		uint8_t wire[WIRE_NAME_MAX];
		size_t wire_len = to_wire(word, wlen, wire);
		if (wire_len > 0)
			ask_all(t, &opt, wire, wire_len);

		uint8_t addr[16];
		char *pct = strchr(word, '%');
		if (pct)
			*pct = '\0';
		size_t alen = inet_pton(AF_INET, word, addr) == 1    ? 4
			      : inet_pton(AF_INET6, word, addr) == 1 ? 16
								     : 0;
		if (alen > 0) {
			wire_len = reverse_wire(addr, alen, wire);
			FUZZ_CHECK(wire_len > 0);
			ask_all(t, &opt, wire, wire_len);
		}
	}
	hosts_free(t);
	return 0;
}
