/* test_worker.c - workers on threads and CPUs, and what happens when the
 * system says no: a thread that cannot be created, a CPU a worker may not
 * be pinned to, a kernel without reuseport steering. The test links with
 * --wrap for pthread_create, pthread_setaffinity_np and setsockopt, so each
 * failure can be injected into stubd's own calls. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/listener.h"
#include "stubd/worker.h"

/* ---- failures on demand ------------------------------------------------ */

static int fail_create;   /* pthread_create returns this, when not 0 */
static int fail_affinity; /* pthread_setaffinity_np returns this */
static int fail_steer;    /* setsockopt(SO_ATTACH_REUSEPORT_CBPF) fails with this */
static unsigned affinity_calls, steer_calls;

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __real_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set);
int __wrap_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set);
int __real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len);

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	return fail_create ? fail_create : __real_pthread_create(t, a, fn, arg);
}

int __wrap_pthread_setaffinity_np(pthread_t t, size_t size, const cpu_set_t *set)
{
	__atomic_fetch_add(&affinity_calls, 1, __ATOMIC_RELAXED);
	return fail_affinity ? fail_affinity : __real_pthread_setaffinity_np(t, size, set);
}

int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	if (level == SOL_SOCKET && name == SO_ATTACH_REUSEPORT_CBPF) {
		steer_calls++;
		if (fail_steer) {
			errno = fail_steer;
			return -1;
		}
	}
	return __real_setsockopt(fd, level, name, val, len);
}

/* ---- a worker to run --------------------------------------------------- */

struct world {
	struct config cfg;
	struct cache *cache;
	struct event_base *base; /* for listener sets made directly */
};

/* A loopback address with a port nobody uses right now. */
static void free_address(char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(out, size, "127.0.0.1:%u", ntohs(sa.sin_port));
	close(fd);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct config_error err;
	char listen[64];
	config_defaults(&w->cfg);
	free_address(listen, sizeof(listen));
	assert_int_equal(config_set(&w->cfg, "upstream", "127.0.0.1:9", &err), 0);
	w->cfg.n_listen = 0; /* not the default 127.0.0.53:53: ours alone */
	assert_int_equal(config_set(&w->cfg, "listen", listen, &err), 0);
	assert_int_equal(w->cfg.n_listen, 1);
	struct cache_config cc = { .max_entries = 100, .max_bytes = 1 << 20, .max_ttl = 86400,
				   .max_negative_ttl = 3600, .servfail_ttl = 5 };
	w->cache = cache_new(&cc);
	w->base = event_base_new();
	fail_create = fail_affinity = fail_steer = 0;
	affinity_calls = steer_calls = 0;
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	cache_free(w->cache);
	event_base_free(w->base);
	free(w);
	return 0;
}

static const struct service_fds no_fds = { .control = -1 };

struct ran {
	int cpu;          /* where the call ran */
	int allowed;      /* how many CPUs the worker's thread may run on */
	bool done;
};

static void note_cpu(struct worker *wk, void *arg)
{
	struct ran *r = arg;
	cpu_set_t mine;
	r->cpu = sched_getcpu();
	/* pid 0: the calling thread's own mask, not the process's. */
	r->allowed = sched_getaffinity(0, sizeof(mine), &mine) == 0 ? CPU_COUNT(&mine) : -1;
	r->done = true;
}

static cpu_set_t process_cpus; /* the test's own mask, read at start */

/* The last CPU this process may use. */
static int last_cpu(void)
{
	cpu_set_t cpus;
	assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
	int last = -1;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &cpus))
			last = c;
	return last;
}

/* Builds worker 1 pinned to cpu (-1: not pinned), starts it (worker_start
 * must return start_rc), runs note_cpu on it and frees it. */
static struct ran run_worker(struct world *w, int cpu, int start_rc)
{
	struct worker wk;
	struct config_error err;
	struct policy *pol = policy_new(w->cfg.upstream_timeout_ms);
	assert_non_null(pol);
	assert_int_equal(worker_init(&wk, 1, cpu, NULL, &w->cfg, &no_fds, LISTENER_ALONE,
				     w->cache, pol, &err), 0);
	assert_int_equal(worker_start(&wk), start_rc);
	struct ran r = { .cpu = -1 };
	worker_call(&wk, note_cpu, &r);
	worker_fini(&wk); /* ASan: nothing leaks, whatever failed */
	policy_free(pol);
	return r;
}

/* ---- the tests --------------------------------------------------------- */

static void test_pinned_worker_runs_on_its_cpu(void **state)
{
	int cpu = last_cpu();
	struct ran r = run_worker(*state, cpu, 0);
	assert_true(r.done);
	assert_int_equal(r.allowed, 1); /* pinned, not there by chance */
	assert_int_equal(r.cpu, cpu);
}

static void test_pin_refused_worker_still_serves(void **state)
{
	fail_affinity = EINVAL;
	struct ran r = run_worker(*state, last_cpu(), 0);
	assert_true(r.done);
	assert_int_equal(__atomic_load_n(&affinity_calls, __ATOMIC_RELAXED), 1);
}

static void test_unpinned_worker_is_not_pinned(void **state)
{
	struct ran r = run_worker(*state, -1, 0);
	assert_true(r.done);
	assert_int_equal(__atomic_load_n(&affinity_calls, __ATOMIC_RELAXED), 0);
	assert_int_equal(r.allowed, CPU_COUNT(&process_cpus));
}

static void test_thread_refused_start_fails_cleanly(void **state)
{
	fail_create = EAGAIN;
	/* No thread: the call runs at once on the caller's. */
	struct ran r = run_worker(*state, -1, -EAGAIN);
	assert_true(r.done);
}

/* Steers a SO_REUSEPORT group of two sets, as two workers make them:
 * returns what listener_set_steer_by_cpu() returned. */
static int steer_group(struct world *w, const int *cpus, unsigned n)
{
	struct config_error err;
	struct listener_set *a = listener_set_new(w->base, NULL, &w->cfg, &no_fds,
						  LISTENER_GROUP_FIRST, &err);
	assert_non_null(a);
	struct listener_set *b = listener_set_new(w->base, NULL, &w->cfg, &no_fds,
						  LISTENER_GROUP_JOIN, &err);
	assert_non_null(b);
	int rc = listener_set_steer_by_cpu(a, cpus, n);
	listener_set_free(b);
	listener_set_free(a);
	return rc;
}

static const int two_cpus[2] = { 0, 1 };

static void test_steering_attaches_to_the_group(void **state)
{
	assert_int_equal(steer_group(*state, two_cpus, 2), 1); /* one UDP socket */
	assert_int_equal(steer_calls, 1);
}

static void test_steering_refused_is_reported(void **state)
{
	fail_steer = ENOPROTOOPT; /* a kernel before 4.5 */
	assert_int_equal(steer_group(*state, two_cpus, 2), -ENOPROTOOPT);
}

static void test_steering_bad_cpu_count_refused(void **state)
{
	static const int many[LISTENER_STEER_MAX + 1];
	assert_int_equal(steer_group(*state, many, 0), -EINVAL);
	assert_int_equal(steer_group(*state, many, LISTENER_STEER_MAX + 1), -EINVAL);
	assert_int_equal(steer_calls, 0);
}

/* Socket activation: systemd's one socket is shared by all workers, not
 * a group, and there is nothing to steer. */
static void test_activated_sockets_are_not_steered(void **state)
{
	struct world *w = *state;
	struct config_error err;
	struct service_fds fds = { .control = -1, .n_udp = 1 };
	fds.udp[0] = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	assert_int_equal(bind(fds.udp[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct listener_set *set = listener_set_new(w->base, NULL, &w->cfg, &fds,
						    LISTENER_GROUP_FIRST, &err);
	assert_non_null(set);
	assert_int_equal(listener_set_steer_by_cpu(set, two_cpus, 2), 0);
	assert_int_equal(steer_calls, 0);
	listener_set_free(set); /* closes the adopted socket */
}

/* The first of a group refuses an address someone else holds, even one
 * who would let it join (SO_REUSEPORT, same user). */
static void test_group_refuses_a_held_address(void **state)
{
	struct world *w = *state;
	struct config_error err;
	int other = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1;
	__real_setsockopt(other, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	assert_int_equal(bind(other, (const struct sockaddr *)&w->cfg.listen[0].ss,
			      w->cfg.listen[0].len), 0);
	struct listener_set *set = listener_set_new(w->base, NULL, &w->cfg, &no_fds,
						    LISTENER_GROUP_FIRST, &err);
	assert_null(set);
	assert_non_null(strstr(err.msg, "Address already in use"));
	close(other);
}

int main(void)
{
	/* worker_call wakes another thread's loop: libevent's locks on. */
	evthread_use_pthreads();
	sched_getaffinity(0, sizeof(process_cpus), &process_cpus);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pinned_worker_runs_on_its_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin_refused_worker_still_serves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpinned_worker_is_not_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_refused_start_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steering_attaches_to_the_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steering_refused_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_steering_bad_cpu_count_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activated_sockets_are_not_steered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_refuses_a_held_address, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
