/* Next-page links as sources give them: the Link header (RFC 8288) and
 * URLs relative to the one answered. Pure string work on what a remote
 * server sent, so it is unit-tested and fuzzed on its own. */
#ifndef EXPORTD_RUN_LINK_H
#define EXPORTD_RUN_LINK_H

/* The target of the first entry of a Link header value whose rel (one
 * of a space-separated list, quoted or not) is rel, or NULL; caller
 * frees. */
char	*link_next(const char *value, const char *rel);
/* ref made absolute against base (an absolute http(s) URL): ref itself
 * when absolute or when base is NULL; "//host/p" takes base's scheme,
 * "/p" its origin, "?q" its path, "p" its directory. Caller frees. */
char	*link_resolve(const char *base, const char *ref);

#endif
