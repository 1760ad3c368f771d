/* ask.c - questions stubd asks itself; see ask.h. */
#include "stubd/ask.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/wire.h"

static void store(struct ask_answer *a, const uint8_t *reply, size_t len,
		  const struct pipeline_origin *origin)
{
	a->done = true;
	a->origin = *origin;
	/* Both point into the pipeline's state, valid only during the call. */
	a->origin.server = NULL;
	a->origin.route = NULL;
	snprintf(a->server, sizeof(a->server), "%s", origin->server ? origin->server : "");
	a->reply = malloc(len);
	if (a->reply) {
		memcpy(a->reply, reply, len);
		a->len = len;
	}
}

static void on_answer(const struct pipeline_client *client, const uint8_t *reply, size_t len,
		      const struct pipeline_origin *origin)
{
	struct ask *a = client->owner;
	/* The reply's ID is the index of the question it answers. */
	for (size_t i = 0; i < a->n; i++) {
		struct ask_answer *an = &a->answers[i];
		if (an->done || len < WIRE_HEADER_LEN || wire_get16(reply) != i)
			continue;
		store(an, reply, len, origin);
		a->n_done++;
		break;
	}
	if (a->n_done == a->n)
		a->done(a, a->arg);
}

int ask_start(struct ask *a, struct pipeline *p, const uint8_t *qname, size_t qname_len,
	      const uint16_t *types, size_t n, uint16_t qclass, bool skip_cache, ask_done_fn done,
	      void *arg)
{
	if (n == 0 || n > ASK_MAX_TYPES || qname_len > WIRE_NAME_MAX)
		return -EINVAL;
	uint8_t *out = malloc(WIRE_MSG_MAX); /* what is answered at once lands here */
	if (!out)
		return -ENOMEM;
	memset(a, 0, sizeof(*a));
	a->p = p;
	a->done = done;
	a->arg = arg;
	a->n = n;
	snprintf(a->route, sizeof(a->route), "none");
	struct pipeline_client client = {
		.reply = on_answer,
		.owner = a,
		.reply_limit = WIRE_MSG_MAX,
		.skip_cache = skip_cache,
	};
	for (size_t i = 0; i < n; i++) {
		struct wire_query q = {
			.id = (uint16_t)i,
			.flags = WIRE_FLAG_RD,
			.qtype = types[i],
			.qclass = qclass,
			.has_question = true,
			.qname_len = (uint8_t)qname_len,
		};
		memcpy(q.qname, qname, qname_len);
		a->answers[i].qtype = types[i];
		const struct route *route = pipeline_route(p, &q);
		if (i == 0 && route)
			snprintf(a->route, sizeof(a->route), "%s", route->label);
		if (!route || route->n_servers == 0)
			a->no_servers = true;
		struct pipeline_origin origin;
		size_t len = pipeline_submit(p, &q, &client, out, WIRE_MSG_MAX, &origin);
		if (len > 0) {
			store(&a->answers[i], out, len, &origin);
			a->n_done++;
		}
	}
	free(out);
	return a->n_done == a->n;
}

unsigned ask_rcode(const struct ask_answer *a)
{
	return a->len >= WIRE_HEADER_LEN ? WIRE_RCODE(wire_get16(a->reply + 2)) : WIRE_RCODE_SERVFAIL;
}

void ask_clear(struct ask *a)
{
	if (a->p && a->n_done < a->n)
		pipeline_cancel_owner(a->p, a);
	for (size_t i = 0; i < a->n; i++) {
		free(a->answers[i].reply);
		a->answers[i].reply = NULL;
	}
	a->n = a->n_done = 0;
}
