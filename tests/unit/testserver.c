/* The tests' HTTP server (testserver.h). Paths and what they answer:
 *
 *   /ok             200 "hello", X-Multi twice
 *   /echo           200, the request as read (head and body)
 *   /status/NNN     status NNN
 *   /slow           200 after 3 s
 *   /big            200 with 2 MiB and its Content-Length
 *   /big-stream     200 with 2 MiB and no length (ends at close)
 *   /redirect/N     302 to /redirect/N-1; /redirect/0 to /echo
 *   /loop           302 to itself
 *   /cross          302 to http://localhost:PORT/echo (another origin)
 *   /to-metadata    302 to http://169.254.169.254/latest/meta-data/
 *   /303, /307      that status, to /echo
 *   /429            429 with Retry-After: 1 the first time, then /ok
 *   /429-date       the same with an HTTP date 2 s ahead
 *   /429-long       429 with Retry-After: 3600, always
 *   /503x2          503 twice, then /ok
 *   /reset          closes the connection without answering
 *   /fat-headers    200 with 100 KiB of headers
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testserver.h"

#define BIG	(2 * 1024 * 1024)

struct conn {
	struct testserver	*srv;
	int			 fd;
};

static void
nap_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
send_all(int fd, const void *p, size_t n)
{
	const char	*c = p;
	ssize_t		 w;

	while (n > 0 && (w = send(fd, c, n, MSG_NOSIGNAL)) > 0) {
		c += w;
		n -= (size_t)w;
	}
}

static void
reply(int fd, int status, const char *headers, const char *body, size_t len)
{
	char	head[1024];
	int	n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d Test\r\nContent-Length: "
	    "%zu\r\nConnection: close\r\n%s\r\n", status, len,
	    headers != NULL ? headers : "");
	send_all(fd, head, (size_t)n);
	send_all(fd, body, len);
}

static void
redirect(int fd, int status, const char *location)
{
	char	h[512];

	snprintf(h, sizeof(h), "Location: %s\r\n", location);
	reply(fd, status, h, "", 0);
}

int
testserver_hits(struct testserver *s, const char *path)
{
	int	i, n = 0;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < TESTSERVER_PATHS && s->paths[i][0] != '\0'; i++)
		if (strcmp(s->paths[i], path) == 0)
			n = s->hits[i];
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* Count a request to path; the count with it. */
static int
hit(struct testserver *s, const char *path)
{
	int	i, n = 0;

	pthread_mutex_lock(&s->mu);
	for (i = 0; i < TESTSERVER_PATHS; i++) {
		if (s->paths[i][0] == '\0')
			snprintf(s->paths[i], sizeof(s->paths[i]), "%s", path);
		if (strcmp(s->paths[i], path) == 0) {
			n = ++s->hits[i];
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

char *
testserver_last(struct testserver *s)
{
	char	*copy;

	pthread_mutex_lock(&s->mu);
	copy = strdup(s->last);
	pthread_mutex_unlock(&s->mu);
	return copy;
}

/* Read a request's head and body into buf (NUL-terminated); its length,
 * or -1. */
static ssize_t
read_request(int fd, char *buf, size_t size)
{
	size_t		 len = 0, want = 0;
	ssize_t		 r;
	char		*end, *cl;

	while (len + 1 < size) {
		if ((r = recv(fd, buf + len, size - 1 - len, 0)) <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (want == 0) {
			want = (size_t)(end + 4 - buf);
			if ((cl = strcasestr(buf, "\r\nContent-Length:")) !=
			    NULL && cl < end)
				want += strtoul(cl + 17, NULL, 10);
		}
		if (len >= want)
			return (ssize_t)len;
	}
	return -1;
}

static void
answer_big(int fd, int with_length)
{
	char	*body = malloc(BIG);
	char	 head[256];

	memset(body, 'x', BIG);
	if (with_length)
		reply(fd, 200, NULL, body, BIG);
	else {
		snprintf(head, sizeof(head), "HTTP/1.1 200 Test\r\n"
		    "Connection: close\r\n\r\n");
		send_all(fd, head, strlen(head));
		send_all(fd, body, BIG);
	}
	free(body);
}

static void
answer_fat_headers(int fd)
{
	static const char	head[] = "HTTP/1.1 200 Test\r\nConnection: close\r\n";
	static const char	tail[] = "Content-Length: 0\r\n\r\n";
	char			line[1100];
	int			i;

	send_all(fd, head, sizeof(head) - 1);
	memset(line, 'v', sizeof(line));
	for (i = 0; i < 100; i++) {
		memcpy(line, "X-Fat: ", 7);
		memcpy(line + sizeof(line) - 2, "\r\n", 2);
		send_all(fd, line, sizeof(line));
	}
	send_all(fd, tail, sizeof(tail) - 1);
}

static void
answer_slow(struct testserver *s, int fd)
{
	int	i;

	for (i = 0; i < 60 && !atomic_load(&s->stop); i++)
		nap_ms(50);
	reply(fd, 200, NULL, "late", 4);
}

/* Retry-After as an HTTP date secs ahead. */
static void
answer_429_date(int fd, int secs)
{
	char		date[64], h[128];
	time_t		t = time(NULL) + secs;
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(h, sizeof(h), "Retry-After: %s\r\n", date);
	reply(fd, 429, h, "", 0);
}

static void
answer(struct testserver *s, int fd, const char *path, const char *req,
    size_t len)
{
	static const char multi[] = "X-Multi: a\r\nX-Multi: b\r\n"
	    "Content-Type: text/plain\r\n";
	char	loc[256];
	int	n = hit(s, path);

	if (strcmp(path, "/ok") == 0)
		reply(fd, 200, multi, "hello", 5);
	else if (strcmp(path, "/echo") == 0)
		reply(fd, 200, NULL, req, len);
	else if (strncmp(path, "/status/", 8) == 0)
		reply(fd, atoi(path + 8), NULL, "status", 6);
	else if (strcmp(path, "/slow") == 0)
		answer_slow(s, fd);
	else if (strcmp(path, "/big") == 0 || strcmp(path, "/big-stream") == 0)
		answer_big(fd, strcmp(path, "/big") == 0);
	else if (strncmp(path, "/redirect/", 10) == 0) {
		if (atoi(path + 10) <= 0)
			snprintf(loc, sizeof(loc), "/echo");
		else
			snprintf(loc, sizeof(loc), "/redirect/%d",
			    atoi(path + 10) - 1);
		redirect(fd, 302, loc);
	} else if (strcmp(path, "/loop") == 0)
		redirect(fd, 302, "/loop");
	else if (strcmp(path, "/cross") == 0) {
		snprintf(loc, sizeof(loc), "http://localhost:%d/echo", s->port);
		redirect(fd, 302, loc);
	} else if (strcmp(path, "/to-metadata") == 0)
		redirect(fd, 302, "http://169.254.169.254/latest/meta-data/");
	else if (strcmp(path, "/303") == 0 || strcmp(path, "/307") == 0)
		redirect(fd, atoi(path + 1), "/echo");
	else if (strcmp(path, "/429") == 0 && n == 1)
		reply(fd, 429, "Retry-After: 1\r\n", "", 0);
	else if (strcmp(path, "/429-date") == 0 && n == 1)
		answer_429_date(fd, 2);
	else if (strcmp(path, "/429-long") == 0)
		reply(fd, 429, "Retry-After: 3600\r\n", "", 0);
	else if (strcmp(path, "/503x2") == 0 && n <= 2)
		reply(fd, 503, NULL, "busy", 4);
	else if (strcmp(path, "/reset") == 0)
		return;
	else if (strcmp(path, "/fat-headers") == 0)
		answer_fat_headers(fd);
	else if (strncmp(path, "/429", 4) == 0 || strcmp(path, "/503x2") == 0)
		reply(fd, 200, multi, "hello", 5);
	else
		reply(fd, 404, NULL, "", 0);
}

static void *
conn_main(void *arg)
{
	struct conn		*c = arg;
	struct testserver	*s = c->srv;
	char			*req, path[128];
	ssize_t			 len;

	req = malloc(TESTSERVER_LAST);
	if ((len = read_request(c->fd, req, TESTSERVER_LAST)) > 0 &&
	    sscanf(req, "%*s %127[^? ]", path) == 1) {
		pthread_mutex_lock(&s->mu);
		memcpy(s->last, req, (size_t)len + 1);
		pthread_mutex_unlock(&s->mu);
		answer(s, c->fd, path, req, (size_t)len);
	}
	free(req);
	close(c->fd);
	free(c);
	atomic_fetch_sub(&s->active, 1);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct testserver	*s = arg;
	struct pollfd		 p = { .fd = s->fd, .events = POLLIN };
	struct conn		*c;
	pthread_t		 t;
	int			 fd;

	while (!atomic_load(&s->stop)) {
		if (poll(&p, 1, 50) <= 0 || (fd = accept(s->fd, NULL,
		    NULL)) == -1)
			continue;
		atomic_fetch_add(&s->connections, 1);
		atomic_fetch_add(&s->active, 1);
		c = malloc(sizeof(*c));
		c->srv = s;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c) != 0) {
			close(fd);
			free(c);
			atomic_fetch_sub(&s->active, 1);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

/* A socket bound to 127.0.0.1 on a free port, or -1. */
static int
bind_loopback(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

int
testserver_free_port(void)
{
	int	fd, port = -1;

	if ((fd = bind_loopback(&port)) != -1)
		close(fd);
	return port;
}

int
testserver_start(struct testserver *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	if ((s->fd = bind_loopback(&s->port)) == -1)
		return -1;
	if (listen(s->fd, 64) == -1 ||
	    pthread_create(&s->thread, NULL, accept_main, s) != 0) {
		close(s->fd);
		return -1;
	}
	return 0;
}

void
testserver_stop(struct testserver *s)
{
	int	i;

	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	for (i = 0; i < 500 && atomic_load(&s->active) > 0; i++)
		nap_ms(10);
	close(s->fd);
	pthread_mutex_destroy(&s->mu);
}
