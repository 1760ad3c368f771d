/* hosts.c - the hosts file table and the special-use names. See hosts.h.
 *
 * Loading builds two open-addressing hash tables over flat arrays: names
 * (keyed by the lowercased wire form, so a lookup hashes the query's name
 * as it comes, folding case on the fly) and addresses (for PTR). The
 * arrays and an arena of wire names are all the table owns; nothing
 * changes after hosts_load() returns, so a table can be read while a
 * reload builds the next one.
 *
 * Answering walks the rules of hosts_answer() in order and writes the
 * reply by hand: the question is copied from the query and every record's
 * owner is a pointer to it (0xc00c).
 */
#include "stubd/ascii.h"
#include "stubd/hosts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/log.h"
#include "stubd/utf8.h"

/* hosts(5) lines are short; anything longer is garbage or a mistake, and
 * reading it into memory whole would let a stray binary file eat RAM. */
#define LINE_MAX_LEN 4096
/* Enough to point at a broken file without flooding the log with it. */
#define WARN_MAX 20
#define LABELS_MAX 128 /* a 255-byte wire name has at most 127 labels */
#define CLASS_ANY 255  /* QCLASS *, RFC 1035 §3.2.5 */

/* Wire-form suffixes the rules look for (root label included). */
#define W_LOCALHOST "\011localhost"
#define W_INVALID "\007invalid"
#define W_ONION "\005onion"
#define W_LOCAL "\005local"
#define W_IN_ADDR "\007in-addr\004arpa"
#define W_IP6 "\003ip6\004arpa"
#define W_LEN(lit) (sizeof(lit)) /* the string's NUL is the root label */

/* ---- the table ------------------------------------------------------ */

/* One slot of an open-addressing index: idx1 is the entry's index + 1
 * (0 = empty); the hash is kept so growing never needs the keys. */
struct slot {
	uint32_t hash;
	uint32_t idx1;
};

struct slots {
	struct slot *s;
	size_t cap; /* a power of two, or 0 */
	size_t count;
};

struct name_entry {
	uint32_t hash;
	uint32_t key_off;  /* arena: the name in wire form, lowercased */
	uint8_t key_len;
	uint32_t v4_first; /* into table->v4, file order */
	uint32_t n_v4;
	uint32_t v6_first; /* into table->v6, file order */
	uint32_t n_v6;
};

struct addr_entry {
	uint32_t hash;
	uint8_t len;       /* 4 or 16 */
	uint8_t bytes[16];
	uint32_t canon_off; /* arena: the canonical name of its first line, as written */
	uint8_t canon_len;
};

/* While loading: one (name, address) pair per name on a line. seq keeps
 * file order through the sorts that group and deduplicate them. */
struct pair {
	uint32_t name;
	uint32_t addr;
	uint32_t seq;
};

struct hosts_table {
	struct name_entry *names;
	size_t n_names, cap_names;
	struct slots name_index;

	struct addr_entry *addrs;
	size_t n_addrs, cap_addrs;
	struct slots addr_index;

	uint8_t *arena;
	size_t arena_len, arena_cap;

	uint8_t (*v4)[4];
	uint8_t (*v6)[16];

	/* Load-time only; freed when the table is finished. */
	struct pair *pairs;
	size_t n_pairs, cap_pairs;
};



static uint32_t hash_addr(const uint8_t *bytes, size_t len)
{
	uint32_t h = ASCII_FNV_BASIS ^ (uint32_t)len;
	for (size_t i = 0; i < len; i++)
		h = ascii_fnv_step(h, bytes[i]);
	return h;
}

/* Doubles *cap (from 16) until it holds need elements; 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	if (n > UINT32_MAX || n > SIZE_MAX / elem)
		return -ENOMEM;
	void *p = realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

static void slots_put(struct slots *x, uint32_t hash, uint32_t idx)
{
	size_t mask = x->cap - 1;
	size_t i = hash & mask;
	while (x->s[i].idx1 != 0)
		i = (i + 1) & mask;
	x->s[i].hash = hash;
	x->s[i].idx1 = idx + 1;
	x->count++;
}

/* Makes room for one more entry, keeping the load factor at most 0.75 so
 * that probes stay short and always reach an empty slot. */
static int slots_reserve_one(struct slots *x)
{
	if ((x->count + 1) * 4 <= x->cap * 3)
		return 0;
	size_t cap = x->cap ? x->cap * 2 : 16;
	struct slot *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct slots bigger = { .s = s, .cap = cap, .count = 0 };
	for (size_t i = 0; i < x->cap; i++)
		if (x->s[i].idx1 != 0)
			slots_put(&bigger, x->s[i].hash, x->s[i].idx1 - 1);
	free(x->s);
	*x = bigger;
	return 0;
}

static const struct name_entry *find_name(const struct hosts_table *t, const uint8_t *name,
					  size_t len)
{
	if (!t || t->name_index.cap == 0)
		return NULL;
	uint32_t h = wire_name_hash(name, len);
	size_t mask = t->name_index.cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &t->name_index.s[i];
		if (s->idx1 == 0)
			return NULL;
		const struct name_entry *e = &t->names[s->idx1 - 1];
		if (s->hash == h && wire_name_equal(t->arena + e->key_off, e->key_len, name, len))
			return e;
	}
}

static const struct addr_entry *find_addr(const struct hosts_table *t, const uint8_t *bytes,
					  size_t len)
{
	if (!t || t->addr_index.cap == 0)
		return NULL;
	uint32_t h = hash_addr(bytes, len);
	size_t mask = t->addr_index.cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &t->addr_index.s[i];
		if (s->idx1 == 0)
			return NULL;
		const struct addr_entry *e = &t->addrs[s->idx1 - 1];
		if (s->hash == h && e->len == len && memcmp(e->bytes, bytes, len) == 0)
			return e;
	}
}

void hosts_free(struct hosts_table *t)
{
	if (!t)
		return;
	free(t->names);
	free(t->name_index.s);
	free(t->addrs);
	free(t->addr_index.s);
	free(t->arena);
	free(t->v4);
	free(t->v6);
	free(t->pairs);
	free(t);
}

/* ---- building ------------------------------------------------------- */

static int arena_add(struct hosts_table *t, const uint8_t *bytes, size_t len, uint32_t *off)
{
	if (grow((void **)&t->arena, &t->arena_cap, t->arena_len + len, 1) < 0)
		return -ENOMEM;
	memcpy(t->arena + t->arena_len, bytes, len);
	*off = (uint32_t)t->arena_len;
	t->arena_len += len;
	return 0;
}

/* Returns the index of the name (lowercased wire form), adding it if new. */
static int intern_name(struct hosts_table *t, const uint8_t *key, size_t len, uint32_t *idx)
{
	const struct name_entry *found = find_name(t, key, len);
	if (found) {
		*idx = (uint32_t)(found - t->names);
		return 0;
	}
	if (grow((void **)&t->names, &t->cap_names, t->n_names + 1, sizeof(*t->names)) < 0 ||
	    slots_reserve_one(&t->name_index) < 0)
		return -ENOMEM;
	struct name_entry *e = &t->names[t->n_names];
	memset(e, 0, sizeof(*e));
	e->hash = wire_name_hash(key, len);
	e->key_len = (uint8_t)len;
	if (arena_add(t, key, len, &e->key_off) < 0)
		return -ENOMEM;
	*idx = (uint32_t)t->n_names++;
	slots_put(&t->name_index, e->hash, *idx);
	return 0;
}

/* Returns the index of the address, adding it if new. The first line
 * that lists an address gives its PTR name, as glibc's gethostbyaddr. */
static int intern_addr(struct hosts_table *t, const uint8_t *bytes, size_t len,
		       const uint8_t *canon, size_t canon_len, uint32_t *idx)
{
	const struct addr_entry *found = find_addr(t, bytes, len);
	if (found) {
		*idx = (uint32_t)(found - t->addrs);
		return 0;
	}
	if (grow((void **)&t->addrs, &t->cap_addrs, t->n_addrs + 1, sizeof(*t->addrs)) < 0 ||
	    slots_reserve_one(&t->addr_index) < 0)
		return -ENOMEM;
	struct addr_entry *e = &t->addrs[t->n_addrs];
	memset(e, 0, sizeof(*e));
	e->hash = hash_addr(bytes, len);
	e->len = (uint8_t)len;
	memcpy(e->bytes, bytes, len);
	e->canon_len = (uint8_t)canon_len;
	if (arena_add(t, canon, canon_len, &e->canon_off) < 0)
		return -ENOMEM;
	*idx = (uint32_t)t->n_addrs++;
	slots_put(&t->addr_index, e->hash, *idx);
	return 0;
}

static int add_pair(struct hosts_table *t, uint32_t name, uint32_t addr)
{
	if (grow((void **)&t->pairs, &t->cap_pairs, t->n_pairs + 1, sizeof(*t->pairs)) < 0)
		return -ENOMEM;
	t->pairs[t->n_pairs] = (struct pair){ .name = name, .addr = addr,
					      .seq = (uint32_t)t->n_pairs };
	t->n_pairs++;
	return 0;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return (a > b) - (a < b);
}

static int cmp_name_addr_seq(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;
	int c = cmp_u32(a->name, b->name);
	if (c == 0)
		c = cmp_u32(a->addr, b->addr);
	return c != 0 ? c : cmp_u32(a->seq, b->seq);
}

static int cmp_name_seq(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;
	int c = cmp_u32(a->name, b->name);
	return c != 0 ? c : cmp_u32(a->seq, b->seq);
}

/* Drops repeated (name, address) pairs, keeping the first, and leaves the
 * pairs grouped by name in file order. Sorting costs O(n log n) once, where
 * checking each new address against its name's list would be quadratic
 * for a name with many addresses. */
static void dedup_pairs(struct hosts_table *t)
{
	if (t->n_pairs == 0)
		return;
	qsort(t->pairs, t->n_pairs, sizeof(*t->pairs), cmp_name_addr_seq);
	size_t kept = 1;
	for (size_t i = 1; i < t->n_pairs; i++) {
		const struct pair *last = &t->pairs[kept - 1];
		if (t->pairs[i].name != last->name || t->pairs[i].addr != last->addr)
			t->pairs[kept++] = t->pairs[i];
	}
	t->n_pairs = kept;
	qsort(t->pairs, t->n_pairs, sizeof(*t->pairs), cmp_name_seq);
}

/* Turns the pairs into each name's contiguous v4 and v6 lists. */
static int finish_table(struct hosts_table *t)
{
	size_t n4 = 0, n6 = 0;

	dedup_pairs(t);
	for (size_t i = 0; i < t->n_pairs; i++) {
		if (t->addrs[t->pairs[i].addr].len == 4)
			n4++;
		else
			n6++;
	}
	t->v4 = malloc((n4 ? n4 : 1) * sizeof(*t->v4));
	t->v6 = malloc((n6 ? n6 : 1) * sizeof(*t->v6));
	if (!t->v4 || !t->v6)
		return -ENOMEM;

	n4 = n6 = 0;
	for (size_t i = 0; i < t->n_pairs; i++) {
		struct name_entry *e = &t->names[t->pairs[i].name];
		const struct addr_entry *a = &t->addrs[t->pairs[i].addr];
		if (i == 0 || t->pairs[i - 1].name != t->pairs[i].name) {
			e->v4_first = (uint32_t)n4;
			e->v6_first = (uint32_t)n6;
		}
		if (a->len == 4) {
			memcpy(t->v4[n4++], a->bytes, 4);
			e->n_v4++;
		} else {
			memcpy(t->v6[n6++], a->bytes, 16);
			e->n_v6++;
		}
	}
	free(t->pairs);
	t->pairs = NULL;
	t->cap_pairs = 0;
	return 0;
}

/* ---- parsing -------------------------------------------------------- */

static bool is_blank(unsigned char c)
{
	/* '\r' too: a file written on Windows still reads. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}


/* Why the data part of a line (comment cut off) cannot be used, or NULL.
 * hosts(5) fields are printable ASCII; a query name is too, IDNs being
 * sent in their xn-- form (RFC 5890), so a UTF-8 name could never match. */
static const char *check_bytes(const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;

	for (size_t i = 0; i < len; i++) {
		if (is_blank(s[i]) || (s[i] > 0x20 && s[i] < 0x7f))
			continue;
		if (s[i] < 0x80)
			return "control character";
		size_t n = utf8_seq_len(s + i, len - i);
		if (n == 0)
			return "not valid UTF-8 (binary data?)";
		return "non-ASCII name (write internationalized names in their xn-- form)";
	}
	return NULL;
}


/* IPv4 dotted quad or IPv6 text; an IPv6 zone ("fe80::1%eth0") is
 * dropped, since DNS has no way to carry it. Returns 4, 16 or 0. */
static size_t parse_address(const char *text, size_t len, uint8_t bytes[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len < sizeof(buf)) {
		memcpy(buf, text, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET, buf, bytes) == 1)
			return 4;
	}
	const char *pct = memchr(text, '%', len);
	if (pct)
		len = (size_t)(pct - text);
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, text, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, bytes) == 1 ? 16 : 0;
}

struct token {
	const char *s;
	size_t len;
};

/* Splits the line into blank-separated fields; returns how many (at most max). */
static size_t split_fields(const char *line, size_t len, struct token *tok, size_t max)
{
	size_t n = 0, i = 0;

	while (i < len && n < max) {
		while (i < len && is_blank((unsigned char)line[i]))
			i++;
		if (i == len)
			break;
		tok[n].s = line + i;
		while (i < len && !is_blank((unsigned char)line[i]))
			i++;
		tok[n].len = (size_t)(line + i - tok[n].s);
		n++;
	}
	return n;
}

/* What one good line holds, checked whole before the table is touched so
 * that a bad line adds nothing. */
#define FIELDS_MAX (LINE_MAX_LEN / 2 + 1)
struct parsed_line {
	uint8_t addr[16];
	size_t addr_len;
	uint8_t canon[WIRE_NAME_MAX]; /* the file's case, for PTR answers */
	size_t canon_len;
	struct token fields[FIELDS_MAX];
	size_t n_fields;
};

/* Why the line is malformed, or NULL (pl filled, or n_fields 0 for a
 * blank or comment line). */
static const char *parse_line(const char *line, size_t len, struct parsed_line *pl)
{
	const char *why;
	uint8_t key[WIRE_NAME_MAX];

	if (memchr(line, '\0', len))
		return "NUL byte (binary data?)";
	/* '#' starts a comment anywhere on a line, as in glibc's parser. */
	const char *hash = memchr(line, '#', len);
	if (hash)
		len = (size_t)(hash - line);
	if ((why = check_bytes(line, len)) != NULL)
		return why;

	pl->n_fields = split_fields(line, len, pl->fields, FIELDS_MAX);
	if (pl->n_fields == 0)
		return NULL;
	pl->addr_len = parse_address(pl->fields[0].s, pl->fields[0].len, pl->addr);
	if (pl->addr_len == 0)
		return "bad address";
	if (pl->n_fields < 2)
		return "address with no name";
	for (size_t i = 1; i < pl->n_fields; i++) {
		if (wire_name_from_text(pl->fields[i].s, pl->fields[i].len, true, key, &why) == 0)
			return why;
	}
	pl->canon_len = wire_name_from_text(pl->fields[1].s, pl->fields[1].len, false, pl->canon, &why);
	return NULL;
}

static int add_line(struct hosts_table *t, const struct parsed_line *pl)
{
	uint32_t addr, name;
	uint8_t key[WIRE_NAME_MAX];
	const char *why;

	if (intern_addr(t, pl->addr, pl->addr_len, pl->canon, pl->canon_len, &addr) < 0)
		return -ENOMEM;
	for (size_t i = 1; i < pl->n_fields; i++) {
		size_t len = wire_name_from_text(pl->fields[i].s, pl->fields[i].len, true, key, &why);
		if (intern_name(t, key, len, &name) < 0 || add_pair(t, name, addr) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Reads one line without its '\n' into buf (LINE_MAX_LEN bytes). A longer
 * line is read to its end and dropped (*overlong), so the next call starts
 * at the next line rather than in the middle of this one. Returns false at
 * end of file. */
static bool read_line(FILE *f, char *buf, size_t *len, bool *overlong)
{
	size_t n = 0;
	bool any = false;
	int c;

	*overlong = false;
	while ((c = getc_unlocked(f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n < LINE_MAX_LEN)
			buf[n++] = (char)c;
		else
			*overlong = true;
	}
	*len = n;
	return any;
}

static void skip_line(const char *path, size_t lineno, const char *why,
		      struct hosts_load_info *info)
{
	if (info->skipped++ < WARN_MAX)
		log_warn("%s:%zu: %s, ignoring line", path, lineno, why);
}

static int read_file(struct hosts_table *t, FILE *f, const char *path,
		     struct hosts_load_info *info)
{
	char buf[LINE_MAX_LEN];
	size_t len;
	bool overlong;
	int ret = 0;
	struct parsed_line *pl = malloc(sizeof(*pl));

	if (!pl)
		return -ENOMEM;
	while (read_line(f, buf, &len, &overlong)) {
		info->lines++;
		if (overlong) {
			skip_line(path, info->lines, "line longer than 4096 bytes", info);
			continue;
		}
		const char *why = parse_line(buf, len, pl);
		if (why) {
			skip_line(path, info->lines, why, info);
			continue;
		}
		if (pl->n_fields > 0 && (ret = add_line(t, pl)) < 0)
			break;
	}
	if (ret == 0 && ferror(f))
		ret = -(errno ? errno : EIO);
	free(pl);
	return ret;
}

struct hosts_table *hosts_load(const char *path, struct hosts_load_info *info)
{
	struct hosts_load_info got = { 0 };
	struct hosts_table *t = calloc(1, sizeof(*t));
	int ret = 0;

	if (!t)
		return NULL;
	/* One open file: a file renamed over this one while we read is the
	 * next reload's business, this load sees one whole version. */
	FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT) {
		got.missing = true;
	} else if (!f) {
		ret = -errno;
	} else {
		errno = 0;
		ret = read_file(t, f, path, &got);
		fclose(f);
	}
	if (ret == 0)
		ret = finish_table(t);
	if (ret < 0) {
		hosts_free(t);
		errno = -ret;
		return NULL;
	}
	if (got.skipped > WARN_MAX)
		log_warn("%s: %zu more malformed lines not shown", path, got.skipped - WARN_MAX);
	got.entries = t->n_pairs;
	if (info)
		*info = got;
	return t;
}

/* ---- answering ------------------------------------------------------ */

/* The query name cut into labels: off[i] is where label i starts, off[n]
 * the root label. */
struct labels {
	const uint8_t *name;
	size_t len;
	size_t n;
	uint8_t off[LABELS_MAX];
};

static int split_labels(const uint8_t *name, size_t len, struct labels *l)
{
	size_t pos = 0;

	l->name = name;
	l->len = len;
	l->n = 0;
	for (;;) {
		if (pos >= len || l->n >= LABELS_MAX || name[pos] > WIRE_LABEL_MAX)
			return -1;
		l->off[l->n] = (uint8_t)pos;
		if (name[pos] == 0)
			return pos + 1 == len ? 0 : -1;
		pos += 1 + (size_t)name[pos];
		l->n++;
	}
}

/* Is the name suffix (wire form, root included) or below it? */
static bool is_under(const struct labels *l, const uint8_t *suffix, size_t suffix_len)
{
	for (size_t i = 0; i <= l->n; i++) {
		size_t rest = l->len - l->off[i];
		if (rest == suffix_len)
			return wire_name_equal(l->name + l->off[i], rest, suffix, suffix_len);
		if (rest < suffix_len)
			return false;
	}
	return false;
}

#define IS_UNDER(l, lit) is_under((l), (const uint8_t *)(lit), W_LEN(lit))

/* A decimal octet label as in RFC 1035 §3.5 names: 0..255, no leading
 * zeros (they are not how any address is written, so they match nothing). */
static int octet_label(const struct labels *l, size_t i)
{
	const uint8_t *p = l->name + l->off[i];
	unsigned v = 0;

	if (p[0] == 0 || p[0] > 3 || (p[0] > 1 && p[1] == '0'))
		return -1;
	for (uint8_t k = 1; k <= p[0]; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[k] - '0');
	}
	return v <= 255 ? (int)v : -1;
}

static int nibble_label(const struct labels *l, size_t i)
{
	const uint8_t *p = l->name + l->off[i];

	if (p[0] != 1)
		return -1;
	uint8_t c = ascii_lower(p[1]);
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum reverse_kind {
	REV_NONE,       /* not a reverse name we know */
	REV_ADDRESS,    /* a full address: bytes filled */
	REV_LOOP_ENT,   /* an ancestor of 127.0.0.0/8 names, e.g. 0.127.in-addr.arpa */
	REV_LOOP_BAD,   /* below 127.in-addr.arpa, but no address */
};

/* RFC 1035 §3.5: a.b.c.d.in-addr.arpa holds d.c.b.a. */
static enum reverse_kind parse_reverse_v4(const struct labels *l, uint8_t bytes[16], size_t *len)
{
	if (l->n < 3 || !IS_UNDER(l, W_IN_ADDR))
		return REV_NONE;
	size_t k = l->n - 2; /* labels before in-addr.arpa */
	bool loop = octet_label(l, k - 1) == 127;
	if (k > 4)
		return loop ? REV_LOOP_BAD : REV_NONE;
	for (size_t i = 0; i < k; i++) {
		int v = octet_label(l, i);
		if (v < 0)
			return loop ? REV_LOOP_BAD : REV_NONE;
		bytes[k - 1 - i] = (uint8_t)v;
	}
	if (k == 4) {
		*len = 4;
		return REV_ADDRESS;
	}
	/* RFC 6303 §4.2: 127.in-addr.arpa is served locally; its inner
	 * names exist (every address below them has a PTR) but hold no data. */
	return loop ? REV_LOOP_ENT : REV_NONE;
}

/* RFC 3596 §2.5: 32 nibble labels, least significant first, then ip6.arpa. */
static enum reverse_kind parse_reverse_v6(const struct labels *l, uint8_t bytes[16], size_t *len)
{
	if (l->n != 34 || !IS_UNDER(l, W_IP6))
		return REV_NONE;
	for (size_t i = 0; i < 16; i++) {
		int hi = nibble_label(l, 31 - 2 * i);
		int lo = nibble_label(l, 30 - 2 * i);
		if (hi < 0 || lo < 0)
			return REV_NONE;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = 16;
	return REV_ADDRESS;
}

/* The reply being written into the caller's buffer. */
struct reply {
	uint8_t *out;
	size_t cap;
	size_t len;
	uint16_t ancount;
	bool full;      /* a record did not fit: add no more */
	unsigned rcode;
	uint32_t ttl;
};

/* Header and question; false if even they do not fit (cap is at least
 * 512 in the daemon, and a question is at most 259 bytes, so it fits). */
static bool reply_begin(struct reply *r, uint8_t *out, size_t cap, const struct wire_query *q,
			uint32_t ttl)
{
	*r = (struct reply){ .out = out, .cap = cap, .ttl = ttl };
	r->len = WIRE_HEADER_LEN + (size_t)q->qname_len + 4;
	if (r->len > cap)
		return false;
	memset(out, 0, WIRE_HEADER_LEN);
	wire_put16(out + 4, 1);
	memcpy(out + WIRE_HEADER_LEN, q->qname, q->qname_len);
	wire_put16(out + WIRE_HEADER_LEN + q->qname_len, q->qtype);
	wire_put16(out + WIRE_HEADER_LEN + q->qname_len + 2, q->qclass);
	return true;
}

/* Appends a record owned by the question name. Once one does not fit no
 * later one is added, so the answer is a prefix of the full list. */
static void reply_add(struct reply *r, uint16_t type, const uint8_t *rdata, size_t rdlen)
{
	if (r->full || r->len + 12 + rdlen > r->cap || r->ancount == UINT16_MAX) {
		r->full = true;
		return;
	}
	uint8_t *p = r->out + r->len;
	wire_put16(p, 0xc000 | WIRE_HEADER_LEN); /* RFC 1035 §4.1.4 */
	wire_put16(p + 2, type);
	wire_put16(p + 4, WIRE_CLASS_IN);
	wire_put16(p + 6, (uint16_t)(r->ttl >> 16));
	wire_put16(p + 8, (uint16_t)r->ttl);
	wire_put16(p + 10, (uint16_t)rdlen);
	memcpy(p + 12, rdata, rdlen);
	r->len += 12 + rdlen;
	r->ancount++;
}

static size_t reply_end(struct reply *r, const struct wire_query *q)
{
	/* Authoritative: these names are defined here, not cached from
	 * elsewhere. RD echoes the query (RFC 1035 §4.1.1). */
	uint16_t flags = (uint16_t)(WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_RA |
				    (q->flags & WIRE_FLAG_RD) | (r->rcode & 0xf));
	wire_put16(r->out + 2, flags);
	wire_put16(r->out + 6, r->ancount);
	return r->len;
}

static bool wants(const struct wire_query *q, uint16_t type)
{
	return q->qtype == type || q->qtype == WIRE_TYPE_ANY;
}

/* A and AAAA from lists; a name with no data of the asked type is NODATA
 * (RFC 2308 §2.2): rcode stays NOERROR with no records. */
static void add_addrs(struct reply *r, const struct wire_query *q, const uint8_t *v4,
		      size_t n4, const uint8_t *v6, size_t n6)
{
	if (wants(q, WIRE_TYPE_A))
		for (size_t i = 0; i < n4 && !r->full; i++)
			reply_add(r, WIRE_TYPE_A, v4 + 4 * i, 4);
	if (wants(q, WIRE_TYPE_AAAA))
		for (size_t i = 0; i < n6 && !r->full; i++)
			reply_add(r, WIRE_TYPE_AAAA, v6 + 16 * i, 16);
}

static const uint8_t loopback_v4[4] = { 127, 0, 0, 1 };
static const uint8_t loopback_v6[16] = { [15] = 1 };

/* RFC 6761 §6.3: localhost and every name below it are the loopback
 * addresses, and nothing else; never forwarded. */
static bool answer_localhost(struct reply *r, const struct wire_query *q,
			     const struct labels *l)
{
	if (!IS_UNDER(l, W_LOCALHOST))
		return false;
	add_addrs(r, q, loopback_v4, 1, loopback_v6, 1);
	return true;
}

static void add_ptr(struct reply *r, const struct wire_query *q, const uint8_t *name,
		    size_t len)
{
	if (wants(q, WIRE_TYPE_PTR))
		reply_add(r, WIRE_TYPE_PTR, name, len);
}

/* PTR for the file's addresses, and for 127.0.0.0/8 and ::1 (RFC 6761
 * §6.3, RFC 6303 §4.2) whatever the file says, so that they never leave
 * the machine. The file's name for a loopback address wins over
 * "localhost". */
static bool answer_reverse(struct reply *r, const struct hosts_table *t,
			   const struct wire_query *q, const struct labels *l)
{
	uint8_t bytes[16];
	size_t len = 0;
	enum reverse_kind kind = parse_reverse_v4(l, bytes, &len);

	if (kind == REV_NONE)
		kind = parse_reverse_v6(l, bytes, &len);
	switch (kind) {
	case REV_NONE:
		return false;
	case REV_LOOP_ENT:
		return true; /* NODATA */
	case REV_LOOP_BAD:
		r->rcode = WIRE_RCODE_NXDOMAIN;
		return true;
	case REV_ADDRESS:
		break;
	}
	const struct addr_entry *a = find_addr(t, bytes, len);
	if (a) {
		add_ptr(r, q, t->arena + a->canon_off, a->canon_len);
		return true;
	}
	if ((len == 4 && bytes[0] == 127) || (len == 16 && memcmp(bytes, loopback_v6, 16) == 0)) {
		add_ptr(r, q, (const uint8_t *)W_LOCALHOST, W_LEN(W_LOCALHOST));
		return true;
	}
	return false;
}

/* nsswitch "files" before "dns": a name in the file is answered from it
 * alone, and types it has no data for are NODATA, never forwarded. */
static bool answer_table(struct reply *r, const struct hosts_table *t,
			 const struct wire_query *q)
{
	const struct name_entry *e = find_name(t, q->qname, q->qname_len);
	if (!e)
		return false;
	add_addrs(r, q, (const uint8_t *)(t->v4 + e->v4_first), e->n_v4,
		  (const uint8_t *)(t->v6 + e->v6_first), e->n_v6);
	return true;
}

void hosts_options_set_hostname(struct hosts_options *opt, const char *hostname)
{
	const char *why;
	snprintf(opt->hostname, sizeof(opt->hostname), "%s", hostname);
	opt->hostname_wire_len = wire_name_from_text(opt->hostname, strlen(opt->hostname), false,
					      opt->hostname_wire, &why);
}

/* The machine's own name, as nss-myhostname: its addresses, or 127.0.0.2
 * and ::1 when it has none at all. */
static bool answer_own_name(struct reply *r, const struct hosts_options *opt,
			    const struct wire_query *q)
{
	if (opt->hostname_wire_len == 0 ||
	    !wire_name_equal(opt->hostname_wire, opt->hostname_wire_len, q->qname, q->qname_len))
		return false;
	size_t n4 = opt->n_self_v4 < HOSTS_MAX_SELF_ADDRS ? opt->n_self_v4 : HOSTS_MAX_SELF_ADDRS;
	size_t n6 = opt->n_self_v6 < HOSTS_MAX_SELF_ADDRS ? opt->n_self_v6 : HOSTS_MAX_SELF_ADDRS;
	if (n4 == 0 && n6 == 0) {
		static const uint8_t fallback_v4[4] = { 127, 0, 0, 2 };
		add_addrs(r, q, fallback_v4, 1, loopback_v6, 1);
		return true;
	}
	/* struct in_addr and in6_addr are the address bytes in network order. */
	_Static_assert(sizeof(struct in_addr) == 4, "in_addr is 4 bytes");
	_Static_assert(sizeof(struct in6_addr) == 16, "in6_addr is 16 bytes");
	add_addrs(r, q, (const uint8_t *)opt->self_v4, n4, (const uint8_t *)opt->self_v6, n6);
	return true;
}

/* Names that must not reach unicast DNS: RFC 6761 §6.4 (invalid), RFC
 * 7686 §2 (onion: Tor only), RFC 6762 §3 (local: multicast DNS only). */
static bool answer_special(struct reply *r, const struct labels *l)
{
	if (!IS_UNDER(l, W_INVALID) && !IS_UNDER(l, W_ONION) && !IS_UNDER(l, W_LOCAL))
		return false;
	r->rcode = WIRE_RCODE_NXDOMAIN;
	return true;
}

/* A single label ("printer") is a search-list or LLMNR name, not one for
 * the global DNS: systemd-resolved does not send it upstream either. */
static bool answer_single_label(struct reply *r, const struct hosts_options *opt,
				const struct labels *l)
{
	if (l->n != 1 || opt->forward_single_label)
		return false;
	r->rcode = WIRE_RCODE_NXDOMAIN;
	return true;
}

enum hosts_verdict hosts_answer(const struct hosts_table *t, const struct hosts_options *opt,
				const struct wire_query *q, uint8_t *out, size_t cap,
				size_t *out_len)
{
	static const struct hosts_options no_options;
	struct labels l;
	struct reply r;

	if (!opt)
		opt = &no_options;
	/* Every name here is an Internet-class name; QCLASS * (RFC 1035
	 * §3.2.5) matches them too. Chaos and Hesiod are someone else's. */
	if (!q->has_question || (q->qclass != WIRE_CLASS_IN && q->qclass != CLASS_ANY))
		return HOSTS_PASS;
	if (split_labels(q->qname, q->qname_len, &l) < 0 ||
	    !reply_begin(&r, out, cap, q, opt->ttl))
		return HOSTS_PASS;

	/* Order matters: the file may name .local, .onion or .invalid hosts
	 * and the machine itself, but not redefine localhost. The own name
	 * comes before the special domains since "box.local" hostnames are
	 * common and answering them here sends nothing out either. */
	if (answer_localhost(&r, q, &l) || answer_reverse(&r, t, q, &l) ||
	    answer_table(&r, t, q) || answer_own_name(&r, opt, q) ||
	    answer_special(&r, &l) || answer_single_label(&r, opt, &l)) {
		*out_len = reply_end(&r, q);
		return HOSTS_ANSWERED;
	}
	return HOSTS_PASS;
}
