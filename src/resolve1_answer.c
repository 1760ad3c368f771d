/* resolve1_answer.c - DNS replies as resolve1 gives them; see resolve1_answer.h. */
#include "stubd/resolve1_answer.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "stubd/wire.h"

/* Longest CNAME chain followed, as resolvers bound it (RFC 1034 §3.6.2). */
#define CNAME_MAX_HOPS 16

static ldns_pkt *parse(const uint8_t *reply, size_t len)
{
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, reply, len) != LDNS_STATUS_OK)
		return NULL;
	if (ldns_rr_list_rr_count(ldns_pkt_question(pkt)) != 1) {
		ldns_pkt_free(pkt);
		return NULL;
	}
	return pkt;
}

/* The owner of the records that answer: the question's name, moved along
 * the answer section's CNAMEs (unless CNAMEs are what was asked). */
static const ldns_rdf *chain_end(const ldns_pkt *pkt, ldns_rr_type qtype)
{
	const ldns_rdf *target = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0));
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	if (qtype == LDNS_RR_TYPE_CNAME)
		return target;
	for (int hop = 0; hop < CNAME_MAX_HOPS; hop++) {
		const ldns_rdf *next = NULL;
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			const ldns_rr *rr = ldns_rr_list_rr(an, i);
			if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) == 1 &&
			    ldns_dname_compare(ldns_rr_owner(rr), target) == 0) {
				next = ldns_rr_rdf(rr, 0);
				break;
			}
		}
		if (!next)
			break;
		target = next;
	}
	return target;
}

/* "example.com" from an rdf: no final dot (the root stays "."). */
static void name_text(const ldns_rdf *rdf, char *out, size_t size)
{
	char *text = ldns_rdf2str(rdf);
	snprintf(out, size, "%s", text ? text : "");
	free(text);
	size_t n = strlen(out);
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
}

static bool answers(const ldns_rr *rr, const ldns_rdf *owner, ldns_rr_type type, ldns_rr_class cls)
{
	return ldns_rr_get_type(rr) == type && ldns_rr_get_class(rr) == cls &&
	       ldns_dname_compare(ldns_rr_owner(rr), owner) == 0;
}

int resolve1_answer_addresses(const uint8_t *reply, size_t len, struct resolve1_address *out,
			      size_t max, size_t *n, char *canonical, size_t canonical_size)
{
	ldns_pkt *pkt = parse(reply, len);
	if (!pkt)
		return -EINVAL;
	const ldns_rdf *owner = chain_end(pkt, LDNS_RR_TYPE_A);
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	bool any = false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && *n < max; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		bool v4 = answers(rr, owner, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN);
		bool v6 = answers(rr, owner, LDNS_RR_TYPE_AAAA, LDNS_RR_CLASS_IN);
		if ((!v4 && !v6) || ldns_rr_rd_count(rr) != 1)
			continue;
		const ldns_rdf *rd = ldns_rr_rdf(rr, 0);
		size_t size = v4 ? 4 : 16;
		if (ldns_rdf_size(rd) != size)
			continue;
		out[*n].family = v4 ? AF_INET : AF_INET6;
		memcpy(out[*n].bytes, ldns_rdf_data(rd), size);
		(*n)++;
		any = true;
	}
	if (canonical_size)
		canonical[0] = '\0';
	if (any && canonical_size && !canonical[0])
		name_text(owner, canonical, canonical_size);
	ldns_pkt_free(pkt);
	return 0;
}

int resolve1_answer_names(const uint8_t *reply, size_t len, resolve1_name_fn fn, void *arg)
{
	ldns_pkt *pkt = parse(reply, len);
	if (!pkt)
		return -EINVAL;
	const ldns_rdf *owner = chain_end(pkt, LDNS_RR_TYPE_PTR);
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	int count = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && count < RESOLVE1_MAX_ITEMS; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (!answers(rr, owner, LDNS_RR_TYPE_PTR, LDNS_RR_CLASS_IN) || ldns_rr_rd_count(rr) != 1)
			continue;
		char text[RESOLVE1_NAME_TEXT_MAX];
		name_text(ldns_rr_rdf(rr, 0), text, sizeof(text));
		fn(arg, text);
		count++;
	}
	ldns_pkt_free(pkt);
	return count;
}

int resolve1_answer_records(const uint8_t *reply, size_t len, resolve1_record_fn fn, void *arg)
{
	ldns_pkt *pkt = parse(reply, len);
	if (!pkt)
		return -EINVAL;
	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
	ldns_rr_type type = ldns_rr_get_type(q);
	ldns_rr_class cls = ldns_rr_get_class(q);
	const ldns_rdf *owner = chain_end(pkt, type);
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	int count = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an) && count < RESOLVE1_MAX_ITEMS; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		/* ANY: every type, but of the asked name only, as resolved gives it. */
		bool match = type == LDNS_RR_TYPE_ANY
				     ? ldns_rr_get_class(rr) == cls &&
					       ldns_dname_compare(ldns_rr_owner(rr), owner) == 0
				     : answers(rr, owner, type, cls);
		if (!match)
			continue;
		uint8_t *wire = NULL;
		size_t size = 0;
		/* ldns writes names uncompressed: what resolvectl reads. */
		if (ldns_rr2wire(&wire, rr, LDNS_SECTION_ANSWER, &size) != LDNS_STATUS_OK)
			continue;
		fn(arg, (uint16_t)ldns_rr_get_class(rr), (uint16_t)ldns_rr_get_type(rr), wire, size);
		free(wire);
		count++;
	}
	ldns_pkt_free(pkt);
	return count;
}

bool resolve1_answer_error(unsigned rcode, bool no_servers, bool found, const char *what,
			   struct resolve1_error *e)
{
	if (rcode == WIRE_RCODE_NOERROR && found)
		return false;
	if (no_servers && rcode == WIRE_RCODE_SERVFAIL) {
		snprintf(e->name, sizeof(e->name), "%s", RESOLVE1_ERROR_NO_NAME_SERVERS);
		snprintf(e->message, sizeof(e->message),
			 "No appropriate name servers or networks for name found");
	} else if (rcode == WIRE_RCODE_NXDOMAIN) {
		snprintf(e->name, sizeof(e->name), "%sNXDOMAIN", RESOLVE1_ERROR_DNS);
		snprintf(e->message, sizeof(e->message), "'%s' not found", what);
	} else if (rcode != WIRE_RCODE_NOERROR) {
		const char *rc = wire_rcode_name(rcode);
		snprintf(e->name, sizeof(e->name), "%s%s", RESOLVE1_ERROR_DNS, rc);
		snprintf(e->message, sizeof(e->message),
			 "Could not resolve '%s', server or network returned error %s", what, rc);
	} else {
		snprintf(e->name, sizeof(e->name), "%s", RESOLVE1_ERROR_NO_SUCH_RR);
		snprintf(e->message, sizeof(e->message),
			 "'%s' does not have any RR of the requested type", what);
	}
	return true;
}
