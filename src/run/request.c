/*
 * One request of a run as integrator.io builds it: the prepared URL and
 * body, the method, the connection's headers then the export's (a header
 * of the same name in the export wins), the media type's Content-Type,
 * and the connection's auth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "run/internal.h"
#include "util/json.h"
#include "util/xmalloc.h"

const char *
run_content_type(const char *media)
{
	static const struct {
		const char	*name;
		const char	*type;
	} types[] = {
		{ "json", "application/json" },
		{ "xml", "application/xml" },
		{ "urlencoded", "application/x-www-form-urlencoded" },
		{ "form-data", "multipart/form-data" },
		{ "plaintext", "text/plain" },
		{ "csv", "text/csv" },
	};
	size_t	i;

	for (i = 0; media != NULL && i < sizeof types / sizeof types[0]; i++)
		if (strcasecmp(media, types[i].name) == 0)
			return types[i].type;
	return "application/json";
}

/* requestMediaType (or the connection's mediaType) as a Content-Type. */
static const char *
media_type(const struct run *r)
{
	const char	*m = run_str(r->http, "requestMediaType");

	return run_content_type(m != NULL ? m : run_str(r->conn, "mediaType"));
}

void
run_req_add(struct run_req *q, const char *name, const char *value,
    unsigned flags)
{
	size_t	 i;

	/* a later header of the same name replaces the earlier one */
	for (i = 0; i < q->nh; i++)
		if (strcasecmp(q->hname[i], name) == 0)
			break;
	if (i == q->nh) {
		if (q->nh == RUN_MAX_HEADERS)
			return;
		q->nh++;
		q->hname[i] = xstrdup(name);
	} else
		free(q->hvalue[i]);
	q->hvalue[i] = xstrdup(value);
	q->h[i].name = q->hname[i];
	q->h[i].value = q->hvalue[i];
	q->h[i].flags = flags;
}

void
run_req_free(struct run_req *q)
{
	size_t	 i;

	for (i = 0; i < q->nh; i++) {
		free(q->hname[i]);
		free(q->hvalue[i]);
	}
	free(q->method);
	free(q->url);
	free(q->body);
	memset(q, 0, sizeof *q);
}

/* Add the rendered headers of a [{name, value}] list. */
static int
add_headers(struct run *r, struct run_req *q, const json_t *list,
    const char *field)
{
	const char	*name, *value;
	char		*v;
	json_t		*h;
	size_t		 i;

	json_array_foreach(list, i, h) {
		name = run_str(h, "name");
		value = run_str(h, "value");
		if (name == NULL || *name == '\0' || value == NULL)
			continue;
		if ((v = run_render(r, value, field)) == NULL)
			return -1;
		run_req_add(q, name, v, 0);
		free(v);
	}
	return 0;
}

int
run_req_build(struct run *r, struct fetch_client *fc, struct run_req *q)
{
	const char	*m = run_str(r->http, "method");

	q->method = xstrdup(m != NULL ? m : "GET");
	q->url = xstrdup(r->next_url != NULL ? r->next_url : "");
	if (r->next_body != NULL && strcmp(q->method, "GET") != 0 &&
	    strcmp(q->method, "DELETE") != 0)
		q->body = xstrdup(r->next_body);
	if (add_headers(r, q, json_object_get(r->conn, "headers"),
	    "connection.http.headers") == -1 ||
	    add_headers(r, q, json_object_get(r->http, "headers"),
	    "http.headers") == -1)
		return -1;
	if (q->body != NULL) {
		size_t	 i;

		for (i = 0; i < q->nh; i++)
			if (strcasecmp(q->hname[i], "Content-Type") == 0)
				break;
		if (i == q->nh)
			run_req_add(q, "Content-Type", media_type(r), 0);
	}
	return run_auth_apply(r, fc, q);
}

json_t *
run_req_stage(const struct run *r, const struct run_req *q)
{
	json_t	*h = json_object(), *s;
	char	*v;
	size_t	 i;

	for (i = 0; i < q->nh; i++) {
		if ((q->h[i].flags & FETCH_SECRET) != 0 ||
		    strcasecmp(q->hname[i], "Authorization") == 0 ||
		    strcasecmp(q->hname[i], "Cookie") == 0)
			v = xstrdup("******");
		else
			v = run_mask(r, q->hvalue[i]);
		json_object_set_new(h, q->hname[i], run_jtext(v));
		free(v);
	}
	v = run_mask(r, q->url);
	s = json_pack("{s:s, s:s, s:o}", "method", q->method, "url", v,
	    "headers", h);
	free(v);
	if (q->body != NULL) {
		v = run_mask(r, q->body);
		json_object_set_new(s, "body", run_jtext(v));
		free(v);
	}
	return s;
}
