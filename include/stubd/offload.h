/* offload.h - one job at a time off an event loop: a function run on a
 * thread of its own, its result taken back on the loop.
 *
 * For work that can take long (parsing a hosts file of 100,000 lines) and
 * must not stall the answers of the loop that asked for it. Owns the
 * thread and the wake-up (an eventfd: it needs no locking in libevent,
 * which a stubd with one worker does not turn on). The thread runs at idle
 * priority, and for its first second off the CPU of the loop that started
 * it when another CPU is online, so that the job neither delays that
 * loop's answers nor takes its caches between them (then anywhere, so
 * that busy other CPUs do not starve it).
 */
#ifndef STUBD_OFFLOAD_H
#define STUBD_OFFLOAD_H

#include <event2/event.h>
#include <stdbool.h>

struct offload;

typedef void (*offload_fn)(void *arg);

/* Returns NULL when the eventfd or event cannot be made. */
struct offload *offload_new(struct event_base *base);

/* Runs work(work_arg) on a new thread, then done(done_arg) on base's
 * loop. Returns 0, -EBUSY while a job runs, or -errno when the thread
 * cannot start (the caller may then do the work itself). */
int offload_start(struct offload *o, offload_fn work, void *work_arg, offload_fn done,
		  void *done_arg);

bool offload_busy(const struct offload *o);

/* How long a job keeps off its loop's CPU (default 1000 ms); for tests. */
void offload_set_keep_off_ms(struct offload *o, unsigned ms);

/* Waits for a running job to finish (its done is not called), then
 * frees. NULL ok. */
void offload_free(struct offload *o);

#endif
