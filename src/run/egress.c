/* The egress policy: address classes, the allowed CIDRs and host names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/egress.h"
#include "util/limits.h"
#include "util/xmalloc.h"

/* An address, or a network, as 16 bytes: IPv4 as ::ffff:a.b.c.d, so one
 * comparison serves both families (an IPv4 prefix length gains 96). */
struct egress_net {
	unsigned char	 a[16];
	unsigned	 len;
};

struct egress {
	struct egress_net	*nets;
	size_t			 nnets;
	char			**names;	/* lower case; "*.x" for a wildcard */
	size_t			 nnames;
	int			 loopback;
};

static const struct {
	uint32_t		 net;
	unsigned		 len;
	enum egress_class	 class;
} v4_special[] = {
	{ 0x00000000,  8, EGRESS_UNSPECIFIED },	/* "this network" */
	{ 0x0a000000,  8, EGRESS_PRIVATE },
	{ 0x64400000, 10, EGRESS_SHARED },
	{ 0x7f000000,  8, EGRESS_LOOPBACK },
	{ 0xa9fe0000, 16, EGRESS_LINK_LOCAL },	/* 169.254.169.254: metadata */
	{ 0xac100000, 12, EGRESS_PRIVATE },
	{ 0xc0000000, 24, EGRESS_RESERVED },	/* IETF protocol assignments */
	{ 0xc0000200, 24, EGRESS_RESERVED },	/* TEST-NET-1 */
	{ 0xc0586300, 24, EGRESS_RESERVED },	/* 6to4 relay anycast */
	{ 0xc0a80000, 16, EGRESS_PRIVATE },
	{ 0xc6120000, 15, EGRESS_RESERVED },	/* benchmarking */
	{ 0xc6336400, 24, EGRESS_RESERVED },	/* TEST-NET-2 */
	{ 0xcb007100, 24, EGRESS_RESERVED },	/* TEST-NET-3 */
	{ 0xe0000000,  4, EGRESS_MULTICAST },
	{ 0xf0000000,  4, EGRESS_RESERVED },	/* and 255.255.255.255 */
};

static const struct {
	unsigned char		 net[16];
	unsigned		 len;
	enum egress_class	 class;
} v6_special[] = {
	{ { 0 }, 128, EGRESS_UNSPECIFIED },
	{ { [15] = 1 }, 128, EGRESS_LOOPBACK },
	{ { 0x01, 0x00 }, 64, EGRESS_RESERVED },	/* discard-only */
	{ { 0x20, 0x01, 0x00, 0x02 }, 48, EGRESS_RESERVED },	/* benchmarking */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, EGRESS_RESERVED },	/* documentation */
	{ { 0x3f, 0xff }, 20, EGRESS_RESERVED },	/* documentation */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, EGRESS_PRIVATE },
						/* local-use NAT64 */
	{ { 0xfc }, 7, EGRESS_PRIVATE },	/* unique local */
	{ { 0xfe, 0x80 }, 10, EGRESS_LINK_LOCAL },
	{ { 0xfe, 0xc0 }, 10, EGRESS_PRIVATE },	/* site-local (deprecated) */
	{ { 0xff }, 8, EGRESS_MULTICAST },
};

static const char *const class_names[] = {
	"public", "loopback", "private", "link-local", "shared (CGNAT)",
	"unspecified", "multicast", "reserved",
};

const char *
egress_class_name(enum egress_class c)
{
	if ((size_t)c >= sizeof(class_names) / sizeof(class_names[0]))
		return "reserved";
	return class_names[c];
}

/* Do the first len bits of a and net agree? */
static int
prefix_match(const unsigned char *a, const unsigned char *net, unsigned len)
{
	unsigned	bytes = len / 8, bits = len % 8;
	unsigned char	mask;

	if (memcmp(a, net, bytes) != 0)
		return 0;
	if (bits == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - bits));
	return (a[bytes] & mask) == (net[bytes] & mask);
}

static enum egress_class
classify_v4(const unsigned char *p)
{
	uint32_t	a = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3];
	size_t		i;

	for (i = 0; i < sizeof(v4_special) / sizeof(v4_special[0]); i++)
		if ((a ^ v4_special[i].net) >> (32 - v4_special[i].len) == 0)
			return v4_special[i].class;
	return EGRESS_PUBLIC;
}

/* The IPv4 address a v6 address carries (mapped, compatible, NAT64,
 * 6to4), or NULL. :: and ::1 are not compatible addresses. */
static const unsigned char *
embedded_v4(const unsigned char *a)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const unsigned char zero[12];

	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return a + 12;
	if (memcmp(a, zero, 12) == 0 && (a[12] | a[13] | a[14]) != 0)
		return a + 12;
	if (a[0] == 0x20 && a[1] == 0x02)
		return a + 2;
	return NULL;
}

static enum egress_class
classify_v6(const unsigned char *a)
{
	const unsigned char	*v4;
	size_t			 i;

	if ((v4 = embedded_v4(a)) != NULL)
		return classify_v4(v4);
	for (i = 0; i < sizeof(v6_special) / sizeof(v6_special[0]); i++)
		if (prefix_match(a, v6_special[i].net, v6_special[i].len))
			return v6_special[i].class;
	return EGRESS_PUBLIC;
}

/* An address as 16 bytes (IPv4 mapped); -1 for another family. */
static int
sockaddr_bytes(const struct sockaddr *sa, socklen_t len, unsigned char *a)
{
	const struct sockaddr_in	*in;
	const struct sockaddr_in6	*in6;

	if (sa->sa_family == AF_INET && len >= sizeof(*in)) {
		in = (const struct sockaddr_in *)(const void *)sa;
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(*in6)) {
		in6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(a, &in6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

enum egress_class
egress_classify(const struct sockaddr *sa, socklen_t len)
{
	unsigned char	a[16];

	if (sockaddr_bytes(sa, len, a) == -1)
		return EGRESS_RESERVED;
	return classify_v6(a);
}

/* "addr" or "addr/len", IPv4 or IPv6, into net (host bits cleared);
 * -1 if s is not one. */
static int
net_parse(const char *s, struct egress_net *net)
{
	char		 text[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned char	 v4[4];
	unsigned	 max, i;
	long		 len;

	if (strlen(s) >= sizeof(text))
		return -1;
	strcpy(text, s);
	if ((slash = strchr(text, '/')) != NULL)
		*slash++ = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, text, v4) == 1) {
		net->a[10] = net->a[11] = 0xff;
		memcpy(net->a + 12, v4, 4);
		max = 32;
	} else if (inet_pton(AF_INET6, text, net->a) == 1)
		max = 128;
	else
		return -1;
	len = max;
	if (slash != NULL) {
		if (!isdigit((unsigned char)*slash))
			return -1;
		len = strtol(slash, &end, 10);
		if (*end != '\0' || len > (long)max)
			return -1;
	}
	net->len = (unsigned)len + (128 - max);
	for (i = net->len; i < 128; i++)
		net->a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	return 0;
}

/* Is the label of n bytes at p a host-name label: letters, digits and
 * hyphens, 1 to 63 of them, not beginning or ending with a hyphen? */
static int
label_ok(const char *p, size_t n)
{
	size_t	i;

	if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return 0;
	return 1;
}

/* A host name (or "*.name"), lower-cased and without a final dot, or NULL
 * if s is not one; its last label may not be all digits (that is a
 * mistyped address, not a name). */
static char *
name_parse(const char *s)
{
	const char	*p, *label = NULL;
	char		*name;
	size_t		 n, i, len;

	n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > LIMIT_EGRESS_NAME)
		return NULL;
	p = strncmp(s, "*.", 2) == 0 ? s + 2 : s;
	while (p < s + n) {
		label = p;
		len = strcspn(p, ".");
		if (p + len > s + n)
			len = (size_t)(s + n - p);
		if (!label_ok(p, len))
			return NULL;
		p += len + 1;
	}
	if (label == NULL || strspn(label, "0123456789") >=
	    (size_t)(s + n - label))
		return NULL;
	name = xstrndup(s, n);
	for (i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	return name;
}

static void
egress_add_net(struct egress *e, const struct egress_net *net)
{
	e->nets = xrealloc(e->nets, (e->nnets + 1) * sizeof(*e->nets));
	e->nets[e->nnets++] = *net;
}

/* One --egress-allow entry into e; -1 if it is neither a CIDR nor a name. */
static int
egress_add(struct egress *e, const char *entry)
{
	struct egress_net	 net;
	char			*name;

	if (net_parse(entry, &net) == 0) {
		egress_add_net(e, &net);
		return 0;
	}
	if ((name = name_parse(entry)) == NULL)
		return -1;
	e->names = xrealloc(e->names, (e->nnames + 1) * sizeof(*e->names));
	e->names[e->nnames++] = name;
	return 0;
}

struct egress *
egress_new(const char *const *allow, int allow_loopback, char **cause)
{
	struct egress		*e;
	struct egress_net	 net;
	size_t			 i;

	*cause = NULL;
	e = xcalloc(1, sizeof(*e));
	for (i = 0; allow != NULL && allow[i] != NULL; i++) {
		if (i == LIMIT_EGRESS_ALLOW) {
			*cause = xasprintf("more than %d entries",
			    LIMIT_EGRESS_ALLOW);
			goto fail;
		}
		if (egress_add(e, allow[i]) == -1) {
			*cause = xasprintf("\"%s\" is neither an address, a "
			    "CIDR nor a host name", allow[i]);
			goto fail;
		}
	}
	if (allow_loopback) {
		e->loopback = 1;
		(void)net_parse("127.0.0.0/8", &net);
		egress_add_net(e, &net);
		(void)net_parse("::1", &net);
		egress_add_net(e, &net);
	}
	return e;
fail:
	egress_free(e);
	return NULL;
}

void
egress_free(struct egress *e)
{
	size_t	i;

	if (e == NULL)
		return;
	for (i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	free(e->nets);
	free(e);
}

int
egress_allows_loopback(const struct egress *e)
{
	return e->loopback;
}

/* Does host (any case, a final dot or not) match a host-name entry? */
static int
name_allowed(const struct egress *e, const char *host)
{
	size_t		 n = strlen(host), m, i;
	const char	*name;

	if (n > 0 && host[n - 1] == '.')
		n--;
	for (i = 0; i < e->nnames; i++) {
		name = e->names[i];
		if (name[0] == '*') {
			m = strlen(name + 1);	/* ".suffix" */
			if (n > m && strncasecmp(host + n - m, name + 1,
			    m) == 0)
				return 1;
		} else if (strlen(name) == n &&
		    strncasecmp(host, name, n) == 0)
			return 1;
	}
	return 0;
}

int
egress_check(const struct egress *e, const char *host,
    const struct sockaddr *sa, socklen_t len, enum egress_class *class)
{
	unsigned char		a[16];
	enum egress_class	c = EGRESS_RESERVED;
	size_t			i;
	int			ok = 0;

	if (sockaddr_bytes(sa, len, a) == 0) {
		c = classify_v6(a);
		ok = c == EGRESS_PUBLIC;
		for (i = 0; !ok && i < e->nnets; i++)
			ok = prefix_match(a, e->nets[i].a, e->nets[i].len);
		if (!ok && host != NULL)
			ok = name_allowed(e, host);
	}
	if (class != NULL)
		*class = c;
	return ok;
}
