/* hosts.h - the first stage: answers from the hosts file, and the
 * special-use names that must never leave the machine.
 *
 * Owns the parsed hosts table (hosts(5): address, canonical name, aliases)
 * as an immutable hash table: a reload builds a new table and the daemon
 * swaps it in whole, so no lookup sees a half-read file. Answering takes a
 * table and a question and writes a stored answer (scrub.h's form), with no
 * allocation and no ldns. Also owns the RFC 6761/6762/7686 rules: the
 * localhost names, the machine's own hostname, .invalid, .onion, .local,
 * and single-label names.
 */
#ifndef STUBD_HOSTS_H
#define STUBD_HOSTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/wire.h"

#define HOSTS_MAX_SELF_ADDRS 16

struct hosts_table;

/* What the stage knows besides the file: the machine's own name and
 * addresses (nss-myhostname's job), and the policy knobs from config. */
struct hosts_options {
	uint32_t ttl;                   /* hosts-ttl: TTL of every answer, default 0 */
	bool forward_single_label;      /* default false, as systemd-resolved */
	char hostname[256];             /* "" to skip the own-hostname rule */
	uint8_t hostname_wire[WIRE_NAME_MAX]; /* set by hosts_options_set_hostname() */
	size_t hostname_wire_len;       /* 0: no usable hostname */
	struct in_addr self_v4[HOSTS_MAX_SELF_ADDRS];
	size_t n_self_v4;
	struct in6_addr self_v6[HOSTS_MAX_SELF_ADDRS];
	size_t n_self_v6;
};

/* Sets opt->hostname and its wire form (converted once here, not per
 * question). A name that is not a valid DNS name turns the rule off. */
void hosts_options_set_hostname(struct hosts_options *opt, const char *hostname);

struct hosts_load_info {
	size_t lines;                   /* lines read */
	size_t entries;                 /* (name, address) pairs stored */
	size_t skipped;                 /* malformed lines, each logged with file:line */
	bool missing;                   /* the file does not exist: an empty table */
};

/* Reads path into a new table; a missing file is an empty table, not an
 * error. Returns NULL only when memory runs out or the file cannot be read
 * for another reason (errno set, info untouched). Free with hosts_free(). */
struct hosts_table *hosts_load(const char *path, struct hosts_load_info *info);

/* NULL ok. */
void hosts_free(struct hosts_table *t);

enum hosts_verdict {
	HOSTS_PASS,        /* not ours: go on to the cache and upstream */
	HOSTS_ANSWERED,    /* *out holds a stored answer (NOERROR, NODATA or NXDOMAIN) */
};

/* Answers q from the special-use rules, then the table (t may be NULL when
 * the hosts file is off; the special names still apply). The answer is
 * authoritative (AA) with TTL opt->ttl; a name in the file with no record
 * of the asked type is NODATA, never forwarded. PTR questions under
 * in-addr.arpa and ip6.arpa are answered for addresses in the file.
 * Writes at most cap bytes; an answer that does not fit is cut to whole
 * records. */
enum hosts_verdict hosts_answer(const struct hosts_table *t, const struct hosts_options *opt,
				const struct wire_query *q, uint8_t *out, size_t cap,
				size_t *out_len);

#endif
