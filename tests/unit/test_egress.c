/* The egress policy: address classes, CIDR and host-name entries,
 * IPv6 and the forms of IPv6 that carry an IPv4 address. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "run/egress.h"

#define NV(v)	(sizeof(v) / sizeof((v)[0]))

/* An address as the sockaddr a socket would be opened to. */
static socklen_t
addr(const char *text, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*in = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		return sizeof(*in);
	}
	cr_assert_eq(inet_pton(AF_INET6, text, &in6->sin6_addr), 1,
	    "not an address: %s", text);
	in6->sin6_family = AF_INET6;
	return sizeof(*in6);
}

static enum egress_class
class_of(const char *text)
{
	struct sockaddr_storage	ss;
	socklen_t		len = addr(text, &ss);

	return egress_classify((struct sockaddr *)&ss, len);
}

/* Does policy e let a request for host connect to the address text? */
static int
allowed(const struct egress *e, const char *host, const char *text)
{
	struct sockaddr_storage	ss;
	socklen_t		len = addr(text, &ss);

	return egress_check(e, host, (struct sockaddr *)&ss, len, NULL);
}

static struct egress *
policy(const char *const *allow, int loopback)
{
	struct egress	*e;
	char		*cause = NULL;

	e = egress_new(allow, loopback, &cause);
	cr_assert_not_null(e, "policy refused: %s", cause ? cause : "?");
	cr_assert_null(cause);
	return e;
}

static const struct {
	const char		*addr;
	enum egress_class	 class;
} classes[] = {
	{ "127.0.0.1", EGRESS_LOOPBACK },
	{ "127.255.255.254", EGRESS_LOOPBACK },
	{ "::1", EGRESS_LOOPBACK },
	{ "10.1.2.3", EGRESS_PRIVATE },
	{ "172.16.0.1", EGRESS_PRIVATE },
	{ "172.31.255.255", EGRESS_PRIVATE },
	{ "172.32.0.1", EGRESS_PUBLIC },
	{ "172.15.255.255", EGRESS_PUBLIC },
	{ "192.168.1.1", EGRESS_PRIVATE },
	{ "fd00::1", EGRESS_PRIVATE },
	{ "fc00::1", EGRESS_PRIVATE },
	{ "fd00:ec2::254", EGRESS_PRIVATE },
	{ "169.254.169.254", EGRESS_LINK_LOCAL },
	{ "169.254.0.1", EGRESS_LINK_LOCAL },
	{ "fe80::1", EGRESS_LINK_LOCAL },
	{ "febf::1", EGRESS_LINK_LOCAL },
	{ "100.64.0.1", EGRESS_SHARED },
	{ "100.127.255.255", EGRESS_SHARED },
	{ "100.128.0.1", EGRESS_PUBLIC },
	{ "100.63.255.255", EGRESS_PUBLIC },
	{ "0.0.0.0", EGRESS_UNSPECIFIED },
	{ "0.1.2.3", EGRESS_UNSPECIFIED },
	{ "::", EGRESS_UNSPECIFIED },
	{ "224.0.0.1", EGRESS_MULTICAST },
	{ "239.255.255.250", EGRESS_MULTICAST },
	{ "ff02::1", EGRESS_MULTICAST },
	{ "255.255.255.255", EGRESS_RESERVED },
	{ "240.0.0.1", EGRESS_RESERVED },
	{ "192.0.2.1", EGRESS_RESERVED },
	{ "198.18.0.1", EGRESS_RESERVED },
	{ "2001:db8::1", EGRESS_RESERVED },
	{ "8.8.8.8", EGRESS_PUBLIC },
	{ "1.1.1.1", EGRESS_PUBLIC },
	{ "93.184.216.34", EGRESS_PUBLIC },
	{ "2606:4700:4700::1111", EGRESS_PUBLIC },
	{ "2a00:1450:4001:80b::200e", EGRESS_PUBLIC },
	/* IPv6 forms that carry an IPv4 address are classed by it */
	{ "::ffff:127.0.0.1", EGRESS_LOOPBACK },
	{ "::ffff:169.254.169.254", EGRESS_LINK_LOCAL },
	{ "::ffff:10.0.0.1", EGRESS_PRIVATE },
	{ "::ffff:0.0.0.0", EGRESS_UNSPECIFIED },
	{ "::ffff:8.8.8.8", EGRESS_PUBLIC },
	{ "::127.0.0.1", EGRESS_LOOPBACK },
	{ "::10.0.0.1", EGRESS_PRIVATE },
	{ "64:ff9b::7f00:1", EGRESS_LOOPBACK },
	{ "64:ff9b::a9fe:a9fe", EGRESS_LINK_LOCAL },
	{ "64:ff9b::808:808", EGRESS_PUBLIC },
	{ "2002:c0a8:0101::1", EGRESS_PRIVATE },
	{ "2002:7f00:1::", EGRESS_LOOPBACK },
	{ "2002:808:808::1", EGRESS_PUBLIC },
};

Test(egress, classes)
{
	size_t	i;

	for (i = 0; i < NV(classes); i++)
		cr_expect_eq(class_of(classes[i].addr), classes[i].class,
		    "%s: %s, want %s", classes[i].addr,
		    egress_class_name(class_of(classes[i].addr)),
		    egress_class_name(classes[i].class));
}

Test(egress, default_denies_all_but_public)
{
	struct egress	*e = policy(NULL, 0);
	size_t		 i;

	for (i = 0; i < NV(classes); i++)
		cr_expect_eq(allowed(e, "example.com", classes[i].addr),
		    classes[i].class == EGRESS_PUBLIC, "%s", classes[i].addr);
	cr_assert_eq(egress_allows_loopback(e), 0);
	egress_free(e);
}

/* What a policy should say to a request for host connecting to addr. */
struct verdict {
	const char	*host;
	const char	*addr;
	int		 ok;
};

static void
expect_verdicts(const char *const *allow, int loopback,
    const struct verdict *v, size_t n)
{
	struct egress	*e = policy(allow, loopback);
	size_t		 i;

	cr_expect_eq(egress_allows_loopback(e), loopback);
	for (i = 0; i < n; i++)
		cr_expect_eq(allowed(e, v[i].host, v[i].addr), v[i].ok,
		    "%s at %s: want %s", v[i].host ? v[i].host : "(no name)",
		    v[i].addr, v[i].ok ? "allowed" : "denied");
	egress_free(e);
}

Test(egress, loopback_flag_adds_loopback_only)
{
	static const struct verdict v[] = {
		{ NULL, "127.0.0.1", 1 }, { NULL, "127.8.9.10", 1 },
		{ NULL, "::1", 1 }, { NULL, "::ffff:127.0.0.1", 1 },
		{ NULL, "10.0.0.1", 0 }, { NULL, "169.254.169.254", 0 },
		{ NULL, "0.0.0.0", 0 }, { NULL, "::", 0 },
	};

	expect_verdicts(NULL, 1, v, NV(v));
}

Test(egress, cidr_entries)
{
	static const char *const allow[] = {
		"10.20.0.0/16", "192.168.1.7", "fd12:3456::/32",
		"172.16.5.9/24",	/* host bits are cleared: 172.16.5.0/24 */
		NULL,
	};
	static const struct verdict v[] = {
		{ NULL, "10.20.0.1", 1 }, { NULL, "10.20.255.255", 1 },
		{ NULL, "10.21.0.1", 0 }, { NULL, "192.168.1.7", 1 },
		{ NULL, "192.168.1.8", 0 }, { NULL, "fd12:3456:1::9", 1 },
		{ NULL, "fd12:3457::9", 0 }, { NULL, "172.16.5.200", 1 },
		{ NULL, "172.16.6.1", 0 }, { NULL, "127.0.0.1", 0 },
		/* an IPv4 entry also covers its IPv4-mapped IPv6 form */
		{ NULL, "::ffff:10.20.3.4", 1 },
	};

	expect_verdicts(allow, 0, v, NV(v));
}

Test(egress, everything_when_asked)
{
	static const char *const allow[] = { "0.0.0.0/0", "::/0", NULL };
	static const struct verdict v[] = {
		{ NULL, "127.0.0.1", 1 }, { NULL, "169.254.169.254", 1 },
		{ NULL, "fe80::1", 1 },
	};

	expect_verdicts(allow, 0, v, NV(v));
}

Test(egress, host_names)
{
	static const char *const allow[] = {
		"API.Internal.", "*.corp.example", NULL,
	};
	static const struct verdict v[] = {
		{ "api.internal", "10.0.0.5", 1 },
		{ "API.INTERNAL.", "10.0.0.5", 1 },
		{ "x.api.internal", "10.0.0.5", 0 },
		{ "api.internal.evil", "10.0.0.5", 0 },
		{ "a.corp.example", "192.168.0.1", 1 },
		{ "a.b.corp.example", "192.168.0.1", 1 },
		/* the wildcard is below the name, not the name itself */
		{ "corp.example", "192.168.0.1", 0 },
		{ "xcorp.example", "192.168.0.1", 0 },
		/* a name is never the address: other hosts stay refused */
		{ "other.example", "10.0.0.5", 0 },
		{ NULL, "10.0.0.5", 0 },
	};

	expect_verdicts(allow, 0, v, NV(v));
}

Test(egress, bad_entries)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x",
		"10.0.0.0/-1", "1.2.3", "300.1.1.1", "*", "*.", "a..b",
		"bad_name.example", "http://x.example", "-", "",
		"a.b/8", "-a.example", "a-.example", "*.*.example",
		"a.*.example",
	};
	struct egress	*e;
	char		*cause;
	size_t		 i;

	for (i = 0; i < NV(bad); i++) {
		const char *const allow[] = { bad[i], NULL };

		cause = NULL;
		e = egress_new(allow, 0, &cause);
		cr_expect_null(e, "\"%s\" was accepted", bad[i]);
		cr_expect_not_null(cause, "%s", bad[i]);
		egress_free(e);
		free(cause);
	}
}

Test(egress, label_lengths)
{
	char		 name[80];
	const char	*allow[] = { name, NULL };
	struct egress	*e;
	char		*cause = NULL;

	/* a label of 64 characters is one too many, 63 is fine */
	memset(name, 'a', 64);
	strcpy(name + 64, ".example");
	e = egress_new(allow, 0, &cause);
	cr_assert_null(e);
	free(cause);
	cause = NULL;
	memmove(name, name + 1, strlen(name));
	e = egress_new(allow, 0, &cause);
	cr_assert_not_null(e, "%s", cause ? cause : "?");
	egress_free(e);
}
