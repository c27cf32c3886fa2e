/* Helpers shared by the libFuzzer harnesses: splitting an input into
 * fields, a fake request with header and query tables, and an assert that
 * stays on under -DNDEBUG and tells what broke. Header only: every harness
 * is one translation unit plus the src/ files it tests. */
#ifndef EXPORTD_FUZZ_COMMON_H
#define EXPORTD_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FUZZ_ASSERT(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

#define FUZZ_MAX_PAIRS	16

/* A field cut from the input: bytes and a NUL-terminated copy. */
struct fuzz_field {
	const uint8_t	*p;
	size_t		 len;
};

/* Cut the next field ending at sep (or the end) from the input (data, size). */
static inline struct fuzz_field
fuzz_take(const uint8_t **data, size_t *size, uint8_t sep)
{
	struct fuzz_field	 f = { *data, *size };
	const uint8_t		*e = memchr(*data, sep, *size);

	if (e == NULL) {
		*data += *size;
		*size = 0;
		return f;
	}
	f.len = (size_t)(e - *data);
	*size -= f.len + 1;
	*data = e + 1;
	return f;
}

/* A NUL-terminated copy (the caller frees); a NUL inside ends the string,
 * as it would for a header value or a decoded query parameter. */
static inline char *
fuzz_cstr(const void *p, size_t len)
{
	char	*s = malloc(len + 1);

	if (s == NULL)
		abort();
	if (len != 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* Every '&' in s starts one of the n entities of ent. */
static inline bool
fuzz_entities_only(const char *s, size_t len, const char *const *ent,
    size_t n)
{
	size_t	i, k;

	for (i = 0; i < len; i++) {
		if (s[i] != '&')
			continue;
		for (k = 0; k < n; k++)
			if (len - i >= strlen(ent[k]) &&
			    memcmp(s + i, ent[k], strlen(ent[k])) == 0)
				break;
		if (k == n)
			return false;
	}
	return true;
}

/* Request headers (names case-insensitive) and query parameters (exact)
 * as libmicrohttpd hands them out: the first of a name wins. */
struct fuzz_req {
	size_t	 nh, nq;
	char	*hname[FUZZ_MAX_PAIRS], *hvalue[FUZZ_MAX_PAIRS];
	char	*qname[FUZZ_MAX_PAIRS], *qvalue[FUZZ_MAX_PAIRS];
};

static inline const char *
fuzz_req_header(void *arg, const char *name)
{
	struct fuzz_req	*r = arg;
	size_t		 i;

	for (i = 0; i < r->nh; i++)
		if (strcasecmp(r->hname[i], name) == 0)
			return r->hvalue[i];
	return NULL;
}

static inline const char *
fuzz_req_query(void *arg, const char *name)
{
	struct fuzz_req	*r = arg;
	size_t		 i;

	for (i = 0; i < r->nq; i++)
		if (strcmp(r->qname[i], name) == 0)
			return r->qvalue[i];
	return NULL;
}

static inline void
fuzz_req_add(struct fuzz_req *r, bool query, const char *name,
    size_t namelen, const char *value, size_t valuelen)
{
	if (query && r->nq < FUZZ_MAX_PAIRS) {
		r->qname[r->nq] = fuzz_cstr(name, namelen);
		r->qvalue[r->nq++] = fuzz_cstr(value, valuelen);
	} else if (!query && r->nh < FUZZ_MAX_PAIRS) {
		r->hname[r->nh] = fuzz_cstr(name, namelen);
		r->hvalue[r->nh++] = fuzz_cstr(value, valuelen);
	}
}

static inline void
fuzz_req_free(struct fuzz_req *r)
{
	size_t	i;

	for (i = 0; i < r->nh; i++) {
		free(r->hname[i]);
		free(r->hvalue[i]);
	}
	for (i = 0; i < r->nq; i++) {
		free(r->qname[i]);
		free(r->qvalue[i]);
	}
	r->nh = r->nq = 0;
}

#endif
