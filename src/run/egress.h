/* The egress policy: which addresses an outbound request (a connection's
 * ping, an export's run) may connect to (docs/egress.md). The decision is
 * made on the address a socket is about to be opened to, after DNS, so a
 * name that resolves to something else on the next lookup (DNS
 * rebinding) cannot slip past it. */
#ifndef EXPORTD_RUN_EGRESS_H
#define EXPORTD_RUN_EGRESS_H

#include <stddef.h>
#include <sys/socket.h>

/* What an address is, from the registries of special-purpose addresses
 * (RFC 6890 and its updates). Every class but EGRESS_PUBLIC is refused
 * unless --egress-allow names it. */
enum egress_class {
	EGRESS_PUBLIC,
	EGRESS_LOOPBACK,	/* 127/8, ::1 */
	EGRESS_PRIVATE,		/* 10/8, 172.16/12, 192.168/16, fc00::/7 */
	EGRESS_LINK_LOCAL,	/* 169.254/16 (cloud metadata), fe80::/10 */
	EGRESS_SHARED,		/* 100.64/10, carrier-grade NAT */
	EGRESS_UNSPECIFIED,	/* 0/8, :: */
	EGRESS_MULTICAST,	/* 224/4, ff00::/8 */
	EGRESS_RESERVED,	/* documentation, benchmarking, 240/4 (with
				   the broadcast address), not IP at all */
};

struct egress;

/*
 * A policy from the --egress-allow entries (NULL-terminated; NULL for
 * none): CIDRs and addresses (10.0.0.0/8, 192.0.2.7, fd00::/8, ::1),
 * host names (api.internal) and wildcards (*.corp.example: any name
 * below it, not the name itself). allow_loopback adds 127.0.0.0/8 and
 * ::1 (developer mode). Returns NULL, with *cause a new string (the
 * caller frees it) naming the first entry that does not parse.
 */
struct egress	*egress_new(const char *const *allow, int allow_loopback,
		    char **cause);
void		 egress_free(struct egress *);

/* The class of an address; IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
 * (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
 * classed by the IPv4 address they carry. */
enum egress_class egress_classify(const struct sockaddr *, socklen_t);
/* "public", "loopback", "private", ... for messages and docs. */
const char	*egress_class_name(enum egress_class);

/*
 * May a socket be opened to addr for a request whose URL names host?
 * Yes when host matches a host-name entry (the operator trusts that
 * name's DNS), when addr lies in an allowed CIDR, or when addr is public.
 * host may be NULL (no name to match). Returns 1 or 0; *class gets the
 * address's class (if class is not NULL). The policy is never changed
 * after egress_new, so any number of threads may ask at once.
 */
int		 egress_check(const struct egress *, const char *host,
		    const struct sockaddr *addr, socklen_t addrlen,
		    enum egress_class *class);

/* Does the policy allow loopback (for the startup log)? */
int		 egress_allows_loopback(const struct egress *);

#endif
