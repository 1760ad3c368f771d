/* test_hotpath.c - the promise behind the design: answering from the cache
 * or the hosts stage allocates nothing. Every malloc, calloc and realloc
 * in stubd's code is counted (the test links with --wrap), and a question
 * answered at once must leave the count where it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkt.h"
#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/hosts.h"
#include "stubd/pipeline.h"
#include "stubd/upstream.h"
#include "stubd/wire.h"

#include "alloc_count.h"

struct world {
	struct event_base *base;
	struct policy *pol;
	struct config cfg;
	struct upstream *up;
	struct pipeline *p;
	struct cache *cache;
	struct hosts_options hopt;
	struct route_table *routes;
};

/* The bench's routing cell: 50 links with 4 routing domains each, so the
 * hit path is measured with routing in place (it must not look). */
static struct route_table *many_routes(const struct config *cfg)
{
	enum { LINKS = 50, DOMAINS = 4 };
	static struct route_link_input links[LINKS];
	static struct route_server servers[LINKS];
	static struct route_domain domains[LINKS][DOMAINS];
	static char names[LINKS][16];
	for (int i = 0; i < LINKS; i++) {
		char text[64];
		snprintf(names[i], sizeof(names[i]), "vpn%d", i);
		snprintf(text, sizeof(text), "127.0.%d.1:9", i + 1);
		assert_int_equal(route_server_parse(text, 0, &servers[i], NULL, 0), 0);
		for (int j = 0; j < DOMAINS; j++) {
			snprintf(text, sizeof(text), "~d%d.corp%d.example", j, i);
			assert_int_equal(route_domain_parse(text, &domains[i][j], NULL, 0), 0);
		}
		links[i] = (struct route_link_input){ .ifindex = (unsigned)i + 2, .name = names[i],
						      .up = true, .servers = &servers[i], .n_servers = 1,
						      .domains = domains[i], .n_domains = DOMAINS };
	}
	struct route_input in = { .global = cfg->upstream, .n_global = cfg->n_upstream,
				  .links = links, .n_links = LINKS };
	return route_table_new(&in);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct config_error err;
	config_defaults(&w->cfg);
	assert_int_equal(config_set(&w->cfg, "upstream", "127.0.0.1:9", &err), 0);
	w->base = event_base_new();
	w->pol = policy_new(w->cfg.upstream_timeout_ms);
	w->up = upstream_new(w->base, &w->cfg, w->pol);
	w->p = pipeline_new(w->base, w->up, &w->cfg);
	w->routes = many_routes(&w->cfg);
	assert_non_null(w->routes);
	assert_int_equal(upstream_set_servers(w->up, w->routes), 0);
	pipeline_set_routes(w->p, w->routes);
	struct cache_config cc = { .max_entries = 100, .max_bytes = 1 << 20, .max_ttl = 86400,
				   .max_negative_ttl = 3600, .servfail_ttl = 5,
				   .stale_max_age = 86400 };
	w->cache = cache_new(&cc);
	pipeline_set_cache(w->p, w->cache);
	pipeline_set_hosts(w->p, NULL, &w->hopt);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	pipeline_free(w->p);
	cache_free(w->cache);
	upstream_free(w->up);
	policy_free(w->pol);
	route_table_free(w->routes);
	event_base_free(w->base);
	free(w);
	return 0;
}

static void never_called(const struct pipeline_client *c, const uint8_t *r, size_t len,
			 const struct pipeline_origin *o)
{
	fail_msg("an answer at once must not come through the callback");
}

static void parse(const struct pkt *p, struct wire_query *q)
{
	unsigned rcode;
	assert_int_equal(wire_parse_query(p->b, p->len, q, &rcode), WIRE_VERDICT_RESOLVE);
}

static void test_cache_hit_allocates_nothing(void **state)
{
	struct world *w = *state;
	struct pkt ans, query;
	struct wire_query q;

	/* A stored answer for www.example.test A, as scrub makes them. */
	header(&ans, 0, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, 1, 0, 0);
	question(&ans, "www.example.test", WIRE_TYPE_A);
	put16(&ans, 0xc00c); put16(&ans, WIRE_TYPE_A); put16(&ans, WIRE_CLASS_IN);
	put32(&ans, 300); put16(&ans, 4); put32(&ans, 0xc0000201);
	header(&query, 0x4242, WIRE_FLAG_RD, 1, 0, 0, 1);
	question(&query, "WWW.example.test", WIRE_TYPE_A);
	opt(&query, 1232, 0, false);
	parse(&query, &q);
	/* Stored now, on the pipeline's clock. */
	assert_int_equal(cache_store(w->cache, &q, ans.b, ans.len, cache_clock_ms()), 0);

	struct pipeline_client client = { .reply = never_called, .reply_limit = 1232 };
	struct pipeline_origin origin;
	uint8_t out[4096];
	unsigned long before = allocations;
	for (int i = 0; i < 100; i++) {
		size_t len = pipeline_submit(w->p, &q, &client, out, sizeof(out), &origin);
		assert_true(len > 0);
		assert_int_equal(origin.source, PIPELINE_SOURCE_CACHE);
	}
	assert_int_equal(allocations - before, 0);
	assert_int_equal(wire_get16(out), 0x4242);
}

/* Submits a question for name A with ID id; returns the reply length and
 * sets *allocated to what the call allocated. */
static size_t submit_counted(struct world *w, uint16_t id, const char *name,
			     struct pipeline_origin *origin, unsigned long *allocated)
{
	struct pkt query;
	struct wire_query q;
	header(&query, id, WIRE_FLAG_RD, 1, 0, 0, 0);
	question(&query, name, WIRE_TYPE_A);
	parse(&query, &q);
	struct pipeline_client client = { .reply = never_called, .reply_limit = 512 };
	uint8_t out[512];
	unsigned long before = allocations;
	size_t len = pipeline_submit(w->p, &q, &client, out, sizeof(out), origin);
	*allocated = allocations - before;
	return len;
}

static void test_special_name_allocates_nothing(void **state)
{
	struct pipeline_origin origin;
	unsigned long allocated;
	assert_true(submit_counted(*state, 7, "localhost", &origin, &allocated) > 0);
	assert_int_equal(origin.source, PIPELINE_SOURCE_HOSTS);
	assert_int_equal(allocated, 0);
}

/* The counter itself works: a miss must allocate its waiting state. */
static void test_counter_sees_a_miss(void **state)
{
	struct world *w = *state;
	struct pipeline_origin origin;
	unsigned long allocated;
	assert_int_equal(submit_counted(w, 9, "miss.example.test", &origin, &allocated), 0);
	assert_true(allocated > 0);
	pipeline_cancel_owner(w->p, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_hit_allocates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_name_allocates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_sees_a_miss, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
