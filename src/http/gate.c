/* The gate (see gate.h). One thread accepts, peeks at the head of each
 * new connection's first request (MSG_PEEK: the bytes stay in the socket
 * for libmicrohttpd to read), answers the refused ones itself and hands
 * the others over; every tick it sweeps the deadlines. libmicrohttpd
 * 0.9.75 mishandles some malformed heads (a bad Content-Length gets its
 * answer's headers twice) and has no deadline for a head or a body: the
 * gate covers both. Under TLS the head is encrypted: the gate waits only
 * for the first byte (a TLS record, or a plain request answered 400),
 * hands the connection over, and libmicrohttpd's parsed headers are
 * checked by server.c; refusals at the caps are a close, not an answer
 * (a plain one would be garbage to a TLS client). */
#define TLS_HANDSHAKE_RECORD	0x16	/* first byte of a ClientHello */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/gate.h"
#include "http/head.h"
#include "http/metrics.h"
#include "http/response.h"
#include "util/isotime.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define GATE_BUCKETS	4096	/* hash buckets, by fd and by address */
#define GATE_TICK_MS	100	/* deadline sweep period */
#define GATE_LINGER_MS	2000	/* after a refusal, wait this long for EOF */
#define GATE_EVENTS	64
#define GATE_REPORT_MS	10000	/* cap refusals: one log line per period */

struct gate_addr {
	unsigned char		 key[16];	/* IPv6, or IPv4 mapped */
	unsigned		 n;		/* connections open */
	struct gate_addr	*next;
};

struct gate_conn {
	int			 fd;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	struct gate_addr	*ip;		/* counted here; NULL if not */
	int64_t			 since_ms;	/* accepted, or refused */
	bool			 lingering;	/* refused: drain until EOF */
	bool			 plain;		/* TLS port, plain HTTP came */
	_Atomic uint64_t	 state;		/* ms << 3 | phase */
	struct gate_conn	*prev, *next;	/* pending list or fd chain */
};

struct gate {
	int			 fd, ep, wake;
	struct gate_options	 o;
	struct MHD_Daemon	*daemon;
	pthread_t		 thread;
	bool			 running;
	atomic_int		 stop;
	atomic_int		 draining;
	bool			 drained;	/* pending closed */
	int64_t			 paused_ms;	/* accept paused (no fds) */
	struct gate_conn	*pending;	/* gate thread only */
	atomic_uint		 npending;	/* awaiting a head */
	unsigned		 nlinger;
	unsigned long		 refused[2];	/* at the caps (429, 503) */
	int64_t			 reported_ms;
	pthread_mutex_t		 lock;		/* the tables below */
	struct gate_conn	*handed[GATE_BUCKETS];	/* by fd */
	atomic_uint		 nhanded;
	struct gate_addr	*addrs[GATE_BUCKETS];
	char			 head[LIMIT_REQUEST_HEAD + 1];
};

static int64_t
now_ms(void)
{
	return isotime_mono_us() / 1000;
}

static uint64_t
state_pack_at(enum gate_phase p, int64_t ms)
{
	return ((uint64_t)ms << 3) | (uint64_t)p;
}

static uint64_t
state_pack(enum gate_phase p)
{
	return state_pack_at(p, now_ms());
}

/* The client's address as 16 bytes (IPv4 mapped into IPv6). */
static void
addr_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
	const struct sockaddr_in	*in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*in6 = (const struct sockaddr_in6 *)ss;

	memset(key, 0, 16);
	if (ss->ss_family == AF_INET6)
		memcpy(key, &in6->sin6_addr, 16);
	else if (ss->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	}
}

static unsigned
addr_bucket(const unsigned char key[16])
{
	uint32_t	h = 2166136261u;
	int		i;

	for (i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % GATE_BUCKETS;
}

/* Count one more connection from ss; NULL if its address is at the cap.
 * Called with the lock held. */
static struct gate_addr *
addr_take(struct gate *g, const struct sockaddr_storage *ss)
{
	struct gate_addr	*a;
	unsigned char		 key[16];
	unsigned		 b;

	addr_key(ss, key);
	b = addr_bucket(key);
	for (a = g->addrs[b]; a != NULL; a = a->next)
		if (memcmp(a->key, key, 16) == 0)
			break;
	if (a == NULL) {
		a = xcalloc(1, sizeof(*a));
		memcpy(a->key, key, 16);
		a->next = g->addrs[b];
		g->addrs[b] = a;
	}
	if (g->o.max_per_ip != 0 && a->n >= g->o.max_per_ip)
		return NULL;
	a->n++;
	return a;
}

/* Count one connection less; called with the lock held. */
static void
addr_drop(struct gate *g, struct gate_addr *a)
{
	struct gate_addr	**pp;

	if (a == NULL || --a->n > 0)
		return;
	for (pp = &g->addrs[addr_bucket(a->key)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			free(a);
			return;
		}
	}
}

static void
pending_unlink(struct gate *g, struct gate_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->pending = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->lingering)
		g->nlinger--;
	else
		g->npending--;
}

/* Close a connection the gate holds. */
static void
pending_close(struct gate *g, struct gate_conn *c)
{
	pending_unlink(g, c);
	pthread_mutex_lock(&g->lock);
	addr_drop(g, c->ip);
	pthread_mutex_unlock(&g->lock);
	close(c->fd);
	free(c);
}

/* Answer a connection the gate holds with one error, then wait for the
 * client to close (closing first would reset the connection, and the
 * answer with it). The connection no longer counts against the caps. */
static void __attribute__((format(printf, 5, 6)))
pending_refuse(struct gate *g, struct gate_conn *c, int status,
    const char *code, const char *fmt, ...)
{
	char	*resp, id[17], msg[256];
	size_t	 len;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	request_id_new(id);
	resp = reply_raw_error_new(status, code, id, status == 503 ||
	    status == 429 ? 1 : 0, &len, "%s", msg);
	if (!g->o.tls || c->plain)
		(void)send(c->fd, resp, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	else
		len = 0;
	free(resp);
	shutdown(c->fd, SHUT_WR);
	/* A refused request gets its access-log line; refusals at the caps
	 * (no request read) are counted and reported once per period, so
	 * that a flood of connections is not a flood of lines. */
	http_metrics_request(g->o.metrics, HTTP_SLOT_GATE(g->o.nroutes),
	    HTTP_METHOD_NONE, (unsigned)status, (now_ms() - c->since_ms) *
	    1000);
	if (status == 429 || status == 503)
		g->refused[status == 503]++;
	else
		log_info("- - %d %zu refused: %s id=%s", status, len, code, id);
	if (g->nlinger >= LIMIT_GATE_LINGER) {
		pending_close(g, c);
		return;
	}
	pthread_mutex_lock(&g->lock);
	addr_drop(g, c->ip);
	pthread_mutex_unlock(&g->lock);
	c->ip = NULL;
	c->lingering = true;
	c->since_ms = now_ms();
	g->npending--;
	g->nlinger++;
}

/* At the connection cap: 503, to retry. */
static void
pending_full(struct gate *g, struct gate_conn *c)
{
	pending_refuse(g, c, 503, "unavailable", "The server has its most "
	    "connections open (%u); retry shortly", g->o.max_connections);
}

/* A head that does not fit: 414 if the request line alone is too long. */
static void
pending_too_big(struct gate *g, struct gate_conn *c, size_t n)
{
	char	*eol = memchr(g->head, '\n', n);

	if (eol == NULL || eol - g->head > LIMIT_URL + 32)
		pending_refuse(g, c, 414, "invalid_query_params", "The URL is "
		    "longer than %d bytes", LIMIT_URL);
	else
		pending_refuse(g, c, 431, "headers_too_large", "The request "
		    "headers are larger than %d bytes", LIMIT_HEADERS);
}

/* Forget a connection libmicrohttpd had, before its socket is closed. */
static void
handed_free(struct gate *g, struct gate_conn *c)
{
	pthread_mutex_lock(&g->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->handed[(unsigned)c->fd % GATE_BUCKETS] = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	g->nhanded--;
	addr_drop(g, c->ip);
	pthread_mutex_unlock(&g->lock);
	free(c);
}

/* Give a connection whose head is complete to libmicrohttpd. */
static void
pending_hand_over(struct gate *g, struct gate_conn *c)
{
	unsigned	b = (unsigned)c->fd % GATE_BUCKETS;

	if (g->nhanded >= g->o.max_connections) {
		pending_full(g, c);
		return;
	}
	epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
	pending_unlink(g, c);
	/* a TLS connection's head deadline runs from its accept */
	atomic_store(&c->state, g->o.tls ? state_pack_at(GATE_HANDSHAKE,
	    c->since_ms) : state_pack(GATE_ARRIVED));
	pthread_mutex_lock(&g->lock);
	c->next = g->handed[b];
	if (c->next != NULL)
		c->next->prev = c;
	g->handed[b] = c;
	g->nhanded++;
	pthread_mutex_unlock(&g->lock);
	if (MHD_add_connection(g->daemon, c->fd, (struct sockaddr *)&c->addr,
	    c->addrlen) == MHD_YES)
		return;
	handed_free(g, c);	/* libmicrohttpd closed the socket */
}

/* The first bytes on a TLS port (in g->head): a handshake goes to
 * libmicrohttpd; a plain request gets a plain 400 that says why. */
static void
pending_tls_read(struct gate *g, struct gate_conn *c)
{
	if ((unsigned char)g->head[0] == TLS_HANDSHAKE_RECORD) {
		pending_hand_over(g, c);
		return;
	}
	c->plain = true;
	pending_refuse(g, c, 400, "bad_request", "This port speaks TLS; "
	    "use https://");
}

/* Bytes arrived on a connection the gate holds. */
static void
pending_read(struct gate *g, struct gate_conn *c)
{
	char	msg[128];
	ssize_t	n;
	size_t	end;
	int	status;

	if (c->lingering) {
		while ((n = recv(c->fd, g->head, sizeof(g->head),
		    MSG_DONTWAIT)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			pending_close(g, c);
		return;
	}
	n = recv(c->fd, g->head, sizeof(g->head), MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		pending_close(g, c);
		return;
	}
	if (n < 0)
		return;
	if (g->o.tls) {
		pending_tls_read(g, c);
		return;
	}
	if (!head_start_ok(g->head, (size_t)n)) {
		pending_refuse(g, c, 400, "bad_request", "This is not an HTTP "
		    "request");
		return;
	}
	if ((end = head_end(g->head, (size_t)n)) == 0) {
		if ((size_t)n > LIMIT_REQUEST_HEAD)
			pending_too_big(g, c, (size_t)n);
		return;
	}
	if ((status = head_check(g->head, end, (size_t)n, msg,
	    sizeof(msg))) != 0) {
		pending_refuse(g, c, status, status == 413 ?
		    "payload_too_large" : "bad_request", "%s", msg);
		return;
	}
	pending_hand_over(g, c);
}

/* Take every waiting connection, or refuse it at a cap. */
static void
gate_accept(struct gate *g)
{
	struct gate_conn	*c;
	struct epoll_event	 ev;
	int			 fd;

	for (;;) {
		c = xcalloc(1, sizeof(*c));
		c->addrlen = sizeof(c->addr);
		fd = accept4(g->fd, (struct sockaddr *)&c->addr, &c->addrlen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			free(c);
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				log_warn("gate: cannot accept: %s",
				    strerror(errno));
				g->paused_ms = now_ms();
				epoll_ctl(g->ep, EPOLL_CTL_DEL, g->fd, NULL);
			}
			return;
		}
		c->fd = fd;
		c->since_ms = now_ms();
		c->next = g->pending;
		if (c->next != NULL)
			c->next->prev = c;
		g->pending = c;
		g->npending++;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
		if (g->npending + g->nhanded > g->o.max_connections) {
			pending_full(g, c);
			continue;
		}
		pthread_mutex_lock(&g->lock);
		c->ip = addr_take(g, &c->addr);
		pthread_mutex_unlock(&g->lock);
		if (c->ip == NULL)
			pending_refuse(g, c, 429, "rate_limited", "Too many "
			    "connections from your address (at most %u); "
			    "close some first", g->o.max_per_ip);
	}
}

/* Deadlines of the connections the gate holds. */
static void
sweep_pending(struct gate *g, int64_t now)
{
	struct gate_conn	*c, *next;
	bool			 draining = atomic_load(&g->draining);

	for (c = g->pending; c != NULL; c = next) {
		next = c->next;
		if (c->lingering) {
			if (draining || now - c->since_ms > GATE_LINGER_MS)
				pending_close(g, c);
		} else if (draining)
			pending_close(g, c);
		else if (now - c->since_ms > (int64_t)g->o.header_timeout *
		    1000)
			pending_refuse(g, c, 408, "request_timeout", "The "
			    "request headers did not arrive within %u seconds",
			    g->o.header_timeout);
	}
}

/* Deadlines of the connections libmicrohttpd has: a head must arrive
 * within --header-timeout (a kept-alive connection may first idle for
 * --timeout), a body within --body-timeout; past one, the socket is
 * shut down and libmicrohttpd closes it. Draining, only connections
 * with a complete request are left. */
static void
sweep_handed(struct gate *g, int64_t now)
{
	struct gate_conn	*c;
	uint64_t		 st;
	int64_t			 limit;
	bool			 draining = atomic_load(&g->draining);
	int			 b;

	pthread_mutex_lock(&g->lock);
	for (b = 0; b < GATE_BUCKETS; b++) {
		for (c = g->handed[b]; c != NULL; c = c->next) {
			st = atomic_load(&c->state);
			switch ((enum gate_phase)(st & 7)) {
			case GATE_ARRIVED:
				limit = g->o.header_timeout;
				break;
			case GATE_HANDSHAKE:
				limit = draining ? 0 : g->o.header_timeout;
				break;
			case GATE_HEADERS:
				limit = draining ? 0 : (int64_t)
				    g->o.idle_timeout + g->o.header_timeout;
				break;
			case GATE_BODY:
				limit = draining ? 0 : g->o.body_timeout;
				break;
			default:
				continue;
			}
			if (now - (int64_t)(st >> 3) < limit * 1000)
				continue;
			log_debug("gate: closing a connection: %s not "
			    "received in time", (st & 7) == GATE_BODY ?
			    "request body" : (st & 7) == GATE_HANDSHAKE ?
			    "TLS handshake or request head" : "request head");
			atomic_store(&c->state, state_pack(GATE_CUT));
			shutdown(c->fd, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&g->lock);
}

static void *
gate_run(void *arg)
{
	struct gate		*g = arg;
	struct epoll_event	 ev[GATE_EVENTS], lev;
	int64_t			 now, swept = 0;
	eventfd_t		 v;
	int			 i, n;

	while (!atomic_load(&g->stop)) {
		n = epoll_wait(g->ep, ev, GATE_EVENTS, GATE_TICK_MS);
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == &g->fd)
				gate_accept(g);
			else if (ev[i].data.ptr == &g->wake)
				(void)eventfd_read(g->wake, &v);
			else if (!g->drained)
				pending_read(g, ev[i].data.ptr);
		}
		now = now_ms();
		if (atomic_load(&g->draining) && !g->drained) {
			/* closed now: new connections are refused, not left
			 * waiting in the backlog */
			epoll_ctl(g->ep, EPOLL_CTL_DEL, g->fd, NULL);
			close(g->fd);
			g->fd = -1;
			sweep_pending(g, now);
			g->drained = true;
		}
		if (g->paused_ms != 0 && now - g->paused_ms > GATE_TICK_MS &&
		    !g->drained) {
			memset(&lev, 0, sizeof(lev));
			lev.events = EPOLLIN;
			lev.data.ptr = &g->fd;
			epoll_ctl(g->ep, EPOLL_CTL_ADD, g->fd, &lev);
			g->paused_ms = 0;
		}
		if (now - swept >= GATE_TICK_MS) {
			swept = now;
			sweep_pending(g, now);
			sweep_handed(g, now);
		}
		if (now - g->reported_ms >= GATE_REPORT_MS) {
			if (g->refused[0] + g->refused[1] > 0)
				log_warn("gate: refused %lu connections at the "
				    "per-address cap (429) and %lu at the "
				    "connection cap (503) in %lld s",
				    g->refused[0], g->refused[1], (long long)
				    (now - g->reported_ms) / 1000);
			g->refused[0] = g->refused[1] = 0;
			g->reported_ms = now;
		}
	}
	return NULL;
}

/* Room for the connections asked for: raise the soft descriptor limit
 * toward the hard one if needed. */
static void
gate_fd_room(unsigned want)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ?
	    want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		log_warn("gate: the descriptor limit (%llu) is below what "
		    "--max-connections needs (%u)",
		    (unsigned long long)rl.rlim_cur, want);
}

struct gate *
gate_new(int fd, const struct gate_options *o)
{
	struct gate		*g;
	struct epoll_event	 ev;

	g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	g->o = *o;
	pthread_mutex_init(&g->lock, NULL);
	g->ep = epoll_create1(EPOLL_CLOEXEC);
	g->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->ep == -1 || g->wake == -1) {
		log_error("gate: %s", strerror(errno));
		gate_free(g);
		return NULL;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &g->fd;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
	ev.data.ptr = &g->wake;
	epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake, &ev);
	gate_fd_room(2 * o->max_connections + 64);
	return g;
}

int
gate_start(struct gate *g, struct MHD_Daemon *daemon)
{
	g->daemon = daemon;
	if (pthread_create(&g->thread, NULL, gate_run, g) != 0) {
		log_error("gate: cannot start its thread");
		return -1;
	}
	g->running = true;
	return 0;
}

void
gate_notify(void *cls, struct MHD_Connection *conn, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	struct gate			*g = cls;
	const union MHD_ConnectionInfo	*ci;
	struct gate_conn		*c = *ctx;
	int				 fd;

	if (c == NULL) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci == NULL)
			return;
		fd = ci->connect_fd;
		pthread_mutex_lock(&g->lock);
		for (c = g->handed[(unsigned)fd % GATE_BUCKETS]; c != NULL &&
		    c->fd != fd; c = c->next)
			;
		pthread_mutex_unlock(&g->lock);
		*ctx = c;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || c == NULL)
		return;
	/* Before libmicrohttpd closes the socket: the sweep, under the
	 * lock, never shuts down a descriptor that is already reused. */
	handed_free(g, c);
	*ctx = NULL;
}

void
gate_phase(struct MHD_Connection *conn, enum gate_phase p)
{
	const union MHD_ConnectionInfo	*ci;
	struct gate_conn		*c;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (c = ci->socket_context) == NULL ||
	    (atomic_load(&c->state) & 7) == GATE_CUT)
		return;
	atomic_store(&c->state, state_pack(p));
}

unsigned
gate_open(struct gate *g)
{
	return atomic_load(&g->npending) + atomic_load(&g->nhanded);
}

unsigned
gate_arrived(struct gate *g)
{
	struct gate_conn	*c;
	unsigned		 n = 0;
	int			 b;

	pthread_mutex_lock(&g->lock);
	for (b = 0; b < GATE_BUCKETS; b++)
		for (c = g->handed[b]; c != NULL; c = c->next)
			if ((atomic_load(&c->state) & 7) == GATE_ARRIVED)
				n++;
	pthread_mutex_unlock(&g->lock);
	return n;
}

void
gate_drain(struct gate *g)
{
	atomic_store(&g->draining, 1);
	(void)eventfd_write(g->wake, 1);
}

void
gate_free(struct gate *g)
{
	struct gate_addr	*a;
	struct gate_conn	*c;
	int			 b;

	if (g == NULL)
		return;
	if (g->running) {
		atomic_store(&g->stop, 1);
		(void)eventfd_write(g->wake, 1);
		pthread_join(g->thread, NULL);
	}
	while ((c = g->pending) != NULL)
		pending_close(g, c);
	for (b = 0; b < GATE_BUCKETS; b++) {
		while ((c = g->handed[b]) != NULL) {
			g->handed[b] = c->next;
			free(c);
		}
		while ((a = g->addrs[b]) != NULL) {
			g->addrs[b] = a->next;
			free(a);
		}
	}
	if (g->ep != -1)
		close(g->ep);
	if (g->wake != -1)
		close(g->wake);
	if (g->fd != -1)
		close(g->fd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
