/* listener.h - where questions come in: UDP and TCP on each listen address.
 *
 * Owns the listening sockets, the TCP client connections (RFC 7766: 2-byte
 * length framing, pipelined queries answered in any order, an idle
 * timeout, a cap on connections and on queries in flight per connection)
 * and the per-transport counters. Each packet is checked by wire, then
 * handed to the pipeline; replies go back the way the question came. UDP
 * is read and answered in batches (recvmmsg, sendmmsg), and answers that
 * come later from upstream are held until the wake-up's callbacks have run
 * and sent together. All I/O is libevent on the daemon's event base.
 */
#ifndef STUBD_LISTENER_H
#define STUBD_LISTENER_H

#include <event2/event.h>
#include <stdint.h>

#include "stubd/config.h"
#include "stubd/pipeline.h"
#include "stubd/service.h"

struct listener_stats {
	uint64_t udp_queries;
	uint64_t tcp_queries;
	uint64_t dropped;          /* packets not worth an answer */
	uint64_t rejected;         /* answered FORMERR/NOTIMP/BADVERS/REFUSED */
	uint64_t refused;          /* clients outside loopback and 'allow' */
	uint64_t truncated;        /* UDP replies sent with TC=1 */
	uint64_t tcp_connections;  /* accepted */
	uint64_t tcp_refused;      /* closed at once: too many connections */
	uint64_t tcp_idle_closed;
	uint64_t send_errors;
};

struct listener_set;

/* Whether other workers serve the same addresses, each with its own
 * sockets (SO_REUSEPORT). The first of the group checks that nobody else
 * holds an address before the rest join it. */
enum listener_share {
	LISTENER_ALONE,
	LISTENER_GROUP_FIRST,
	LISTENER_GROUP_JOIN,
};

/* Opens UDP and TCP sockets on every cfg->listen address, or, when fds
 * holds sockets from socket activation, serves on those instead (and
 * takes ownership of them). On failure returns NULL with a message in err
 * that names the address and says what to check (exit status 1). The
 * caller frees with listener_set_free(). */
struct listener_set *listener_set_new(struct event_base *base, struct pipeline *p,
				      const struct config *cfg, const struct service_fds *fds,
				      enum listener_share share, struct config_error *err);

/* Takes new settings (reload): allow list, EDNS size, TCP limits. */
void listener_set_configure(struct listener_set *set, const struct config *cfg);

/* Closes every socket and connection. NULL ok. */
void listener_set_free(struct listener_set *set);

/* "127.0.0.53:53, [::1]:53": for the ready message and status. */
void listener_set_describe(const struct listener_set *set, char *buf, size_t size);

const struct listener_stats *listener_set_stats(const struct listener_set *set);
void listener_set_reset_stats(struct listener_set *set);

/* Most CPUs listener_set_steer_by_cpu() maps: one per worker. */
#define LISTENER_STEER_MAX CONFIG_MAX_WORKERS

/* For workers pinned one per CPU: each UDP datagram goes to the socket of
 * the worker on the CPU the kernel received it on, which for a local
 * client is the CPU the client runs on, so question and answer never cross
 * cores. cpu[i] is worker i's CPU; the workers' sets must have been made
 * in worker order (the SO_REUSEPORT group indexes sockets by bind order).
 * Datagrams received on other CPUs are spread by the kernel's hash as
 * before. Call on one worker's set, after every worker's set is made.
 * Sockets from socket activation are left alone. Returns how many
 * sockets it steers, or -errno (an old kernel: the hash keeps spreading
 * them). */
int listener_set_steer_by_cpu(struct listener_set *set, const int *cpu, unsigned n);

/* The addresses actually served (bound, or passed by socket activation). */
size_t listener_set_addrs(const struct listener_set *set, struct netaddr *out, size_t max);
unsigned listener_set_tcp_clients(const struct listener_set *set);

#endif
