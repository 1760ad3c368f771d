/* test_rtnl.c - interfaces as the kernel reports them: the dump at start,
 * a veth pair that appears, comes up, loses its carrier, is renamed and
 * goes away, and messages the kernel drops. The program moves itself into
 * a network namespace of its own first, so it sees only the interfaces it
 * makes (with ip(8)) and touches nobody's network. It links with --wrap
 * for socket and setsockopt, to refuse the socket and to shrink the
 * receive buffer until the kernel drops messages. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <linux/if.h> /* IFF_LOWER_UP; after net/if.h, which it defers to */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stubd/rtnl.h"

/* Longer than any wait for the kernel should take; a wait that ends here
 * is a failure, never the way a test passes. */
#define WAIT_SECONDS 5

/* ---- the system's answers, changed on demand ---------------------------- */

static int fail_socket;    /* socket(AF_NETLINK, ...) fails with this */
static bool tiny_rcvbuf;   /* receive buffers set to the kernel's minimum */

int __real_socket(int domain, int type, int protocol);
int __wrap_socket(int domain, int type, int protocol);
int __real_setsockopt(int fd, int level, int name, const void *val, socklen_t len);
int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len);

int __wrap_socket(int domain, int type, int protocol)
{
	if (domain == AF_NETLINK && fail_socket) {
		errno = fail_socket;
		return -1;
	}
	return __real_socket(domain, type, protocol);
}

int __wrap_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static const int smallest = 0; /* the kernel rounds it up to its minimum */
	if (tiny_rcvbuf && level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_RCVBUFFORCE))
		val = &smallest;
	return __real_setsockopt(fd, level, name, val, len);
}

/* ---- the namespace ------------------------------------------------------ */

static int netns_errno; /* why we have no namespace of our own; 0: we have */

static int enter_netns(void **state)
{
	if (unshare(CLONE_NEWNET) < 0) {
		if (errno != EPERM)
			return -1;
		netns_errno = errno;
		return 0;
	}
	return system("ip link set lo up") == 0 ? 0 : -1;
}

/* Everything that makes interfaces runs in our namespace or not at all. */
#define NEED_NETNS()                                                           \
	do {                                                                   \
		if (netns_errno) {                                             \
			print_message("no network namespace of our own "       \
				      "(unshare: %s): skipped\n",              \
				      strerror(netns_errno));                  \
			skip();                                                \
		}                                                              \
	} while (0)

static void run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

/* ---- what the watch reported -------------------------------------------- */

struct seen {
	unsigned ifindex;
	char name[IFNAMSIZ];
	unsigned flags;
	bool removed;
};

#define SEEN_MAX 4096

struct fix {
	struct event_base *base;
	struct rtnl_watch *w;
	struct seen seen[SEEN_MAX];
	size_t n;
	bool overflow;
	bool free_in_callback; /* the next call frees the watch */
	size_t calls_when_freed;
};

static void record(void *arg, unsigned ifindex, const char *name, unsigned flags, bool removed)
{
	struct fix *f = arg;
	if (f->n == SEEN_MAX) {
		f->overflow = true;
		return;
	}
	struct seen *s = &f->seen[f->n++];
	s->ifindex = ifindex;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->flags = flags;
	s->removed = removed;
	if (f->free_in_callback) {
		f->free_in_callback = false;
		rtnl_watch_free(f->w);
		f->w = NULL;
		f->calls_when_freed = f->n;
	}
}

static int setup_with(void **state, bool tiny)
{
	struct fix *f = calloc(1, sizeof(*f));
	char err[256];
	f->base = event_base_new();
	fail_socket = 0;
	tiny_rcvbuf = tiny;
	if (!netns_errno) {
		f->w = rtnl_watch_new(f->base, record, f, err, sizeof(err));
		if (!f->w) {
			print_error("%s\n", err);
			return -1;
		}
	}
	tiny_rcvbuf = false;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, false);
}

static int setup_tiny_rcvbuf(void **state)
{
	return setup_with(state, true);
}

static int teardown(void **state)
{
	struct fix *f = *state;
	rtnl_watch_free(f->w);
	event_base_free(f->base);
	assert_false(f->overflow);
	free(f);
	if (!netns_errno) /* never outside our namespace: t0 could be someone's */
		(void)system("ip link del t0 2>/dev/null; ip link del t1 2>/dev/null");
	return 0;
}

/* What a report must say; NULL name or 0 ifindex match any. */
struct want {
	const char *name;
	unsigned ifindex;
	unsigned set;    /* flags that must be on */
	unsigned clear;  /* flags that must be off */
	bool removed;
};

static const struct seen *find(const struct fix *f, size_t from, const struct want *w)
{
	for (size_t i = from; i < f->n; i++) {
		const struct seen *s = &f->seen[i];
		if ((!w->name || strcmp(s->name, w->name) == 0) &&
		    (!w->ifindex || s->ifindex == w->ifindex) && (s->flags & w->set) == w->set &&
		    (s->flags & w->clear) == 0 && s->removed == w->removed)
			return s;
	}
	return NULL;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Runs the event loop until a report from index from on matches, or the
 * deadline passes (NULL). */
static const struct seen *wait_for(struct fix *f, size_t from, const struct want *w)
{
	bool expired = false;
	struct event *deadline = evtimer_new(f->base, on_deadline, &expired);
	struct timeval tv = { .tv_sec = WAIT_SECONDS };
	const struct seen *hit;

	evtimer_add(deadline, &tv);
	while (!(hit = find(f, from, w)) && !expired && f->w)
		event_base_loop(f->base, EVLOOP_ONCE);
	event_free(deadline);
	return hit;
}

#define assert_reported(f, from, ...)                                          \
	({                                                                     \
		const struct want want_ = { __VA_ARGS__ };                     \
		const struct seen *s_ = wait_for(f, from, &want_);             \
		if (!s_)                                                       \
			fail_msg("not reported: %s #%u +%#x -%#x%s",           \
				 want_.name ? want_.name : "any", want_.ifindex, \
				 want_.set, want_.clear,                       \
				 want_.removed ? " removed" : "");             \
		s_;                                                            \
	})

/* t0 and its peer t0p, both down; waits until both are reported. */
static void make_pair(struct fix *f, const char *name, unsigned *idx, unsigned *peer_idx)
{
	char cmd[128];
	size_t mark = f->n;
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name t0p", name);
	run(cmd);
	*idx = assert_reported(f, mark, .name = name)->ifindex;
	*peer_idx = assert_reported(f, mark, .name = "t0p")->ifindex;
}

/* ---- scenarios ---------------------------------------------------------- */

static void test_dump_reports_loopback(void **state)
{
	struct fix *f = *state;
	NEED_NETNS();
	const struct seen *lo = find(f, 0, &(struct want){ .name = "lo", .set = IFF_LOOPBACK });
	assert_non_null(lo);
	assert_int_equal(lo->ifindex, if_nametoindex("lo"));
}

static void test_new_pair_reported_down(void **state)
{
	struct fix *f = *state;
	NEED_NETNS();
	size_t mark = f->n;
	run("ip link add t0 type veth peer name t0p");
	const struct seen *t0 = assert_reported(f, mark, .name = "t0", .clear = IFF_UP);
	assert_int_equal(t0->ifindex, if_nametoindex("t0"));
	const struct seen *peer = assert_reported(f, mark, .name = "t0p", .clear = IFF_UP);
	assert_int_equal(peer->ifindex, if_nametoindex("t0p"));
}

static void test_both_ends_up_bring_carrier(void **state)
{
	struct fix *f = *state;
	unsigned t0, peer;
	NEED_NETNS();
	make_pair(f, "t0", &t0, &peer);
	size_t mark = f->n;
	run("ip link set t0 up");
	run("ip link set t0p up");
	assert_reported(f, mark, .name = "t0", .ifindex = t0, .set = IFF_UP | IFF_LOWER_UP);
}

static void test_peer_down_drops_carrier(void **state)
{
	struct fix *f = *state;
	unsigned t0, peer;
	NEED_NETNS();
	make_pair(f, "t0", &t0, &peer);
	size_t mark = f->n;
	run("ip link set t0 up");
	run("ip link set t0p up");
	assert_reported(f, mark, .name = "t0", .set = IFF_UP | IFF_LOWER_UP);
	mark = f->n;
	run("ip link set t0p down");
	assert_reported(f, mark, .name = "t0", .set = IFF_UP, .clear = IFF_LOWER_UP);
}

static void test_rename_keeps_index(void **state)
{
	struct fix *f = *state;
	unsigned t0, peer;
	NEED_NETNS();
	make_pair(f, "t0", &t0, &peer);
	size_t mark = f->n;
	run("ip link set t0 down");
	run("ip link set t0 name t1");
	assert_reported(f, mark, .name = "t1", .ifindex = t0);
}

static void test_delete_reports_both_removed(void **state)
{
	struct fix *f = *state;
	unsigned t1, peer;
	NEED_NETNS();
	make_pair(f, "t1", &t1, &peer);
	size_t mark = f->n;
	run("ip link del t1"); /* a veth goes with its peer */
	assert_reported(f, mark, .ifindex = t1, .removed = true);
	assert_reported(f, mark, .ifindex = peer, .removed = true);
}

static void test_socket_refused(void **state)
{
	struct fix *f = *state;
	char err[256] = "";
	fail_socket = EMFILE;
	struct rtnl_watch *w = rtnl_watch_new(f->base, record, f, err, sizeof(err));
	fail_socket = 0;
	assert_null(w);
	assert_non_null(strstr(err, "rtnetlink: socket: "));
	assert_non_null(strstr(err, strerror(EMFILE)));
}

/* With the smallest receive buffer, one notification fills it and the
 * kernel drops the next (ENOBUFS): the watch reads everything again, which
 * shows as lo, which nobody touched, reported once more; the final state
 * of what changed is reported, and the watch goes on working. */
static void test_dropped_messages_dump_again(void **state)
{
	struct fix *f = *state;
	NEED_NETNS();
	size_t mark = f->n;
	run("ip link add t0 type veth peer name t0p");
	run("ip link set t0 up");
	run("ip link set t0p up");
	assert_reported(f, mark, .name = "lo", .set = IFF_LOOPBACK);
	assert_reported(f, mark, .name = "t0", .set = IFF_UP | IFF_LOWER_UP);
	assert_reported(f, mark, .name = "t0p", .set = IFF_UP | IFF_LOWER_UP);
	mark = f->n;
	run("ip link set t0p down");
	assert_reported(f, mark, .name = "t0", .set = IFF_UP, .clear = IFF_LOWER_UP);
}

/* The callback frees its own watch: no call after that, nothing read
 * from freed memory (the sanitizers would say). */
static void test_free_from_callback(void **state)
{
	struct fix *f = *state;
	NEED_NETNS();
	f->free_in_callback = true;
	run("ip link add t0 type veth peer name t0p"); /* several notifications */
	wait_for(f, f->n, &(struct want){ .name = "never" });
	assert_null(f->w);
	assert_int_equal(f->n, f->calls_when_freed);
	/* Nothing of the watch is left on the loop. */
	assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 1);
	assert_int_equal(f->n, f->calls_when_freed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dump_reports_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_pair_reported_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_ends_up_bring_carrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_down_drops_carrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_keeps_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_reports_both_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_messages_dump_again, setup_tiny_rcvbuf,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, enter_netns, NULL);
}
