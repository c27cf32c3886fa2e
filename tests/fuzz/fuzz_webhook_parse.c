/*
 * The webhook listener's parsing half, in the order listener.c runs it:
 * webhook_parse_body, webhook_parse_records, the records rendered for the
 * inbox by webhook_parse_render (the same texts as the records), then the
 * challenge or success response (templates over the attacker's document).
 *
 * webhook_parse (both steps at once) must agree with the two steps.
 *
 * Input: byte 0 picks a webhook block (pathToRecords, includeParentData,
 * requestMediaType, templates), byte 1 the Content-Type, byte 2 the method
 * and whether ?hub.challenge= / ?challenge= are present; the rest is the
 * body exactly as received.
 *
 * Checked: every status is one of 0/400/413/415 with a message on failure;
 * records are an array of at most WEBHOOK_MAX_RECORDS objects; splitting
 * into records leaves the document unchanged (parse.h: "treat both as
 * read-only"); rendered responses respect their caps and header values
 * carry no control characters.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "util/json.h"
#include "webhook/parse.h"
#include "webhook/response.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const blocks_src[] = {
	"{}",
	"{\"pathToRecords\":\"items\"}",
	"{\"pathToRecords\":\"data.items\",\"includeParentData\":true,"
	    "\"successStatusCode\":200,"
	    "\"successBody\":"
	    "\"{\\\"id\\\":\\\"{{data.id}}\\\",\\\"all\\\":{{{this}}}}\"}",
	"{\"pathToRecords\":\"a.0.b\",\"includeParentData\":true}",
	"{\"pathToRecords\":\"hub.mode\",\"includeParentData\":true,"
	    "\"challengeSuccessBody\":\"<c>{{hub.challenge}}</c>\","
	    "\"challengeSuccessMediaType\":\"xml\"}",
	"{\"requestMediaType\":\"xml\",\"pathToRecords\":\"root.row\","
	    "\"includeParentData\":true,\"successStatusCode\":201,"
	    "\"successMediaType\":\"xml\","
	    "\"successBody\":\"<r>{{root.@id}}{{root}}</r>\"}",
	"{\"requestMediaType\":\"csv\",\"pathToRecords\":\"x\","
	    "\"includeParentData\":true}",
	"{\"requestMediaType\":\"urlencoded\",\"pathToRecords\":\"payload\","
	    "\"includeParentData\":true,\"successStatusCode\":202,"
	    "\"successMediaType\":\"plaintext\","
	    "\"successBody\":\"{{&payload}} {{a[b]}}\","
	    "\"successResponseHeaders\":["
	    "{\"name\":\"X-Echo\",\"value\":\"{{{this}}}\"},"
	    "{\"name\":\"Content-Type\",\"value\":\"text/{{type}}\"},"
	    "{\"name\":\"Content-Length\",\"value\":\"1\"},"
	    "{\"name\":\"bad name\",\"value\":\"x\"}]}",
	"{\"requestMediaType\":\"plaintext\",\"pathToRecords\":\"data\"}",
	"{\"pathToRecords\":\"\",\"includeParentData\":true}",
	"{\"pathToRecords\":\"x.y.z\",\"includeParentData\":true,"
	    "\"challengeSuccessStatusCode\":204,"
	    "\"challengeResponseHeaders\":"
	    "[{\"name\":\"X-C\",\"value\":\"{{challenge}}\"}]}",
	"{\"requestMediaType\":\"JSON\",\"pathToRecords\":\"0\","
	    "\"successStatusCode\":299,\"successBody\":"
	    "\"{{0}}{{this.0}}{{#if x}}{{/if}}\\\\{{x}}{{!-- c --}}\"}",
};
#define NBLOCKS (sizeof blocks_src / sizeof blocks_src[0])

static const char *const content_types[] = {
	NULL, "application/json", "text/json; charset=utf-8",
	"application/vnd.api+json", "application/xml", "text/xml",
	"application/soap+xml; charset=utf-8", "text/csv", "application/csv",
	"application/x-www-form-urlencoded", "text/plain",
	"  text/plain ;x=y", "multipart/form-data", "", "+json",
	"\tAPPLICATION/XML",
};
#define NCT (sizeof content_types / sizeof content_types[0])

static const char *const methods[] = { "POST", "PUT", "GET", "HEAD" };

static json_t	*blocks[NBLOCKS];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	i;

	(void)argc;
	(void)argv;

	webhook_parse_init();
	for (i = 0; i < NBLOCKS; i++) {
		blocks[i] = json_loads(blocks_src[i], 0, NULL);
		FUZZ_ASSERT(json_is_object(blocks[i]));
	}
	return 0;
}

static void
check_response(const struct webhook_response *r)
{
	size_t	i;
	const char *p;

	FUZZ_ASSERT(r->status >= 200 && r->status <= 299);
	FUZZ_ASSERT(r->nheaders <= WEBHOOK_MAX_HEADERS);
	if (r->body != NULL) {
		FUZZ_ASSERT(r->bodylen <= WEBHOOK_MAX_BODY_OUT);
		FUZZ_ASSERT(r->body[r->bodylen] == '\0');
	}
	for (i = 0; i < r->nheaders; i++) {
		FUZZ_ASSERT(r->headers[i].name != NULL &&
		    r->headers[i].value != NULL);
		FUZZ_ASSERT(strlen(r->headers[i].value) <=
		    WEBHOOK_MAX_HEADER_OUT);
		for (p = r->headers[i].value; *p != '\0'; p++)
			FUZZ_ASSERT(*p == '\t' || ((unsigned char)*p >= 0x20 &&
			    *p != 0x7f));
	}
}

/* The records webhook_parse_records made, against which each text
 * webhook_parse_render hands over is checked. */
struct render_cmp {
	const json_t	*records;
	size_t		 n;
};

static void
render_check(void *arg, char *text, size_t len)
{
	struct render_cmp	*rr = arg;
	char			*want;
	size_t			 wlen;

	FUZZ_ASSERT(text != NULL && strlen(text) == len);
	want = json_render_new(json_array_get(rr->records, rr->n++), &wlen);
	FUZZ_ASSERT(want != NULL && wlen == len &&
	    memcmp(want, text, len) == 0);
	free(want);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct webhook_caps caps = {
		WEBHOOK_MAX_RECORDS, WEBHOOK_MAX_STORED,
	};
	struct render_cmp	 rr;
	struct webhook_request	 req;
	struct webhook_response	 resp;
	struct fuzz_req		 fr;
	const json_t		*w;
	json_t			*doc = NULL, *records = NULL, *again, *r;
	char			 why[WEBHOOK_WHYLEN], *before = NULL, *after;
	char			*body, *s, *s2;
	size_t			 i, n, n2;
	int			 rc, ct;

	if (size < 3)
		return 0;
	w = blocks[data[0] % NBLOCKS];
	memset(&fr, 0, sizeof fr);
	ct = data[1] % NCT;
	if (content_types[ct] != NULL)
		fuzz_req_add(&fr, false, "Content-Type", 12,
		    content_types[ct], strlen(content_types[ct]));
	if (data[2] & 0x10)
		fuzz_req_add(&fr, true, "hub.challenge", 13, "ch<&>\"'", 7);
	if (data[2] & 0x20)
		fuzz_req_add(&fr, true, "challenge", 9, "c\r\nX: y", 7);
	if (data[2] & 0x40)
		fuzz_req_add(&fr, true, "a[b]", 4, "q\x01v", 3);
	memset(&req, 0, sizeof req);
	req.method = methods[data[2] % 4];
	req.url = "https://example.test/v1/exports/0123/data?x=1";
	/* the server's body buffer is always NUL-terminated */
	body = fuzz_cstr(data + 3, size - 3);
	req.body = body;
	req.bodylen = size - 3;
	req.now_ms = 1700000000000;
	req.header = fuzz_req_header;
	req.query = fuzz_req_query;
	req.arg = &fr;

	rc = webhook_parse_body(w, &req, &doc, why, sizeof why);
	FUZZ_ASSERT(memchr(why, '\0', sizeof why) != NULL);
	if (rc != WEBHOOK_PARSE_OK) {
		FUZZ_ASSERT(rc == WEBHOOK_PARSE_MALFORMED ||
		    rc == WEBHOOK_PARSE_TOO_LARGE ||
		    rc == WEBHOOK_PARSE_UNSUPPORTED);
		FUZZ_ASSERT(doc == NULL && why[0] != '\0');
		goto out;
	}
	if (doc != NULL)
		before = json_render_new(doc, NULL);

	rc = webhook_parse_records(w, doc, &records, why, sizeof why);
	FUZZ_ASSERT(memchr(why, '\0', sizeof why) != NULL);
	if (doc != NULL) {
		after = json_render_new(doc, NULL);
		FUZZ_ASSERT(before != NULL && after != NULL);
		if (strcmp(before, after) != 0)
			fprintf(stderr, "document changed:\n%s\n%s\n", before,
			    after);
		FUZZ_ASSERT(strcmp(before, after) == 0);
		free(after);
	}
	if (rc != WEBHOOK_PARSE_OK) {
		FUZZ_ASSERT(rc == WEBHOOK_PARSE_MALFORMED ||
		    rc == WEBHOOK_PARSE_TOO_LARGE);
		FUZZ_ASSERT(records == NULL && why[0] != '\0');
		goto out;
	}
	FUZZ_ASSERT(json_is_array(records));
	FUZZ_ASSERT(json_array_size(records) <= WEBHOOK_MAX_RECORDS);
	/* what listener.c stores for each record: webhook_parse_render
	 * within the default caps hands over the same texts, in order */
	memset(&rr, 0, sizeof rr);
	rr.records = records;
	FUZZ_ASSERT(webhook_parse_render(w, doc, &caps, render_check, &rr,
	    why, sizeof why) == WEBHOOK_PARSE_OK);
	FUZZ_ASSERT(rr.n == json_array_size(records));
	json_array_foreach(records, i, r)
		FUZZ_ASSERT(json_is_object(r));

	/* webhook_parse does both steps: same outcome, same records */
	rc = webhook_parse(w, &req, NULL, &again, why, sizeof why);
	FUZZ_ASSERT(rc == WEBHOOK_PARSE_OK);
	/* rendered, not json_equal: jansson compares keys as C strings and
	 * urlencoded keys may hold NUL ("%00") */
	s = json_render_new(records, &n);
	s2 = json_render_new(again, &n2);
	FUZZ_ASSERT(s != NULL && s2 != NULL && n == n2 &&
	    memcmp(s, s2, n) == 0);
	free(s);
	free(s2);
	json_decref(again);

	if (webhook_response_challenge(w, &req, doc, &resp)) {
		check_response(&resp);
		webhook_response_free(&resp);
	} else if (strcmp(req.method, "GET") != 0) {
		webhook_response_success(w, &req, doc, &resp);
		check_response(&resp);
		webhook_response_free(&resp);
	}
out:
	free(before);
	json_decref(records);
	json_decref(doc);
	free(body);
	fuzz_req_free(&fr);
	return 0;
}
