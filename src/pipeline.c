/* pipeline.c - the per-question stages. See pipeline.h. */
#include "stubd/pipeline.h"

#include <stdlib.h>
#include <sys/queue.h>

#include "stubd/log.h"

const char *const pipeline_source_names[PIPELINE_SOURCE_COUNT_] = {
	[PIPELINE_SOURCE_LOCAL] = "local",
	[PIPELINE_SOURCE_HOSTS] = "hosts",
	[PIPELINE_SOURCE_CACHE] = "cache",
	[PIPELINE_SOURCE_UPSTREAM] = "upstream",
};

/* A question waiting for the upstream stage. */
struct pipeline_query {
	struct pipeline *p;
	LIST_ENTRY(pipeline_query) link;
	struct wire_query q;
	struct pipeline_client client;
	struct upstream_txn *txn;
};

struct pipeline {
	const struct hosts_table *hosts;
	const struct hosts_options *hosts_opt;
	struct upstream *up;
	size_t edns_size;
	struct pipeline_stats stats;
	LIST_HEAD(, pipeline_query) pending;
	/* Replies for waiting clients, and stored answers from the stages that
	 * answer at once, are built here: one loop, one message at a time. */
	uint8_t scratch[WIRE_MSG_MAX];
};

struct pipeline *pipeline_new(struct upstream *up, const struct config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->up = up;
	p->edns_size = cfg->edns_buffer_size;
	LIST_INIT(&p->pending);
	return p;
}

void pipeline_set_hosts(struct pipeline *p, const struct hosts_table *table,
			const struct hosts_options *opt)
{
	p->hosts = table;
	p->hosts_opt = opt;
}

static void query_free(struct pipeline_query *pq)
{
	LIST_REMOVE(pq, link);
	pq->p->stats.pending--;
	free(pq);
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	while (!LIST_EMPTY(&p->pending)) {
		struct pipeline_query *pq = LIST_FIRST(&p->pending);
		upstream_cancel(pq->txn);
		query_free(pq);
	}
	free(p);
}

static size_t counted(struct pipeline *p, const uint8_t *reply, size_t len,
		      enum pipeline_source source)
{
	if (len >= WIRE_HEADER_LEN) {
		p->stats.answers[source]++;
		p->stats.rcodes[WIRE_RCODE(wire_get16(reply + 2))]++;
	}
	return len;
}

size_t pipeline_reject(struct pipeline *p, const struct wire_query *q, unsigned rcode,
		       uint8_t *out, size_t cap)
{
	size_t len = wire_build_error(out, cap, q, rcode, p->edns_size);
	if (len > 0)
		p->stats.rcodes[rcode < WIRE_RCODE_COUNT_ ? rcode : WIRE_RCODE_SERVFAIL]++;
	p->stats.answers[PIPELINE_SOURCE_LOCAL] += len > 0;
	return len;
}

static size_t servfail(struct pipeline *p, const struct wire_query *q, uint8_t *out,
		       size_t cap, enum pipeline_source *source)
{
	*source = PIPELINE_SOURCE_LOCAL;
	return pipeline_reject(p, q, WIRE_RCODE_SERVFAIL, out, cap);
}

static void on_upstream_done(void *arg, enum upstream_status status, const uint8_t *answer,
			     size_t answer_len, const struct upstream_server *server)
{
	struct pipeline_query *pq = arg;
	struct pipeline *p = pq->p;
	enum pipeline_source source = PIPELINE_SOURCE_UPSTREAM;
	size_t len = 0;

	pq->txn = NULL; /* the upstream module frees it after this call */
	if (status == UPSTREAM_ANSWER)
		len = wire_finish_reply(p->scratch, sizeof(p->scratch), answer, answer_len,
					&pq->q, pq->client.reply_limit, p->edns_size);
	if (len == 0)
		len = servfail(p, &pq->q, p->scratch, sizeof(p->scratch), &source);
	else
		counted(p, p->scratch, len, source);
	pq->client.reply(&pq->client, p->scratch, len, source);
	query_free(pq);
}

/* Stage 1. The stored answer is built in scratch, then fitted to the
 * client (ID, case, EDNS, size) like any other answer. */
static size_t answer_from_hosts(struct pipeline *p, const struct wire_query *q,
				const struct pipeline_client *client, uint8_t *out, size_t cap)
{
	size_t stored_len;
	if (!p->hosts_opt ||
	    hosts_answer(p->hosts, p->hosts_opt, q, p->scratch, sizeof(p->scratch), &stored_len) !=
		    HOSTS_ANSWERED)
		return 0;
	return wire_finish_reply(out, cap, p->scratch, stored_len, q, client->reply_limit,
				 p->edns_size);
}

size_t pipeline_submit(struct pipeline *p, const struct wire_query *q,
		       const struct pipeline_client *client, uint8_t *out, size_t cap,
		       enum pipeline_source *source)
{
	size_t len = answer_from_hosts(p, q, client, out, cap);
	if (len > 0) {
		*source = PIPELINE_SOURCE_HOSTS;
		return counted(p, out, len, *source);
	}

	struct pipeline_query *pq = calloc(1, sizeof(*pq));
	if (!pq)
		return servfail(p, q, out, cap, source);
	pq->p = p;
	pq->q = *q;
	pq->client = *client;
	LIST_INSERT_HEAD(&p->pending, pq, link);
	p->stats.pending++;

	pq->txn = upstream_resolve(p->up, q, on_upstream_done, pq);
	if (!pq->txn) {
		query_free(pq);
		return servfail(p, q, out, cap, source);
	}
	return 0;
}

void pipeline_cancel_owner(struct pipeline *p, const void *owner)
{
	struct pipeline_query *pq = LIST_FIRST(&p->pending);
	while (pq) {
		struct pipeline_query *next = LIST_NEXT(pq, link);
		if (pq->client.owner == owner) {
			upstream_cancel(pq->txn);
			query_free(pq);
		}
		pq = next;
	}
}

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p)
{
	return &p->stats;
}
