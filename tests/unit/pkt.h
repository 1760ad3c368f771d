/* pkt.h - a tiny DNS message builder shared by the unit tests, so each
 * test writes the packet it means byte by byte without ldns. Test-only. */
#ifndef STUBD_TEST_PKT_H
#define STUBD_TEST_PKT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "stubd/wire.h"

#ifndef PKT_MAX
#define PKT_MAX 8192
#endif

struct pkt {
	uint8_t b[PKT_MAX];
	size_t len;
};

static inline void put8(struct pkt *p, uint8_t v) { p->b[p->len++] = v; }
static inline void put16(struct pkt *p, uint16_t v) { wire_put16(p->b + p->len, v); p->len += 2; }
static inline void put32(struct pkt *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p, (uint16_t)v); }

static inline void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
			  uint16_t ns, uint16_t ar)
{
	p->len = 0;
	put16(p, id); put16(p, flags); put16(p, qd); put16(p, an); put16(p, ns); put16(p, ar);
}

/* "www.Example.test" or "www.Example.test." -> wire labels; "." is the root. */
static inline void name(struct pkt *p, const char *text)
{
	if (strcmp(text, ".") == 0)
		text = "";
	while (*text) {
		const char *dot = strchr(text, '.');
		size_t n = dot ? (size_t)(dot - text) : strlen(text);
		put8(p, (uint8_t)n);
		memcpy(p->b + p->len, text, n);
		p->len += n;
		text += n + (dot ? 1 : 0);
	}
	put8(p, 0);
}

static inline void question(struct pkt *p, const char *qname, uint16_t type)
{
	name(p, qname);
	put16(p, type);
	put16(p, WIRE_CLASS_IN);
}

/* An OPT record with no options (RFC 6891 §6.1.2). */
static inline void opt(struct pkt *p, uint16_t size, uint8_t version, bool dnssec_ok)
{
	put8(p, 0);
	put16(p, WIRE_TYPE_OPT);
	put16(p, size);
	put8(p, 0);
	put8(p, version);
	put16(p, dnssec_ok ? 0x8000 : 0);
	put16(p, 0);
}

/* A client's query for qname/type (RD, one question; an OPT record when
 * edns, with DO when dnssec_ok), read into q by wire_parse_query.
 * Returns its verdict. */
static inline enum wire_verdict pkt_client_query(struct wire_query *q, const char *qname,
						 uint16_t type, bool edns, bool dnssec_ok)
{
	struct pkt p;
	unsigned rcode;
	header(&p, 0x4242, WIRE_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
	question(&p, qname, type);
	if (edns)
		opt(&p, 1232, 0, dnssec_ok);
	return wire_parse_query(p.b, p.len, q, &rcode);
}

#endif
