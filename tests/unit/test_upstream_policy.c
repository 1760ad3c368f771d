/* test_upstream_policy.c - scenarios for upstream_policy.c on a fake clock.
 *
 * As Unbound's testbound replays a script against fake servers, a script
 * here is a table of lines: at time T a server starts answering after D
 * ms, falls silent, or replies with some rcode; questions are asked, and
 * each must ask a given server first and be answered within some ms; a
 * server must be in some state. A small simulator plays the caller's part
 * as the header describes it (send tries[0] and the extra, move on when a
 * try's wait passes or it replies with a failure, report every reply and
 * timeout, first good answer wins), so the tests check the policy through
 * what a client would see, without sockets or sleeps.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stubd/upstream_policy.h"
#include "stubd/wire.h"

#define NONE UINT64_MAX
#define MAX_SERVERS 4
enum { A, B, C };
#define ANY (-1)

/* ---- the fake world ------------------------------------------------------ */

enum does { DOES_ANSWER, DOES_NOTHING };

struct fake_server {
	enum does does;
	unsigned delay;
	unsigned rcode;        /* what it answers every question with */
};

struct sim_try {
	size_t q;              /* its question */
	size_t pos;            /* its server */
	bool extra;
	size_t index;          /* in the plan's tries, for client tries */
	uint64_t sent, wait_end, listen_end;
	uint64_t reply_at;     /* NONE: no reply will come in time */
	unsigned rcode;
	bool waited;           /* its wait end has passed (or a reply came first) */
	bool settled;          /* replied, or stopped listening */
};

struct question {
	uint64_t asked;
	uint64_t done_at;
	bool done;
	bool failed;
	size_t line;
	unsigned name_rcode;   /* 0: each server's own; else every server's reply */
	struct policy_plan plan;
	size_t next;           /* the next of plan.tries to send */
	unsigned open;         /* tries not settled */
};

struct world {
	struct policy *pol;
	struct policy_server *h[MAX_SERVERS];
	size_t n;
	struct fake_server srv[MAX_SERVERS];
	enum policy_strategy strategy;
	uint64_t now;
	struct question *q;
	size_t nq;
	struct sim_try *t;
	size_t nt;
	size_t live;           /* tries before this one are over */
	/* What was seen. */
	unsigned went_down[MAX_SERVERS];
	unsigned came_up[MAX_SERVERS];
	uint64_t came_up_at[MAX_SERVERS];
	bool had_good[MAX_SERVERS];
	uint64_t last_good[MAX_SERVERS];
	uint64_t max_good_gap[MAX_SERVERS];
};

#define WORLD_MAX_QUESTIONS 4096
#define WORLD_MAX_TRIES (4 * WORLD_MAX_QUESTIONS)

static struct route_server server_key(const char *text)
{
	struct route_server rs;
	char why[128];
	if (route_server_parse(text, 0, &rs, why, sizeof(why)) < 0)
		fail_msg("%s: %s", text, why);
	return rs;
}

static struct world *world_new(size_t n, enum policy_strategy strategy, unsigned timeout_ms)
{
	static const char *const addrs[MAX_SERVERS] = { "192.0.2.1", "192.0.2.2", "192.0.2.3",
							"192.0.2.4" };
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->pol = policy_new(timeout_ms);
	assert_non_null(w->pol);
	w->n = n;
	w->strategy = strategy;
	for (size_t i = 0; i < n; i++) {
		struct route_server rs = server_key(addrs[i]);
		w->h[i] = policy_server_get(w->pol, &rs, 0);
		assert_non_null(w->h[i]);
	}
	w->q = calloc(WORLD_MAX_QUESTIONS, sizeof(*w->q));
	w->t = calloc(WORLD_MAX_TRIES, sizeof(*w->t));
	assert_non_null(w->q);
	assert_non_null(w->t);
	return w;
}

static void world_free(struct world *w)
{
	for (size_t i = 0; i < w->n; i++)
		policy_server_put(w->pol, w->h[i], w->now);
	policy_free(w->pol);
	free(w->q);
	free(w->t);
	free(w);
}

static struct policy_status status_of(struct world *w, size_t pos)
{
	struct policy_status st;
	policy_status(w->pol, &w->h[pos], 1, w->now, &st);
	return st;
}

static void note_change(struct world *w, size_t pos, enum policy_change change)
{
	if (change == POLICY_WENT_DOWN)
		w->went_down[pos]++;
	if (change == POLICY_CAME_UP) {
		w->came_up[pos]++;
		w->came_up_at[pos] = w->now;
	}
}

static void send_try(struct world *w, size_t qi, const struct policy_try *pt, bool extra,
		     size_t index)
{
	struct question *q = &w->q[qi];
	const struct fake_server *fs = &w->srv[pt->pos];
	assert_true(w->nt < WORLD_MAX_TRIES);
	struct sim_try *t = &w->t[w->nt++];
	*t = (struct sim_try){
		.q = qi, .pos = pt->pos, .extra = extra, .index = index,
		.sent = w->now, .wait_end = w->now + pt->wait_ms,
		.listen_end = w->now + q->plan.listen_ms, .reply_at = NONE,
	};
	assert_ptr_equal(pt->server, w->h[pt->pos]);
	policy_sent(w->pol, pt->server, w->now);
	if (fs->does == DOES_ANSWER && w->now + fs->delay <= t->listen_end) {
		t->reply_at = w->now + fs->delay;
		t->rcode = q->name_rcode ? q->name_rcode : fs->rcode;
	}
	q->open++;
}

/* The next client try of q, if the plan has one and q is still open. */
static void move_on(struct world *w, size_t qi)
{
	struct question *q = &w->q[qi];
	if (q->done || q->next >= q->plan.n_tries)
		return;
	send_try(w, qi, &q->plan.tries[q->next], false, q->next);
	q->next++;
}

static void maybe_failed(struct world *w, size_t qi)
{
	struct question *q = &w->q[qi];
	if (!q->done && q->next >= q->plan.n_tries && q->open == 0) {
		q->done = q->failed = true;
		q->done_at = w->now;
	}
}

static bool good_rcode(unsigned rcode)
{
	return rcode == WIRE_RCODE_NOERROR || rcode == WIRE_RCODE_NXDOMAIN;
}

/* Whether try t is the client try the question waits on now. */
static bool is_current(const struct world *w, const struct sim_try *t)
{
	return !t->extra && t->index + 1 == w->q[t->q].next;
}

enum event { EV_REPLY, EV_WAIT, EV_LISTEN };

/* The next event at or before until, in time order; at one time a reply
 * comes before a wait ends (it arrived just in time). */
static bool next_event(struct world *w, uint64_t until, size_t *which, enum event *what,
		       uint64_t *when)
{
	bool found = false;
	while (w->live < w->nt && w->t[w->live].waited && w->t[w->live].settled)
		w->live++;
	for (size_t i = w->live; i < w->nt; i++) {
		const struct sim_try *t = &w->t[i];
		uint64_t at[3] = { NONE, NONE, NONE };
		if (!t->settled && t->reply_at != NONE)
			at[EV_REPLY] = t->reply_at;
		if (!t->waited)
			at[EV_WAIT] = t->wait_end;
		if (!t->settled && t->reply_at == NONE)
			at[EV_LISTEN] = t->listen_end;
		for (int e = EV_REPLY; e <= EV_LISTEN; e++) {
			if (at[e] > until)
				continue;
			if (!found || at[e] < *when || (at[e] == *when && (int)e < (int)*what)) {
				found = true;
				*which = i;
				*what = (enum event)e;
				*when = at[e];
			}
		}
	}
	return found;
}

static void on_reply(struct world *w, struct sim_try *t)
{
	struct question *q = &w->q[t->q];
	t->settled = true;
	t->waited = true;
	q->open--;
	note_change(w, t->pos, policy_answered(w->pol, w->h[t->pos], t->rcode, t->sent, w->now));
	if (good_rcode(t->rcode)) {
		if (w->had_good[t->pos] && w->now - w->last_good[t->pos] > w->max_good_gap[t->pos])
			w->max_good_gap[t->pos] = w->now - w->last_good[t->pos];
		w->had_good[t->pos] = true;
		w->last_good[t->pos] = w->now;
		if (!q->done) {
			q->done = true;
			q->done_at = w->now;
		}
		return;
	}
	/* SERVFAIL, REFUSED: this server will not answer it; the next one. */
	if (is_current(w, t))
		move_on(w, t->q);
	maybe_failed(w, t->q);
}

static void on_wait_end(struct world *w, struct sim_try *t)
{
	t->waited = true;
	note_change(w, t->pos, policy_timed_out(w->pol, w->h[t->pos], t->sent, w->now));
	if (is_current(w, t))
		move_on(w, t->q);
	maybe_failed(w, t->q);
}

static void on_listen_end(struct world *w, struct sim_try *t)
{
	t->settled = true;
	w->q[t->q].open--;
	maybe_failed(w, t->q);
}

/* Plays every event up to and including time until, then sets the clock. */
static void play_until(struct world *w, uint64_t until)
{
	size_t i = 0;
	enum event what = EV_REPLY;
	uint64_t when = 0;
	while (next_event(w, until, &i, &what, &when)) {
		w->now = when;
		if (what == EV_REPLY)
			on_reply(w, &w->t[i]);
		else if (what == EV_WAIT)
			on_wait_end(w, &w->t[i]);
		else
			on_listen_end(w, &w->t[i]);
	}
	if (until != NONE)
		w->now = until;
}

static size_t ask(struct world *w, size_t line, unsigned name_rcode)
{
	assert_true(w->nq < WORLD_MAX_QUESTIONS);
	size_t qi = w->nq++;
	struct question *q = &w->q[qi];
	*q = (struct question){ .asked = w->now, .line = line, .name_rcode = name_rcode };
	policy_choose(w->pol, w->h, w->n, w->strategy, w->now, &q->plan);
	assert_true(q->plan.n_tries > 0);
	move_on(w, qi);
	if (q->plan.extra_kind != POLICY_EXTRA_NONE)
		send_try(w, qi, &q->plan.extra, true, 0);
	return qi;
}

/* ---- scripts ------------------------------------------------------------- */

enum op { OP_SERVER, OP_ASK, OP_STATE, OP_PROBES };

struct line {
	uint64_t at;
	enum op op;
	int server;
	enum does does;             /* OP_SERVER */
	unsigned ms;                /* OP_SERVER: its delay; OP_ASK: between questions */
	unsigned rcode;             /* OP_SERVER: its replies'; OP_ASK: every server's, for these names */
	unsigned count;             /* OP_ASK: questions; OP_PROBES: probes so far */
	int first;                  /* OP_ASK: the server each asks first */
	bool check_first;
	unsigned within;            /* OP_ASK: each answered within this; 0 no check */
	enum policy_state state;    /* OP_STATE */
};

/* At t, server s answers every question after ms. */
#define ANSWERS(t, s, d) { .at = (t), .op = OP_SERVER, .server = (s), .does = DOES_ANSWER, .ms = (d) }
/* At t, server s replies with rcode rc after ms. */
#define REPLIES(t, s, rc, d) \
	{ .at = (t), .op = OP_SERVER, .server = (s), .does = DOES_ANSWER, .ms = (d), .rcode = (rc) }
/* At t, server s stops answering. */
#define SILENT(t, s) { .at = (t), .op = OP_SERVER, .server = (s), .does = DOES_NOTHING }
/* n questions from t, one every `every` ms: each asks f first (or ANY)
 * and is answered within ms (0: not checked). */
#define ASK(t, n, every, f, within_ms)                                                        \
	{ .at = (t), .op = OP_ASK, .count = (n), .ms = (every), .first = (f),                  \
	  .check_first = (f) != ANY, .within = (within_ms) }
/* n questions for names every server answers with rc. */
#define ASK_NAME(t, n, every, rc) \
	{ .at = (t), .op = OP_ASK, .count = (n), .ms = (every), .first = ANY, .rcode = (rc) }
/* At t, server s is in state st. */
#define STATE(t, s, st) { .at = (t), .op = OP_STATE, .server = (s), .state = (st) }
/* At t, server s has had n probes. */
#define PROBES(t, s, n) { .at = (t), .op = OP_PROBES, .server = (s), .count = (n) }

#define RUN(w, script) run(w, script, sizeof(script) / sizeof(script[0]))

static void run(struct world *w, const struct line *script, size_t n)
{
	for (size_t li = 0; li < n; li++) {
		const struct line *l = &script[li];
		if (l->at < w->now)
			fail_msg("script line %zu: at %llu, but the clock is at %llu already", li + 1,
				 (unsigned long long)l->at, (unsigned long long)w->now);
		play_until(w, l->at);
		switch (l->op) {
		case OP_SERVER:
			w->srv[l->server] = (struct fake_server){ .does = l->does, .delay = l->ms,
								  .rcode = l->rcode };
			break;
		case OP_ASK:
			for (unsigned k = 0; k < l->count; k++) {
				play_until(w, l->at + (uint64_t)k * l->ms);
				size_t qi = ask(w, li, l->rcode);
				size_t first = w->q[qi].plan.tries[0].pos;
				if (l->check_first && first != (size_t)l->first)
					fail_msg("script line %zu, question at %llu: asked %c first, "
						 "expected %c", li + 1, (unsigned long long)w->now,
						 'A' + (int)first, 'A' + l->first);
			}
			break;
		case OP_STATE: {
			struct policy_status st = status_of(w, (size_t)l->server);
			if (st.state != l->state)
				fail_msg("script line %zu, at %llu: %c is %s, expected %s", li + 1,
					 (unsigned long long)w->now, 'A' + l->server,
					 policy_state_names[st.state], policy_state_names[l->state]);
			break;
		}
		case OP_PROBES: {
			struct policy_status st = status_of(w, (size_t)l->server);
			if (st.counters.probes != l->count)
				fail_msg("script line %zu, at %llu: %c had %llu probes, expected %u",
					 li + 1, (unsigned long long)w->now, 'A' + l->server,
					 (unsigned long long)st.counters.probes, l->count);
			break;
		}
		}
	}
	play_until(w, NONE);
	for (size_t qi = 0; qi < w->nq; qi++) {
		const struct question *q = &w->q[qi];
		unsigned within = script[q->line].within;
		if (within == 0)
			continue;
		if (q->failed || !q->done || q->done_at - q->asked > within)
			fail_msg("script line %zu, question at %llu: %s after %llu ms, expected an "
				 "answer within %u ms", q->line + 1, (unsigned long long)q->asked,
				 q->failed ? "failed" : "answered",
				 (unsigned long long)(q->done_at - q->asked), within);
	}
}

/* ---- first of two servers silent -------------------------------------------- */

/* A (5 ms) and B (10 ms), both measured; A falls silent, later recovers.
 * The times follow the documented back-off: A goes down at its first
 * timeout (2100), its probes are due 1, 2, 4, 8, 8... s apart (3100, 5100,
 * 9100, 17100, 25100, 33100). It recovers at 25101, the worst moment,
 * just after a probe went out: the next probe finds it. */
static const struct line silent_first[] = {
	ANSWERS(0, A, 5), ANSWERS(0, B, 10),
	/* Nothing measured: configured order; B is measured beside it. */
	ASK(0, 1, 0, A, 5),
	ASK(100, 19, 100, A, 5),
	SILENT(2000, A),
	/* Waited on for its RTO (the 100 ms floor), then B as well. */
	ASK(2000, 1, 0, A, 100 + 10),
	STATE(2100, A, POLICY_DOWN),
	/* Not asked first after its first timeout. */
	ASK(2110, 20, 40, B, 10),
	/* Its probe is due: a burst at that moment carries one probe, and
	 * none of the ten waits on it. */
	ASK(3100, 10, 0, B, 10),
	PROBES(3100, A, 1),
	STATE(3100, A, POLICY_PROBING),
	ASK(3200, 9, 100, B, 10),
	STATE(4100, A, POLICY_DOWN),     /* that probe timed out */
	ASK(4100, 210, 100, B, 10),      /* to 25000 */
	ASK(25100, 1, 0, B, 10),
	PROBES(25100, A, 5),
	ANSWERS(25101, A, 5),            /* A recovers */
	/* First again only after it answers a probe. */
	ASK(25200, 79, 100, B, 10),      /* to 33000 */
	STATE(33000, A, POLICY_DOWN),
	ASK(33100, 1, 0, B, 10),         /* carries the probe */
	PROBES(33100, A, 6),
	STATE(33105, A, POLICY_UP),
	ASK(33200, 10, 100, A, 5),
};

static void test_silent_first_server(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	RUN(w, silent_first);
	assert_int_equal(w->went_down[A], 1);
	assert_int_equal(w->came_up[A], 1);
	assert_int_equal(w->went_down[B], 0);
	/* Used again within the documented bound of recovering. */
	assert_true(w->came_up_at[A] - 25101 <= POLICY_PROBE_MAX_MS + 5);
	assert_true(w->came_up_at[A] - 25101 <= 10000);
	struct policy_status st = status_of(w, A);
	assert_string_equal(st.last_failure, "timeout");
	assert_int_equal(st.last_failure_at_ms, 25100 + 1000); /* the 25100 probe's timeout */
	assert_int_equal(st.counters.probes, 6);
	world_free(w);
}

/* A silent from the start: the first question is answered by B's
 * exploration beside it, and A is never asked first again. */
static const struct line silent_from_start[] = {
	SILENT(0, A), ANSWERS(0, B, 10),
	ASK(0, 1, 0, A, 10),
	ASK(100, 9, 100, B, 10),         /* B measured, A not: B first */
	STATE(1000, A, POLICY_DOWN),
	ASK(1000, 20, 50, B, 10),
	ASK(2000, 5, 0, B, 10),          /* A's probe due: one carries it */
	PROBES(2000, A, 1),
};

static void test_silent_from_start(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	RUN(w, silent_from_start);
	world_free(w);
}

/* ---- fastest: a 1 ms and a 50 ms server ------------------------------------- */

static const struct line fast_and_slow[] = {
	ANSWERS(0, A, 50), ANSWERS(0, B, 1),  /* the slow one is listed first */
	ASK(0, 1000, 60, ANY, 1),
};

static void test_fastest_prefers_fast_and_measures_slow(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	RUN(w, fast_and_slow);
	unsigned to_fast = 0;
	for (size_t i = 0; i < w->nq; i++)
		to_fast += w->q[i].plan.tries[0].pos == B;
	assert_true(to_fast >= 900);
	assert_true(to_fast >= 999); /* all but the very first, when nothing was measured */
	/* Every question answered in the fast server's 1 ms (run() checked
	 * within 1): the explorations never made anyone wait. The slow one's
	 * SRTT is refreshed every POLICY_EXPLORE_MS, give or take a question
	 * gap and its RTT. */
	assert_true(w->max_good_gap[A] <= POLICY_EXPLORE_MS + 60 + 50);
	struct policy_status st = status_of(w, A);
	assert_true(st.measured);
	assert_int_equal(st.srtt_us, 50000);
	assert_true(w->now - st.sampled_at_ms <= POLICY_EXPLORE_MS + 60 + 50);
	assert_true(st.counters.explorations >= 60000 / (POLICY_EXPLORE_MS + 60) - 1);
	assert_true(st.counters.explorations <= 60000 / POLICY_EXPLORE_MS + 1);
	assert_int_equal(st.state, POLICY_UP);
	st = status_of(w, B);
	assert_int_equal(st.srtt_us, 1000);
	world_free(w);
}

/* ---- a 1.5 s server under upstream-timeout 3 s -------------------------------- */

/* Unmeasured, it is waited on for the initial 1 s RTO, which it misses: it
 * is down for the 500 ms until its late answer, which is used (the client
 * gets it at 1.5 s) and measures it. From then on its RTO covers it. */
static const struct line slow_server[] = {
	ANSWERS(0, A, 1500),
	ASK(0, 1, 0, A, 1500),
	STATE(1000, A, POLICY_DOWN),
	STATE(1500, A, POLICY_UP),
	ASK(2000, 30, 2000, A, 1500),
	STATE(62000, A, POLICY_UP),
};

static void test_slow_server_within_timeout(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 3000);
	RUN(w, slow_server);
	assert_int_equal(w->q[0].plan.tries[0].wait_ms, 1000);
	assert_int_equal(w->q[0].plan.listen_ms, 3000);  /* not given up before 3 s */
	for (size_t i = 1; i < w->nq; i++) {
		assert_true(w->q[i].plan.tries[0].wait_ms > 1500);
		assert_true(w->q[i].plan.tries[0].wait_ms <= 3000);
	}
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.counters.timeouts, 1);
	assert_int_equal(w->went_down[A], 1);
	assert_int_equal(st.srtt_us, 1500000);
	world_free(w);
}

/* ---- blame only what the server did ----------------------------------------- */

static const struct line broken_names[] = {
	ANSWERS(0, A, 5), ANSWERS(0, B, 10),
	ASK(0, 5, 100, ANY, 10),
	ASK_NAME(500, 3, 100, WIRE_RCODE_SERVFAIL),
	STATE(800, A, POLICY_UP), STATE(800, B, POLICY_UP),
	ASK_NAME(800, 3, 100, WIRE_RCODE_REFUSED),
	STATE(1100, A, POLICY_UP), STATE(1100, B, POLICY_UP),
	ASK_NAME(1100, 3, 100, WIRE_RCODE_NXDOMAIN),
	ASK(1400, 5, 100, A, 5),
	/* A refuses everything: after 10 in a row it is down. */
	REPLIES(2000, A, WIRE_RCODE_REFUSED, 5),
	ASK(2000, 10, 100, A, 15),
	STATE(2905, A, POLICY_DOWN), STATE(2905, B, POLICY_UP),
	/* Its probe (due at 3905, carried at 4000) is refused too: still down. */
	ASK(3000, 20, 100, B, 10),
	STATE(4900, A, POLICY_DOWN),
	PROBES(4900, A, 1),
	/* Fixed: the next probe (due 2 s later, at 6000) brings it back. */
	ANSWERS(5000, A, 5),
	ASK(5000, 11, 100, B, 10),       /* to 6000, which carries the probe */
	STATE(6005, A, POLICY_UP),
	ASK(6100, 3, 100, A, 5),
};

static void test_servfail_and_refused_blame_the_name(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	RUN(w, broken_names);
	for (size_t i = 5; i < 11; i++)
		assert_true(w->q[i].failed);   /* every server failed those names */
	for (size_t i = 11; i < 14; i++)
		assert_false(w->q[i].failed);  /* NXDOMAIN is an answer */
	assert_int_equal(w->went_down[A], 1);
	assert_int_equal(w->went_down[B], 0);
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.counters.timeouts, 0);
	assert_int_equal(st.counters.refused, 3 + 10 + 1);
	assert_string_equal(st.last_failure, "REFUSED");
	st = status_of(w, B);
	assert_int_equal(st.counters.refused, 3);
	assert_string_equal(st.last_failure, "REFUSED");
	world_free(w);
}

static void test_refused_row_names_itself(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 1000);
	policy_answered(w->pol, w->h[A], WIRE_RCODE_NOERROR, 0, 5);
	for (unsigned i = 0; i < POLICY_REFUSED_DOWN - 1; i++)
		assert_int_equal(policy_answered(w->pol, w->h[A], WIRE_RCODE_REFUSED, 10 + i, 11 + i),
				 POLICY_SAME);
	/* A SERVFAIL between starts the row again. */
	assert_int_equal(policy_answered(w->pol, w->h[A], WIRE_RCODE_SERVFAIL, 30, 31), POLICY_SAME);
	for (unsigned i = 0; i < POLICY_REFUSED_DOWN - 1; i++)
		assert_int_equal(policy_answered(w->pol, w->h[A], WIRE_RCODE_NOTIMP, 40 + i, 41 + i),
				 POLICY_SAME);
	assert_int_equal(policy_answered(w->pol, w->h[A], WIRE_RCODE_REFUSED, 60, 61),
			 POLICY_WENT_DOWN);
	w->now = 61;
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.state, POLICY_DOWN);
	assert_string_equal(st.last_failure, "REFUSED to 10 questions in a row");
	assert_int_equal(st.last_failure_at_ms, 61);
	assert_int_equal(policy_answered(w->pol, w->h[A], WIRE_RCODE_NXDOMAIN, 70, 71),
			 POLICY_CAME_UP);
	world_free(w);
}

/* ---- order ---------------------------------------------------------------- */

static const struct line order_keeps_first[] = {
	ANSWERS(0, A, 50), ANSWERS(0, B, 1),
	ASK(0, 100, 100, A, 50),          /* the slower one, as listed */
	SILENT(10000, A),
	ASK(10000, 1, 0, A, 100 + 1),     /* its RTO (the floor), then B */
	ASK(10101, 9, 100, B, 1),
	ANSWERS(11050, A, 50),
	ASK(11101, 1, 0, B, 1),           /* carries the probe due at 11101 */
	STATE(11151, A, POLICY_UP),
	ASK(11200, 10, 100, A, 50),
};

static void test_order_keeps_to_the_first(void **state)
{
	struct world *w = world_new(2, POLICY_ORDER, 1000);
	RUN(w, order_keeps_first);
	assert_int_equal(status_of(w, A).counters.explorations, 0);
	assert_int_equal(status_of(w, B).counters.explorations, 0);
	assert_int_equal(status_of(w, A).counters.probes, 1);
	world_free(w);
}

/* ---- RTO arithmetic and bounds --------------------------------------------- */

static unsigned rto_of(struct world *w, size_t pos)
{
	return status_of(w, pos).rto_ms;
}

static void test_rto_rfc6298_arithmetic(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 1000);
	struct policy_server *h = w->h[A];

	assert_int_equal(rto_of(w, A), POLICY_RTO_INITIAL_MS);
	assert_false(status_of(w, A).measured);
	/* §2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR. */
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, 1000, 1100);
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.srtt_us, 100000);
	assert_int_equal(st.rttvar_us, 50000);
	assert_int_equal(st.rto_ms, 300);
	assert_int_equal(st.sampled_at_ms, 1100);
	/* §2.3: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R. */
	policy_answered(w->pol, h, WIRE_RCODE_NXDOMAIN, 2000, 2200);
	st = status_of(w, A);
	assert_int_equal(st.rttvar_us, 62500);
	assert_int_equal(st.srtt_us, 112500);
	assert_int_equal(st.rto_ms, 363);
	/* SERVFAIL and refusals are no sample. */
	policy_answered(w->pol, h, WIRE_RCODE_SERVFAIL, 3000, 3900);
	policy_answered(w->pol, h, WIRE_RCODE_REFUSED, 4000, 4001);
	assert_int_equal(status_of(w, A).srtt_us, 112500);
	world_free(w);
}

static void test_rto_bounds_backoff_and_collapse(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 1000);
	struct policy_server *h = w->h[A];
	uint64_t t = 0;

	/* A 1 ms LAN server: SRTT + 4 RTTVAR is a few ms; the floor holds. */
	for (int i = 0; i < 50; i++, t += 10)
		policy_answered(w->pol, h, WIRE_RCODE_NOERROR, t, t + 1);
	assert_int_equal(rto_of(w, A), POLICY_RTO_MIN_MS);
	assert_true(status_of(w, A).srtt_us <= 1000);

	/* Each timeout doubles it, up to upstream-timeout and no further. */
	static const unsigned want[] = { 200, 400, 800, 1000, 1000, 1000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++, t += 2000) {
		policy_timed_out(w->pol, h, t, t + 1000);
		assert_int_equal(rto_of(w, A), want[i]);
	}
	/* One answer collapses it back (RFC 6298 §5.7). */
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, t, t + 1);
	assert_int_equal(rto_of(w, A), POLICY_RTO_MIN_MS);

	/* A burst sent together and lost together doubles it once (Karn). */
	t += 100;
	for (int i = 0; i < 10; i++)
		policy_sent(w->pol, h, t + (uint64_t)i);
	for (int i = 0; i < 10; i++)
		policy_timed_out(w->pol, h, t + (uint64_t)i, t + 100 + (uint64_t)i);
	assert_int_equal(rto_of(w, A), 2 * POLICY_RTO_MIN_MS);
	/* A try sent after that doubling doubles it again. */
	policy_timed_out(w->pol, h, t + 200, t + 400);
	assert_int_equal(rto_of(w, A), 4 * POLICY_RTO_MIN_MS);

	/* The bounds follow upstream-timeout. */
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, t + 500, t + 501);
	policy_set_timeout(w->pol, 50);
	assert_int_equal(rto_of(w, A), 50);  /* floor and ceiling both 50 */
	policy_timed_out(w->pol, h, t + 600, t + 700);
	assert_int_equal(rto_of(w, A), 50);
	/* A doubling past the ceiling is not kept: a higher ceiling finds
	 * the RTO at the floor, and doubling from there. */
	policy_set_timeout(w->pol, 30000);
	assert_int_equal(rto_of(w, A), POLICY_RTO_MIN_MS);
	policy_timed_out(w->pol, h, t + 800, t + 900);
	assert_int_equal(rto_of(w, A), 2 * POLICY_RTO_MIN_MS);
	world_free(w);
}

static void test_unmeasured_rto(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 3000);
	assert_int_equal(rto_of(w, A), 1000);    /* min(upstream-timeout, 1000) */
	policy_timed_out(w->pol, w->h[A], 0, 1000);
	assert_int_equal(rto_of(w, A), 2000);
	policy_timed_out(w->pol, w->h[A], 1000, 3000);
	assert_int_equal(rto_of(w, A), 3000);
	policy_set_timeout(w->pol, 400);
	assert_int_equal(rto_of(w, A), 400);
	world_free(w);
}

/* A late answer is attributed to its own try: its RTT from its own send,
 * and the server is up again. */
static void test_late_answer_is_measured(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 3000);
	struct policy_server *h = w->h[A];
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, 0, 20);
	policy_sent(w->pol, h, 1000);
	assert_int_equal(policy_timed_out(w->pol, h, 1000, 1100), POLICY_WENT_DOWN);
	w->now = 1100;
	assert_int_equal(status_of(w, A).state, POLICY_DOWN);
	assert_int_equal(policy_answered(w->pol, h, WIRE_RCODE_NOERROR, 1000, 1400), POLICY_CAME_UP);
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.state, POLICY_UP);
	/* 7/8 of 20 ms plus 1/8 of 400 ms. */
	assert_int_equal(st.srtt_us, (7 * 20000 + 400000) / 8);
	world_free(w);
}

/* A lost datagram from a server that answers other questions meanwhile is
 * not a dead server. */
static void test_lost_datagram_is_not_down(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	struct policy_server *h = w->h[A];
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, 0, 2);
	policy_sent(w->pol, h, 100);     /* lost */
	policy_sent(w->pol, h, 101);
	policy_answered(w->pol, h, WIRE_RCODE_NOERROR, 101, 103);
	assert_int_equal(policy_timed_out(w->pol, h, 100, 200), POLICY_SAME);
	w->now = 200;
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.state, POLICY_UP);
	assert_int_equal(st.counters.timeouts, 1);
	assert_string_equal(st.last_failure, "timeout");
	/* A network error with no reply since: down at once. */
	assert_int_equal(policy_failed(w->pol, h, "connection refused", 300, 300), POLICY_WENT_DOWN);
	w->now = 300;
	st = status_of(w, A);
	assert_int_equal(st.state, POLICY_DOWN);
	assert_int_equal(st.down_since_ms, 300);
	assert_string_equal(st.last_failure, "connection refused");
	assert_int_equal(st.counters.failures, 1);
	world_free(w);
}

/* ---- plans ------------------------------------------------------------------ */

static void test_plan_when_all_down(void **state)
{
	struct world *w = world_new(3, POLICY_FASTEST, 1000);
	struct policy_plan plan;
	/* Measured: C fastest, then A, then B. */
	policy_answered(w->pol, w->h[A], WIRE_RCODE_NOERROR, 0, 20);
	policy_answered(w->pol, w->h[B], WIRE_RCODE_NOERROR, 0, 30);
	policy_answered(w->pol, w->h[C], WIRE_RCODE_NOERROR, 0, 10);
	policy_choose(w->pol, w->h, 3, POLICY_FASTEST, 100, &plan);
	assert_int_equal(plan.n_tries, 3);
	assert_int_equal(plan.tries[0].pos, C);
	assert_int_equal(plan.tries[1].pos, A);
	assert_int_equal(plan.tries[2].pos, B);
	assert_false(plan.all_down);
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
	assert_int_equal(plan.listen_ms, 1000);
	assert_true(policy_any_up(w->pol, w->h, 3, 100));

	for (size_t i = 0; i < 3; i++)
		policy_timed_out(w->pol, w->h[i], 200, 300);
	/* Every server down: all of them, in the best order, not a failure;
	 * no probe besides, since every try is one. */
	policy_choose(w->pol, w->h, 3, POLICY_FASTEST, 5000, &plan);
	assert_true(plan.all_down);
	assert_false(policy_any_up(w->pol, w->h, 3, 5000));
	assert_int_equal(plan.n_tries, 3);
	assert_int_equal(plan.tries[0].pos, C);
	assert_int_equal(plan.tries[2].pos, B);
	assert_int_equal(plan.tries[0].wait_ms, 200); /* backed off once */
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
	policy_choose(w->pol, w->h, 3, POLICY_ORDER, 5000, &plan);
	assert_int_equal(plan.tries[0].pos, A);
	assert_int_equal(plan.tries[1].pos, B);
	assert_int_equal(plan.tries[2].pos, C);

	/* One up again: only it is asked; one down server is probed beside. */
	policy_answered(w->pol, w->h[B], WIRE_RCODE_NOERROR, 5000, 5030);
	policy_choose(w->pol, w->h, 3, POLICY_FASTEST, 5100, &plan);
	assert_false(plan.all_down);
	assert_int_equal(plan.n_tries, 1);
	assert_true(policy_any_up(w->pol, w->h, 3, 5100));
	struct policy_server *others[] = { w->h[A], w->h[C] };
	assert_false(policy_any_up(w->pol, others, 2, 5100));
	assert_false(policy_any_up(w->pol, w->h, 0, 5100));
	assert_int_equal(plan.tries[0].pos, B);
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_PROBE);
	assert_true(plan.extra.pos == A || plan.extra.pos == C);
	assert_ptr_equal(plan.extra.server, w->h[plan.extra.pos]);
	/* The other down server has the next question's probe, then none. */
	size_t first_probe = plan.extra.pos;
	policy_choose(w->pol, w->h, 3, POLICY_FASTEST, 5100, &plan);
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_PROBE);
	assert_true(plan.extra.pos != first_probe && plan.extra.pos != B);
	policy_choose(w->pol, w->h, 3, POLICY_FASTEST, 5100, &plan);
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
	policy_choose(w->pol, w->h, 0, POLICY_FASTEST, 5100, &plan);
	assert_int_equal(plan.n_tries, 0);
	world_free(w);
}

/* At most one probe in flight: the next is due after the back-off, and a
 * probe nobody reports on lapses at its wait. */
static void test_probe_schedule(void **state)
{
	struct world *w = world_new(2, POLICY_FASTEST, 1000);
	struct policy_plan plan;
	policy_answered(w->pol, w->h[B], WIRE_RCODE_NOERROR, 0, 10);
	assert_int_equal(policy_timed_out(w->pol, w->h[A], 0, 1000), POLICY_WENT_DOWN);
	uint64_t due = 1000 + POLICY_PROBE_FIRST_MS;
	policy_choose(w->pol, w->h, 2, POLICY_FASTEST, due - 1, &plan);
	assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
	unsigned interval = POLICY_PROBE_FIRST_MS;
	for (int i = 0; i < 6; i++) {
		policy_choose(w->pol, w->h, 2, POLICY_FASTEST, due, &plan);
		assert_int_equal(plan.extra_kind, POLICY_EXTRA_PROBE);
		assert_int_equal(plan.extra.pos, A);
		interval = interval * 2 > POLICY_PROBE_MAX_MS ? POLICY_PROBE_MAX_MS : interval * 2;
		assert_int_equal(plan.extra.wait_ms, interval < 1000 ? interval : 1000);
		w->now = due;
		assert_int_equal(status_of(w, A).state, POLICY_PROBING);
		/* Nothing reported: it lapses at its wait; no new one till due. */
		policy_choose(w->pol, w->h, 2, POLICY_FASTEST, due + 1, &plan);
		assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
		w->now = due + plan.listen_ms;
		assert_int_equal(status_of(w, A).state, POLICY_DOWN);
		policy_choose(w->pol, w->h, 2, POLICY_FASTEST, due + interval - 1, &plan);
		assert_int_equal(plan.extra_kind, POLICY_EXTRA_NONE);
		due += interval;
	}
	assert_int_equal(interval, POLICY_PROBE_MAX_MS);
	assert_int_equal(status_of(w, A).counters.probes, 6);
	world_free(w);
}

/* ---- handles ------------------------------------------------------------------- */

/* The same address asked over TLS and in plain text is two servers: what
 * one learns (RTT, health, TLS counters) is not the other's. */
static void test_tls_record(void **state)
{
	struct policy *pol = policy_new(1000);
	assert_non_null(pol);
	struct route_server plain = server_key("192.0.2.1#dns.example");
	struct route_server tls = plain;
	tls.tls = ROUTE_TLS_YES;
	struct policy_server *hp = policy_server_get(pol, &plain, 0);
	struct policy_server *ht = policy_server_get(pol, &tls, 0);
	assert_ptr_not_equal(hp, ht);

	policy_tls_connecting(pol, ht);
	policy_tls_sent(pol, ht);
	policy_tls_sent(pol, ht);
	policy_tls_established(pol, ht, "TLSv1.3", "dns.example", true, false);
	policy_tls_connecting(pol, ht);
	policy_tls_established(pol, ht, "TLSv1.3", "dns.example", true, true);
	policy_tls_fallback(pol, ht, true);
	struct policy_status st[2];
	struct policy_server *both[2] = { hp, ht };
	policy_status(pol, both, 2, 10, st);
	assert_int_equal(st[0].tls.connections, 0);
	assert_int_equal(st[1].tls.connections, 2);
	assert_int_equal(st[1].tls.handshakes, 2);
	assert_int_equal(st[1].tls.resumptions, 1);
	assert_int_equal(st[1].tls.queries, 2);
	assert_true(st[1].tls.verified);
	assert_true(st[1].tls.fallback);
	assert_string_equal(st[1].tls.version, "TLSv1.3");
	assert_string_equal(st[1].tls.name, "dns.example");

	/* A handshake clears the fall-back; reset-statistics zeroes counts
	 * but keeps what the last handshake was. */
	policy_tls_established(pol, ht, "TLSv1.2", "dns.example", false, false);
	policy_reset_stats(pol);
	policy_status(pol, both, 2, 20, st);
	assert_false(st[1].tls.fallback);
	assert_false(st[1].tls.verified);
	assert_int_equal(st[1].tls.connections, 0);
	assert_int_equal(st[1].tls.handshakes, 0);
	assert_int_equal(st[1].tls.resumptions, 0);
	assert_int_equal(st[1].tls.queries, 0);
	assert_string_equal(st[1].tls.version, "TLSv1.2");
	policy_server_put(pol, hp, 30);
	policy_server_put(pol, ht, 30);
	policy_free(pol);
}

static void test_handles_survive_rebuild(void **state)
{
	struct policy *pol = policy_new(1000);
	assert_non_null(pol);
	struct route_server a = server_key("192.0.2.1");
	struct route_server a_tls = server_key("192.0.2.1#dns.example");
	struct route_server a_port = server_key("192.0.2.1:5353");
	struct route_server ll2 = server_key("fe80::1%2");
	struct route_server ll3 = server_key("fe80::1%3");

	struct policy_server *h = policy_server_get(pol, &a, 0);
	assert_non_null(h);
	assert_true(route_server_equal(policy_server_key(h), &a));
	policy_answered(pol, h, WIRE_RCODE_NOERROR, 0, 42);
	policy_timed_out(pol, h, 100, 200);

	/* What a server is, not where it sits in a table. */
	struct policy_server *others[4] = {
		policy_server_get(pol, &a_tls, 0), policy_server_get(pol, &a_port, 0),
		policy_server_get(pol, &ll2, 0), policy_server_get(pol, &ll3, 0),
	};
	for (int i = 0; i < 4; i++) {
		assert_non_null(others[i]);
		assert_ptr_not_equal(others[i], h);
		for (int j = 0; j < i; j++)
			assert_ptr_not_equal(others[i], others[j]);
	}

	/* A rebuild: the old table's handle is put first, the new table's
	 * got after, from a fresh copy of the server. Same state. */
	policy_server_put(pol, h, 1000);
	struct route_server again = server_key("192.0.2.1");
	struct policy_server *h2 = policy_server_get(pol, &again, 2000);
	assert_ptr_equal(h2, h);
	struct policy_status st;
	policy_status(pol, &h2, 1, 2000, &st);
	assert_true(st.measured);
	assert_int_equal(st.srtt_us, 42000);
	assert_int_equal(st.state, POLICY_DOWN);
	assert_int_equal(st.counters.timeouts, 1);

	/* Two workers hold it: both must put it. */
	struct policy_server *h3 = policy_server_get(pol, &a, 2000);
	assert_ptr_equal(h3, h);
	policy_server_put(pol, h3, 3000);
	policy_status(pol, &h2, 1, 3000, &st);
	assert_int_equal(st.srtt_us, 42000);

	/* Status shows what the caller passes, in its order. */
	struct policy_server *list[2] = { others[0], h2 };
	struct policy_status two[2];
	policy_status(pol, list, 2, 3000, two);
	assert_false(two[0].measured);
	assert_int_equal(two[1].srtt_us, 42000);

	/* Unused for POLICY_FORGET_MS: forgotten, a new server is fresh. */
	policy_server_put(pol, h2, 4000);
	struct policy_server *other = policy_server_get(pol, &a_tls, 4000 + POLICY_FORGET_MS - 1);
	policy_server_put(pol, other, 4000 + POLICY_FORGET_MS - 1);
	struct policy_server *h4 = policy_server_get(pol, &a, 4000 + POLICY_FORGET_MS - 1);
	policy_status(pol, &h4, 1, 4000 + POLICY_FORGET_MS - 1, &st);
	assert_int_equal(st.srtt_us, 42000); /* not yet */
	policy_server_put(pol, h4, 5000);
	policy_server_get(pol, &a_port, 5000 + POLICY_FORGET_MS); /* sweeps */
	struct policy_server *h5 = policy_server_get(pol, &a, 5000 + POLICY_FORGET_MS);
	policy_status(pol, &h5, 1, 5000 + POLICY_FORGET_MS, &st);
	assert_false(st.measured);
	assert_int_equal(st.state, POLICY_UP);
	assert_int_equal(st.counters.timeouts, 0);

	policy_server_put(pol, NULL, 0);
	policy_free(pol); /* frees the held ones too */
	policy_free(NULL);
}

static void test_reset_stats_keeps_what_is_learnt(void **state)
{
	struct world *w = world_new(1, POLICY_FASTEST, 1000);
	policy_sent(w->pol, w->h[A], 0);
	policy_answered(w->pol, w->h[A], WIRE_RCODE_NOERROR, 0, 7);
	policy_failed(w->pol, w->h[A], "malformed reply", 10, 20);
	policy_reset_stats(w->pol);
	w->now = 30;
	struct policy_status st = status_of(w, A);
	assert_int_equal(st.counters.questions, 0);
	assert_int_equal(st.counters.answers, 0);
	assert_int_equal(st.counters.failures, 0);
	assert_int_equal(st.srtt_us, 7000);
	assert_int_equal(st.state, POLICY_DOWN);
	assert_string_equal(st.last_failure, "malformed reply");
	world_free(w);
}

static void test_strategy_names(void **state)
{
	enum policy_strategy s;
	assert_int_equal(policy_strategy_parse("order", &s), 0);
	assert_int_equal(s, POLICY_ORDER);
	assert_int_equal(policy_strategy_parse("fastest", &s), 0);
	assert_int_equal(s, POLICY_FASTEST);
	assert_int_equal(policy_strategy_parse("Fastest", &s), -EINVAL);
	assert_int_equal(policy_strategy_parse("", &s), -EINVAL);
	assert_string_equal(policy_state_names[POLICY_PROBING], "probing");
	assert_string_equal(policy_extra_names[POLICY_EXTRA_EXPLORE], "explore");
	assert_string_equal(policy_change_names[POLICY_WENT_DOWN], "went down");
}

/* ---- threads -------------------------------------------------------------------- */

#define THREAD_ROUNDS 20000

struct hammer {
	struct policy *pol;
	struct policy_server **h;
	uint64_t sent;
	pthread_t tid;
};

/* One worker's miss path: choose, send, and a reply or a timeout. */
static void *hammer(void *arg)
{
	struct hammer *hm = arg;
	struct policy_plan plan;
	for (uint64_t i = 0; i < THREAD_ROUNDS; i++) {
		uint64_t now = i * 3;
		policy_choose(hm->pol, hm->h, 2, i % 5 ? POLICY_FASTEST : POLICY_ORDER, now, &plan);
		if (plan.n_tries == 0)
			return NULL;
		struct policy_server *s = plan.tries[0].server;
		policy_sent(hm->pol, s, now);
		hm->sent++;
		if (plan.extra_kind != POLICY_EXTRA_NONE) {
			policy_sent(hm->pol, plan.extra.server, now);
			hm->sent++;
			policy_answered(hm->pol, plan.extra.server, WIRE_RCODE_NOERROR, now, now + 2);
		}
		if (i % 97 == 0)
			policy_timed_out(hm->pol, s, now, now + plan.tries[0].wait_ms);
		else
			policy_answered(hm->pol, s, i % 13 ? WIRE_RCODE_NOERROR : WIRE_RCODE_SERVFAIL,
					now, now + 1 + i % 7);
	}
	return NULL;
}

/* Status and rebuilds beside the workers. */
static void *observer(void *arg)
{
	struct hammer *hm = arg;
	struct route_server key = server_key("192.0.2.9");
	struct policy_status st[2];
	for (uint64_t i = 0; i < THREAD_ROUNDS / 10; i++) {
		policy_status(hm->pol, hm->h, 2, i, st);
		struct policy_server *h = policy_server_get(hm->pol, &key, i);
		if (!h)
			return NULL;
		policy_server_put(hm->pol, h, i);
	}
	return NULL;
}

static void test_threads_share_one_table(void **state)
{
	struct policy *pol = policy_new(1000);
	assert_non_null(pol);
	struct route_server a = server_key("192.0.2.1"), b = server_key("192.0.2.2");
	struct policy_server *h[2] = { policy_server_get(pol, &a, 0), policy_server_get(pol, &b, 0) };
	struct hammer w[3];
	for (int i = 0; i < 3; i++) {
		w[i] = (struct hammer){ .pol = pol, .h = h };
		assert_int_equal(pthread_create(&w[i].tid, NULL, i < 2 ? hammer : observer, &w[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
	struct policy_status st[2];
	policy_status(pol, h, 2, 0, st);
	assert_int_equal(st[0].counters.questions + st[1].counters.questions, w[0].sent + w[1].sent);
	assert_int_equal(w[0].sent + w[1].sent >= 2 * THREAD_ROUNDS, true);
	policy_server_put(pol, h[0], 0);
	policy_server_put(pol, h[1], 0);
	policy_free(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_silent_first_server),
		cmocka_unit_test(test_silent_from_start),
		cmocka_unit_test(test_fastest_prefers_fast_and_measures_slow),
		cmocka_unit_test(test_slow_server_within_timeout),
		cmocka_unit_test(test_servfail_and_refused_blame_the_name),
		cmocka_unit_test(test_refused_row_names_itself),
		cmocka_unit_test(test_order_keeps_to_the_first),
		cmocka_unit_test(test_rto_rfc6298_arithmetic),
		cmocka_unit_test(test_rto_bounds_backoff_and_collapse),
		cmocka_unit_test(test_unmeasured_rto),
		cmocka_unit_test(test_late_answer_is_measured),
		cmocka_unit_test(test_lost_datagram_is_not_down),
		cmocka_unit_test(test_plan_when_all_down),
		cmocka_unit_test(test_probe_schedule),
		cmocka_unit_test(test_handles_survive_rebuild),
		cmocka_unit_test(test_reset_stats_keeps_what_is_learnt),
		cmocka_unit_test(test_strategy_names),
		cmocka_unit_test(test_tls_record),
		cmocka_unit_test(test_threads_share_one_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
