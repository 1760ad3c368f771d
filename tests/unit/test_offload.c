/* test_offload.c - a job on a thread of its own, its end on the loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "stubd/offload.h"

struct job {
	pthread_t loop_thread;
	pthread_t work_thread;
	int worked, done;
	bool done_on_loop;
	struct event_base *base;
	useconds_t work_us;
};

static void work(void *arg)
{
	struct job *j = arg;
	j->work_thread = pthread_self();
	if (j->work_us)
		usleep(j->work_us);
	j->worked++;
}

static void done(void *arg)
{
	struct job *j = arg;
	j->done++;
	j->done_on_loop = pthread_equal(pthread_self(), j->loop_thread);
	event_base_loopbreak(j->base);
}

/* The work runs on another thread; done runs on the loop, after it. */
static void test_work_on_a_thread_done_on_the_loop(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct offload *o = offload_new(base);
	assert_non_null(o);
	struct job j = { .loop_thread = pthread_self(), .base = base };
	assert_false(offload_busy(o));
	assert_int_equal(offload_start(o, work, &j, done, &j), 0);
	assert_true(offload_busy(o));
	event_base_dispatch(base);
	assert_int_equal(j.worked, 1);
	assert_int_equal(j.done, 1);
	assert_true(j.done_on_loop);
	assert_false(pthread_equal(j.work_thread, j.loop_thread));
	assert_false(offload_busy(o));
	/* And again: one job at a time, any number in turn. */
	assert_int_equal(offload_start(o, work, &j, done, &j), 0);
	event_base_dispatch(base);
	assert_int_equal(j.done, 2);
	offload_free(o);
	event_base_free(base);
}

/* A second job while one runs is refused; freeing waits for the running
 * one, and its done never comes. */
static void test_busy_and_free_while_running(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct offload *o = offload_new(base);
	struct job j = { .loop_thread = pthread_self(), .base = base, .work_us = 100000 };
	assert_int_equal(offload_start(o, work, &j, done, &j), 0);
	assert_int_equal(offload_start(o, work, &j, done, &j), -EBUSY);
	offload_free(o);
	assert_int_equal(j.worked, 1); /* joined: the work finished */
	assert_int_equal(j.done, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(j.done, 0);
	event_base_free(base);
	offload_free(NULL);
}

/* The job's thread keeps off the CPU its loop runs on, then (a job still
 * running after the keep-off time) may use it too. */
struct cpu_job {
	int loop_cpu;
	bool off_at_start, on_later;
	struct event_base *base;
};

static bool may_run_on(int cpu)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_ISSET(cpu, &set);
}

static void cpu_work(void *arg)
{
	struct cpu_job *j = arg;
	j->off_at_start = !may_run_on(j->loop_cpu);
	usleep(300000); /* past the keep-off time, 100 ms here */
	j->on_later = may_run_on(j->loop_cpu);
}

static void cpu_done(void *arg)
{
	struct cpu_job *j = arg;
	event_base_loopbreak(j->base);
}

static void test_keeps_off_the_loops_cpu_then_may_use_it(void **state)
{
	(void)state;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		skip(); /* no other CPU: the job runs where it can */
	cpu_set_t before, one;
	assert_int_equal(pthread_getaffinity_np(pthread_self(), sizeof(before), &before), 0);
	int cpu = sched_getcpu();
	assert_true(cpu >= 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);

	struct event_base *base = event_base_new();
	struct offload *o = offload_new(base);
	offload_set_keep_off_ms(o, 100);
	struct cpu_job j = { .loop_cpu = cpu, .base = base };
	assert_int_equal(offload_start(o, cpu_work, &j, cpu_done, &j), 0);
	event_base_dispatch(base);
	assert_true(j.off_at_start);
	assert_true(j.on_later);
	offload_free(o);
	event_base_free(base);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(before), &before), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_work_on_a_thread_done_on_the_loop),
		cmocka_unit_test(test_busy_and_free_while_running),
		cmocka_unit_test(test_keeps_off_the_loops_cpu_then_may_use_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
