/* offload.c - a job on a thread, its end on the loop; see offload.h. */
#include "stubd/offload.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* How long a job keeps off its loop's CPU: a job still running then may
 * use that CPU's idle time too, so that a machine whose other CPUs are
 * busy (SCHED_IDLE gets next to nothing beside other work) does not hold
 * a hosts reload or a cache save back while the loop's CPU idles. */
#define OFFLOAD_KEEP_OFF_MS 1000

struct offload {
	int efd;
	struct event *wake;
	struct event *widen;         /* OFFLOAD_KEEP_OFF_MS after the start */
	unsigned keep_off_ms;
	pthread_t thread;
	bool busy;
	int loop_cpu;                /* where the loop that started the job ran, or -1 */
	offload_fn work, done;
	void *work_arg, *done_arg;
};

/* The job yields to the loops: it runs only when a CPU would otherwise
 * idle (SCHED_IDLE), on any CPU (not the one worker 0 pinned the thread
 * that made it to) but the one the loop that started it runs on, when
 * there is another. Measured (tools/bench): a reader at normal priority on
 * worker 0's CPU raised a cached answer's p99 by a scheduler tick (reload
 * cell), and a cache save filling that CPU's idle moments cost each
 * answer 10-15% more CPU, its caches taken between answers (1.04x with
 * the save on the other CPU; cache cell). Any of the calls may be refused
 * (a sandbox, no other CPU online); the job then runs as it is. */
static void all_cpus(cpu_set_t *set)
{
	CPU_ZERO(set);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		CPU_SET(cpu, set);
}

static void stay_out_of_the_way(int loop_cpu)
{
	struct sched_param none = { .sched_priority = 0 };
	(void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &none);
	cpu_set_t any;
	all_cpus(&any);
	if (loop_cpu >= 0 && loop_cpu < CPU_SETSIZE) {
		cpu_set_t others = any;
		CPU_CLR(loop_cpu, &others);
		/* EINVAL: no other CPU is online. */
		if (pthread_setaffinity_np(pthread_self(), sizeof(others), &others) == 0)
			return;
	}
	(void)pthread_setaffinity_np(pthread_self(), sizeof(any), &any);
}

/* The job has kept off the loop's CPU long enough (OFFLOAD_KEEP_OFF_MS):
 * every CPU from now on. ESRCH (it has just ended) is no matter. */
static void on_widen(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct offload *o = arg;
	if (!o->busy)
		return;
	cpu_set_t any;
	all_cpus(&any);
	(void)pthread_setaffinity_np(o->thread, sizeof(any), &any);
}

static void *run(void *p)
{
	struct offload *o = p;
	/* Named, so that tools/bench can tell the job's CPU from the loops'
	 * (/proc/PID/task/TID/comm). */
	(void)pthread_setname_np(pthread_self(), "stubd-offload");
	stay_out_of_the_way(o->loop_cpu);
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
	event_del(o->widen);
	pthread_join(o->thread, NULL);
	o->busy = false;
	o->done(o->done_arg);
}

struct offload *offload_new(struct event_base *base)
{
	struct offload *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->keep_off_ms = OFFLOAD_KEEP_OFF_MS;
	o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (o->efd >= 0)
		o->wake = event_new(base, o->efd, EV_READ | EV_PERSIST, on_wake, o);
	o->widen = evtimer_new(base, on_widen, o);
	if (!o->wake || !o->widen || event_add(o->wake, NULL) < 0) {
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
	o->loop_cpu = sched_getcpu();
	int err = pthread_create(&o->thread, NULL, run, o);
	if (err != 0)
		return -err;
	o->busy = true;
	if (o->loop_cpu >= 0) {
		struct timeval tv = { .tv_sec = o->keep_off_ms / 1000,
				      .tv_usec = (suseconds_t)(o->keep_off_ms % 1000) * 1000 };
		evtimer_add(o->widen, &tv);
	}
	return 0;
}

void offload_set_keep_off_ms(struct offload *o, unsigned ms)
{
	o->keep_off_ms = ms;
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
	if (o->widen)
		event_free(o->widen);
	if (o->efd >= 0)
		close(o->efd);
	free(o);
}
