/* offload.c - a job on a thread, its end on the loop; see offload.h. */
#include "stubd/offload.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct offload {
	int efd;
	struct event *wake;
	pthread_t thread;
	bool busy;
	offload_fn work, done;
	void *work_arg, *done_arg;
};

/* The job yields to the loops: it runs only when a CPU would otherwise
 * idle, on any CPU (not the one worker 0 pinned the thread that made it
 * to). Measured (tools/bench, reload cell): a reader at normal priority on
 * worker 0's CPU raised a cached answer's p99 by a scheduler tick. Either
 * call may be refused (a sandbox); the job then runs as it is. */
static void stay_out_of_the_way(void)
{
	struct sched_param none = { .sched_priority = 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	cpu_set_t any;
	CPU_ZERO(&any);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, &any);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(any), &any);
}

static void *run(void *p)
{
	struct offload *o = p;
	/* Named, so that tools/bench can tell the job's CPU from the loops'
	 * (/proc/PID/task/TID/comm). */
	(void)pthread_setname_np(pthread_self(), "stubd-offload");
	stay_out_of_the_way();
	o->work(o->work_arg);
	uint64_t one = 1;
	/* An eventfd write of 8 bytes cannot be short; EAGAIN only when the
	 * counter is full, which one job a time never reaches. */
	(void)!write(o->efd, &one, sizeof(one));
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct offload *o = arg;
	uint64_t n;
	if (read(fd, &n, sizeof(n)) != sizeof(n) || !o->busy)
		return;
	pthread_join(o->thread, NULL);
	o->busy = false;
	o->done(o->done_arg);
}

struct offload *offload_new(struct event_base *base)
{
	struct offload *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->efd >= 0)
		o->wake = event_new(base, o->efd, EV_READ | EV_PERSIST, on_wake, o);
	if (!o->wake || event_add(o->wake, NULL) < 0) {
		offload_free(o);
		return NULL;
	}
	return o;
}

int offload_start(struct offload *o, offload_fn work, void *work_arg, offload_fn done,
		  void *done_arg)
{
	if (o->busy)
		return -EBUSY;
	o->work = work;
	o->done = done;
	o->work_arg = work_arg;
	o->done_arg = done_arg;
	int err = pthread_create(&o->thread, NULL, run, o);
	if (err != 0)
		return -err;
	o->busy = true;
	return 0;
}

bool offload_busy(const struct offload *o)
{
	return o->busy;
}

void offload_free(struct offload *o)
{
	if (!o)
		return;
	if (o->busy)
		pthread_join(o->thread, NULL);
	if (o->wake)
		event_free(o->wake);
	if (o->efd >= 0)
		close(o->efd);
	free(o);
}
