/* Webhook bodies to records. Every format becomes a jansson document first
 * (so that pathToRecords, token paths and templates work the same way on
 * all of them), then the document is split into records. */

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/xmalloc.h"
#include "webhook/parse.h"

/* No network, no DTD loading, no entity substitution (NOENT is off), CDATA
 * merged into text, nothing printed to stderr. */
#define PARSE_XML_OPTIONS \
	(XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR | \
	XML_PARSE_NOWARNING)

struct parse_csv {
	const char	*p;
	size_t		 len;
	size_t		 pos;
	size_t		 line;		/* current line, from 1 */
	size_t		 row_line;	/* line where the last row began */
};

/* Estimated memory of the document being built (CSV, XML), against
 * WEBHOOK_MAX_DOC, and XML nodes against WEBHOOK_MAX_XML_NODES. */
struct parse_budget {
	size_t		 cost;
	size_t		 nodes;
};

static bool	parse_blank(const char *, size_t);
static int	parse_spend(struct parse_budget *, size_t, size_t, char *,
		    size_t);
static size_t	parse_xml_estimate(const char *, size_t, size_t *);
static size_t	parse_json_estimate(const char *, size_t);
static int	parse_add(json_t *, const char *, size_t, json_t *);
static int	parse_json(const char *, size_t, json_t **, char *, size_t);
static int	parse_xml(const char *, size_t, json_t **, char *, size_t);
static char	*parse_xml_name(const xmlNs *, const xmlChar *, const char *);
static int	parse_xml_attrs(const xmlNode *, json_t *,
		    struct parse_budget *, char *, size_t);
static int	parse_xml_element(const xmlNode *, size_t,
		    struct parse_budget *, json_t **, char *, size_t);
static int	parse_csv(const char *, size_t, json_t **, char *, size_t);
static int	parse_csv_field(struct parse_csv *, struct buf *, char *,
		    size_t);
static int	parse_csv_row(struct parse_csv *, json_t *, bool *, char *,
		    size_t);
static int	parse_csv_object(json_t *, json_t *, json_t **, size_t, char *,
		    size_t);
static int	parse_form_decode(const char *, size_t, struct buf *);
static int	parse_form(const char *, size_t, json_t **, char *, size_t);
static int	parse_text(const char *, size_t, json_t **, char *, size_t);
static json_t	*parse_parent(const json_t *, const char *, const json_t *);
static json_t	*parse_extra(const json_t *, const json_t *, size_t,
		    const struct webhook_caps *, char *, size_t, int *);
static json_t	*parse_record(json_t *, const json_t *);
static int	 parse_source(const json_t *, const json_t *, json_t **,
		    json_t **, size_t *, char *, size_t);
static int	 parse_records_cap(const struct webhook_caps *, size_t,
		    char *, size_t);
static int	 parse_walk(const json_t *, const json_t *,
		    const struct webhook_caps *, size_t (*)(void *, json_t *),
		    void *, char *, size_t);

void
webhook_parse_init(void)
{
	xmlInitParser();
}

enum webhook_media
webhook_parse_media(const json_t *webhook, const char *ct)
{
	static const struct {
		const char		*name;
		enum webhook_media	 media;
	} named[] = {
		{ "json", WEBHOOK_MEDIA_JSON },
		{ "xml", WEBHOOK_MEDIA_XML },
		{ "csv", WEBHOOK_MEDIA_CSV },
		{ "urlencoded", WEBHOOK_MEDIA_URLENCODED },
		{ "plaintext", WEBHOOK_MEDIA_PLAINTEXT },
	};
	const char	*rmt, *end;
	size_t		 i, n;

	if ((rmt = webhook_string(webhook, "requestMediaType")) != NULL) {
		for (i = 0; i < sizeof named / sizeof named[0]; i++)
			if (strcasecmp(rmt, named[i].name) == 0)
				return named[i].media;
	}
	if (ct == NULL)
		return WEBHOOK_MEDIA_JSON;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	for (end = ct; *end != '\0' && *end != ';' && *end != ' ' &&
	    *end != '\t'; end++)
		;
	if ((n = (size_t)(end - ct)) == 0)
		return WEBHOOK_MEDIA_JSON;
#define IS(s)	(n == strlen(s) && strncasecmp(ct, s, n) == 0)
#define SUFFIX(s) (n > strlen(s) && strncasecmp(end - strlen(s), s, \
	strlen(s)) == 0)
	if (IS("application/json") || IS("text/json") || SUFFIX("+json"))
		return WEBHOOK_MEDIA_JSON;
	if (IS("application/xml") || IS("text/xml") || SUFFIX("+xml"))
		return WEBHOOK_MEDIA_XML;
	if (IS("application/x-www-form-urlencoded"))
		return WEBHOOK_MEDIA_URLENCODED;
	if (IS("text/csv") || IS("application/csv"))
		return WEBHOOK_MEDIA_CSV;
	if (IS("text/plain"))
		return WEBHOOK_MEDIA_PLAINTEXT;
#undef IS
#undef SUFFIX
	return WEBHOOK_MEDIA_UNSUPPORTED;
}

/* True if the bytes are only spaces, tabs and line ends (or none). */
static bool
parse_blank(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* Spend n values holding bytes of text (keys included) from the budget;
 * 413 with why set once the estimate passes WEBHOOK_MAX_DOC. */
static int
parse_spend(struct parse_budget *b, size_t n, size_t bytes, char *why,
    size_t whysz)
{
	b->cost += n * WEBHOOK_VALUE_COST + bytes;
	if (b->cost <= WEBHOOK_MAX_DOC)
		return WEBHOOK_PARSE_OK;
	snprintf(why, whysz, "the document would take more than %d bytes of "
	    "memory to read", WEBHOOK_MAX_DOC);
	return WEBHOOK_PARSE_TOO_LARGE;
}

/* What jansson's tree of a JSON body will take, from its bytes alone:
 * outside strings, each '{' and '[' opens a container, each ',' one more
 * value and each ':' a member; plus the text itself. */
static size_t
parse_json_estimate(const char *p, size_t len)
{
	size_t	i, objects = 0, arrays = 0, values = 1, members = 0;
	bool	str = false;

	for (i = 0; i < len; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = false;
			continue;
		}
		switch (p[i]) {
		case '"':
			str = true;
			break;
		case '{':
			objects++;
			break;
		case '[':
			arrays++;
			break;
		case ',':
			values++;
			break;
		case ':':
			members++;
			break;
		}
	}
	return len + (values + members + objects * 3 + arrays * 2) *
	    WEBHOOK_VALUE_COST;
}

/* What libxml2's tree of an XML body will take, from its bytes alone:
 * each start tag makes an element and a text node, each '=' may be an
 * attribute with its text node (an overestimate in text, never under).
 * *most gets the most attributes one start tag has: libxml2 compares
 * each attribute of an element with every other one. */
static size_t
parse_xml_estimate(const char *p, size_t len, size_t *most)
{
	size_t	i, tags = 0, eqs = 0, attrs = 0;
	char	quote = '\0';
	bool	tag = false;

	*most = 0;
	for (i = 0; i < len; i++) {
		if (quote != '\0') {
			if (p[i] == quote)
				quote = '\0';
			continue;
		}
		switch (p[i]) {
		case '=':
			eqs++;
			if (tag && ++attrs > *most)
				*most = attrs;
			break;
		case '"':
		case '\'':
			if (tag)
				quote = p[i];
			break;
		case '>':
			tag = false;
			break;
		case '<':
			if (i + 1 < len && p[i + 1] != '/' && p[i + 1] != '!' &&
			    p[i + 1] != '?') {
				tags++;
				tag = true;
				attrs = 0;
			}
			break;
		}
	}
	return tags * WEBHOOK_XML_ELEMENT_COST + eqs * WEBHOOK_XML_ATTR_COST;
}

/* Add v (stolen) under key; a repeated key turns the value into an array
 * in arrival order. Values added here are never arrays themselves. */
static int
parse_add(json_t *obj, const char *key, size_t keylen, json_t *v)
{
	json_t	*old, *arr;

	if (v == NULL)
		return -1;
	if ((old = json_object_getn(obj, key, keylen)) == NULL)
		return json_object_setn_new(obj, key, keylen, v);
	if (json_is_array(old))
		return json_array_append_new(old, v);
	arr = json_array();
	json_array_append(arr, old);
	json_array_append_new(arr, v);
	return json_object_setn_new(obj, key, keylen, arr);
}

static int
parse_json(const char *p, size_t len, json_t **doc, char *why, size_t whysz)
{
	struct json_parse_error	err;
	struct parse_budget	b = { 0, 0 };
	int			rc;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		len -= 3;
	}
	if ((rc = parse_spend(&b, 0, parse_json_estimate(p, len), why,
	    whysz)) != 0)
		return rc;
	if ((*doc = json_parse(p, len, WEBHOOK_MAX_DEPTH, &err)) == NULL) {
		snprintf(why, whysz, "invalid JSON at line %d column %d: %s",
		    err.line, err.column, err.text);
		return WEBHOOK_PARSE_MALFORMED;
	}
	return WEBHOOK_PARSE_OK;
}

/* "prefix:name" or "name" (new string), with lead (e.g. "@") in front. */
static char *
parse_xml_name(const xmlNs *ns, const xmlChar *name, const char *lead)
{
	if (ns != NULL && ns->prefix != NULL)
		return xasprintf("%s%s:%s", lead, (const char *)ns->prefix,
		    (const char *)name);
	return xasprintf("%s%s", lead, (const char *)name);
}

/* Attributes of n as "@name" string members of obj. */
static int
parse_xml_attrs(const xmlNode *n, json_t *obj, struct parse_budget *b,
    char *why, size_t whysz)
{
	const xmlAttr	*a;
	const xmlNode	*t;
	struct buf	 val;
	char		*key = NULL;
	int		 rc = WEBHOOK_PARSE_MALFORMED;

	buf_init(&val, 0);
	for (a = n->properties; a != NULL; a = a->next) {
		if (++b->nodes > WEBHOOK_MAX_XML_NODES) {
			snprintf(why, whysz, "XML has too many nodes");
			rc = WEBHOOK_PARSE_TOO_LARGE;
			goto out;
		}
		buf_reset(&val);
		for (t = a->children; t != NULL; t = t->next)
			if (t->type == XML_TEXT_NODE && t->content != NULL)
				buf_adds(&val, (const char *)t->content);
		key = parse_xml_name(a->ns, a->name, "@");
		/* the member and its string */
		if ((rc = parse_spend(b, 2, strlen(key) + val.len, why,
		    whysz)) != 0)
			goto out;
		rc = WEBHOOK_PARSE_MALFORMED;
		if (json_object_set_new(obj, key,
		    json_stringn(val.data, val.len)) != 0) {
			snprintf(why, whysz, "XML attribute is not UTF-8");
			goto out;
		}
		free(key);
		key = NULL;
	}
	rc = WEBHOOK_PARSE_OK;
out:
	free(key);
	buf_free(&val);
	return rc;
}

/*
 * One element to JSON: a leaf without attributes is its text; otherwise an
 * object of "@attr" strings, child elements by name (an array when a name
 * repeats), and "#text" when there is text other than whitespace. Entity
 * references are never expanded: documents with a DTD are refused first.
 */
static int
parse_xml_element(const xmlNode *n, size_t depth, struct parse_budget *b,
    json_t **out, char *why, size_t whysz)
{
	const xmlNode	*c;
	json_t		*obj = NULL, *child = NULL;
	struct buf	 text;
	char		*key = NULL;
	int		 rc = WEBHOOK_PARSE_MALFORMED;

	*out = NULL;
	buf_init(&text, 0);
	if (depth > WEBHOOK_MAX_DEPTH) {
		snprintf(why, whysz, "XML nesting too deep");
		goto out;
	}
	if (++b->nodes > WEBHOOK_MAX_XML_NODES) {
		snprintf(why, whysz, "XML has too many nodes");
		rc = WEBHOOK_PARSE_TOO_LARGE;
		goto out;
	}
	if (n->properties != NULL) {
		obj = json_object();
		if ((rc = parse_xml_attrs(n, obj, b, why, whysz)) != 0)
			goto out;
		rc = WEBHOOK_PARSE_MALFORMED;
	}
	for (c = n->children; c != NULL; c = c->next) {
		switch (c->type) {
		case XML_ELEMENT_NODE:
			if (obj == NULL)
				obj = json_object();
			if ((rc = parse_xml_element(c, depth + 1, b, &child,
			    why, whysz)) != 0)
				goto out;
			key = parse_xml_name(c->ns, c->name, "");
			/* the member that holds the child */
			if ((rc = parse_spend(b, 1, strlen(key), why,
			    whysz)) != 0) {
				json_decref(child);
				goto out;
			}
			rc = WEBHOOK_PARSE_MALFORMED;
			parse_add(obj, key, strlen(key), child);
			free(key);
			key = NULL;
			break;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (c->content != NULL)
				buf_adds(&text, (const char *)c->content);
			break;
		default:	/* comments, processing instructions */
			break;
		}
	}
	/* the element's own value */
	if ((rc = parse_spend(b, 1, text.len, why, whysz)) != 0)
		goto out;
	rc = WEBHOOK_PARSE_MALFORMED;
	if (obj == NULL)
		*out = json_stringn(text.data, text.len);
	else {
		if (!parse_blank(text.data, text.len) &&
		    json_object_set_new(obj, "#text",
		    json_stringn(text.data, text.len)) != 0)
			goto bad;
		*out = obj;
		obj = NULL;
	}
	if (*out == NULL)
		goto bad;
	rc = WEBHOOK_PARSE_OK;
	goto out;
bad:
	snprintf(why, whysz, "XML text is not UTF-8");
out:
	free(key);
	buf_free(&text);
	json_decref(obj);
	return rc;
}

/* XML to {"<root name>": <root value>}. */
static int
parse_xml(const char *p, size_t len, json_t **doc, char *why, size_t whysz)
{
	xmlParserCtxtPtr	 ctxt = NULL;
	xmlDocPtr		 xd = NULL;
	xmlNodePtr		 root;
	const xmlError		*e;
	json_t			*v = NULL;
	char			*key = NULL;
	struct parse_budget	 b = { 0, 0 };
	size_t			 n;
	int			 rc = WEBHOOK_PARSE_MALFORMED;

	if (len > INT_MAX) {
		snprintf(why, whysz, "XML body too large");
		rc = WEBHOOK_PARSE_TOO_LARGE;
		goto out;
	}
	/* A DTD is the only way to entities (billion laughs, XXE): refuse it
	 * before libxml2 reads it, and check the tree again after. */
	if (memmem(p, len, "<!DOCTYPE", 9) != NULL) {
		snprintf(why, whysz, "XML with a DTD is not accepted");
		goto out;
	}
	/* libxml2 builds its whole tree first: its size is spent before
	 * it is built, and the tree stays while the document is made */
	if ((rc = parse_spend(&b, 0, parse_xml_estimate(p, len, &n), why,
	    whysz)) != 0)
		goto out;
	if (n > WEBHOOK_MAX_XML_ATTRS) {
		snprintf(why, whysz, "an XML element has more than %d "
		    "attributes", WEBHOOK_MAX_XML_ATTRS);
		rc = WEBHOOK_PARSE_TOO_LARGE;
		goto out;
	}
	rc = WEBHOOK_PARSE_MALFORMED;
	if ((ctxt = xmlNewParserCtxt()) == NULL) {
		snprintf(why, whysz, "XML parser unavailable");
		goto out;
	}
	xd = xmlCtxtReadMemory(ctxt, p, (int)len, NULL, NULL,
	    PARSE_XML_OPTIONS);
	if (xd == NULL) {
		e = xmlCtxtGetLastError(ctxt);
		if (e != NULL && e->message != NULL) {
			n = strcspn(e->message, "\r\n");
			snprintf(why, whysz, "invalid XML at line %d: %.*s",
			    e->line, (int)(n > 100 ? 100 : n), e->message);
		} else
			snprintf(why, whysz, "invalid XML");
		goto out;
	}
	if (xd->intSubset != NULL || xd->extSubset != NULL) {
		snprintf(why, whysz, "XML with a DTD is not accepted");
		goto out;
	}
	if ((root = xmlDocGetRootElement(xd)) == NULL) {
		snprintf(why, whysz, "XML has no root element");
		goto out;
	}
	if ((rc = parse_xml_element(root, 1, &b, &v, why, whysz)) != 0)
		goto out;
	key = parse_xml_name(root->ns, root->name, "");
	*doc = json_object();
	json_object_set_new(*doc, key, v);
	v = NULL;
	rc = WEBHOOK_PARSE_OK;
out:
	free(key);
	json_decref(v);
	if (xd != NULL)
		xmlFreeDoc(xd);
	if (ctxt != NULL)
		xmlFreeParserCtxt(ctxt);
	return rc;
}

/* One CSV field (RFC 4180 quoting) into f; leaves pos on its terminator. */
static int
parse_csv_field(struct parse_csv *c, struct buf *f, char *why, size_t whysz)
{
	size_t	start;
	char	ch;

	buf_reset(f);
	if (c->pos < c->len && c->p[c->pos] == '"') {
		c->pos++;
		for (;;) {
			if (c->pos >= c->len) {
				snprintf(why, whysz, "CSV line %zu: "
				    "unterminated quoted field", c->line);
				return WEBHOOK_PARSE_MALFORMED;
			}
			ch = c->p[c->pos++];
			if (ch == '"') {
				if (c->pos < c->len && c->p[c->pos] == '"') {
					c->pos++;
					buf_addc(f, '"');
					continue;
				}
				break;
			}
			if (ch == '\n')
				c->line++;
			buf_addc(f, ch);
		}
		if (c->pos < c->len && c->p[c->pos] != ',' &&
		    c->p[c->pos] != '\r' && c->p[c->pos] != '\n') {
			snprintf(why, whysz, "CSV line %zu: text after a "
			    "closing quote", c->line);
			return WEBHOOK_PARSE_MALFORMED;
		}
		return WEBHOOK_PARSE_OK;
	}
	start = c->pos;
	while (c->pos < c->len && c->p[c->pos] != ',' && c->p[c->pos] != '\r' &&
	    c->p[c->pos] != '\n')
		c->pos++;
	buf_add(f, c->p + start, c->pos - start);
	return WEBHOOK_PARSE_OK;
}

/* The fields of the next non-blank line into row; *got false at the end. */
static int
parse_csv_row(struct parse_csv *c, json_t *row, bool *got, char *why,
    size_t whysz)
{
	struct buf	 f;
	json_t		*s;
	int		 rc;

	*got = false;
	/* blank lines are skipped */
	while (c->pos < c->len && (c->p[c->pos] == '\r' ||
	    c->p[c->pos] == '\n')) {
		if (c->p[c->pos] == '\r' && c->pos + 1 < c->len &&
		    c->p[c->pos + 1] == '\n')
			c->pos++;
		c->pos++;
		c->line++;
	}
	if (c->pos >= c->len)
		return WEBHOOK_PARSE_OK;
	*got = true;
	c->row_line = c->line;
	buf_init(&f, 0);
	for (;;) {
		if ((rc = parse_csv_field(c, &f, why, whysz)) != 0)
			goto out;
		if ((s = json_stringn(f.data, f.len)) == NULL) {
			snprintf(why, whysz, "CSV line %zu is not UTF-8",
			    c->line);
			rc = WEBHOOK_PARSE_MALFORMED;
			goto out;
		}
		json_array_append_new(row, s);
		if (json_array_size(row) > WEBHOOK_MAX_FIELDS) {
			snprintf(why, whysz, "CSV has too many columns");
			rc = WEBHOOK_PARSE_TOO_LARGE;
			goto out;
		}
		if (c->pos < c->len && c->p[c->pos] == ',') {
			c->pos++;
			continue;
		}
		if (c->pos < c->len && c->p[c->pos] == '\r')
			c->pos++;
		if (c->pos < c->len && c->p[c->pos] == '\n')
			c->pos++;
		c->line++;
		break;
	}
	rc = WEBHOOK_PARSE_OK;
out:
	buf_free(&f);
	return rc;
}

/* Row values keyed by the header's names into a new object. */
static int
parse_csv_object(json_t *header, json_t *row, json_t **out, size_t line,
    char *why, size_t whysz)
{
	size_t	i;

	*out = NULL;
	if (json_array_size(row) != json_array_size(header)) {
		snprintf(why, whysz, "CSV line %zu has %zu fields, the header "
		    "has %zu", line, json_array_size(row),
		    json_array_size(header));
		return WEBHOOK_PARSE_MALFORMED;
	}
	*out = json_object();
	for (i = 0; i < json_array_size(row); i++)
		json_object_set(*out, json_string_value(json_array_get(header,
		    i)), json_array_get(row, i));
	return WEBHOOK_PARSE_OK;
}

/* CSV: the first line names the columns; each later line is an object. */
static int
parse_csv(const char *p, size_t len, json_t **doc, char *why, size_t whysz)
{
	struct parse_csv	 c;
	struct parse_budget	 b = { 0, 0 };
	json_t			*header = NULL, *row = NULL, *rows, *obj;
	const char		*k;
	size_t			 i, names = 0, cells;
	bool			 got;
	int			 rc;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		len -= 3;
	}
	c.p = p;
	c.len = len;
	c.pos = 0;
	c.line = 1;
	c.row_line = 1;
	rows = json_array();
	for (;;) {
		row = json_array();
		if ((rc = parse_csv_row(&c, row, &got, why, whysz)) != 0)
			goto out;
		if (!got)
			break;
		if (header == NULL) {
			obj = json_object();
			for (i = 0; i < json_array_size(row); i++) {
				k = json_string_value(json_array_get(row, i));
				/* column names with NUL cannot be keys */
				if (strlen(k) != json_string_length(
				    json_array_get(row, i)) ||
				    json_object_get(obj, k) != NULL) {
					snprintf(why, whysz, "CSV header has a "
					    "duplicate or invalid column name");
					json_decref(obj);
					rc = WEBHOOK_PARSE_MALFORMED;
					goto out;
				}
				json_object_set_new(obj, k, json_true());
				names += strlen(k);
			}
			json_decref(obj);
			header = row;
			row = NULL;
			continue;
		}
		/* each row is an object with a copy of every column name:
		 * a member and a string per cell, and the object (three) */
		for (i = 0, cells = 0; i < json_array_size(row); i++)
			cells += json_string_length(json_array_get(row, i));
		if ((rc = parse_spend(&b, 2 * json_array_size(row) + 3,
		    names + cells, why, whysz)) != 0)
			goto out;
		if ((rc = parse_csv_object(header, row, &obj, c.row_line, why,
		    whysz)) != 0)
			goto out;
		json_array_append_new(rows, obj);
		json_decref(row);
		row = NULL;
	}
	*doc = rows;
	rows = NULL;
	rc = WEBHOOK_PARSE_OK;
out:
	json_decref(row);
	json_decref(header);
	json_decref(rows);
	return rc;
}

/* Decode application/x-www-form-urlencoded text: '+' and %XX. */
static int
parse_form_decode(const char *s, size_t len, struct buf *out)
{
	size_t	i;
	int	hi, lo;

	buf_reset(out);
	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			buf_addc(out, ' ');
		else if (s[i] != '%')
			buf_addc(out, s[i]);
		else {
			if (len - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				return -1;
			hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' :
			    (tolower((unsigned char)s[i + 1]) - 'a' + 10);
			lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0' :
			    (tolower((unsigned char)s[i + 2]) - 'a' + 10);
			buf_addc(out, (char)(hi << 4 | lo));
			i += 2;
		}
	}
	return 0;
}

/* urlencoded: one object; keys kept literally, a repeated key an array. */
static int
parse_form(const char *p, size_t len, json_t **doc, char *why, size_t whysz)
{
	struct buf	 k, v;
	const char	*pair, *end, *eq;
	json_t		*obj;
	size_t		 n = 0, plen;
	int		 rc = WEBHOOK_PARSE_MALFORMED;

	buf_init(&k, 0);
	buf_init(&v, 0);
	obj = json_object();
	for (pair = p; pair < p + len; pair = end + 1) {
		if ((end = memchr(pair, '&', (size_t)(p + len - pair))) == NULL)
			end = p + len;
		if ((plen = (size_t)(end - pair)) == 0)
			continue;
		if (++n > WEBHOOK_MAX_FIELDS) {
			snprintf(why, whysz, "form has too many fields");
			rc = WEBHOOK_PARSE_TOO_LARGE;
			goto out;
		}
		if ((eq = memchr(pair, '=', plen)) == NULL)
			eq = end;
		if (parse_form_decode(pair, (size_t)(eq - pair), &k) != 0 ||
		    parse_form_decode(eq == end ? eq : eq + 1,
		    eq == end ? 0 : (size_t)(end - eq - 1), &v) != 0) {
			snprintf(why, whysz, "form field %zu: bad %% escape",
			    n);
			goto out;
		}
		if (parse_add(obj, k.data, k.len, json_stringn(v.data,
		    v.len)) != 0) {
			snprintf(why, whysz, "form field %zu is not UTF-8", n);
			goto out;
		}
	}
	*doc = obj;
	obj = NULL;
	rc = WEBHOOK_PARSE_OK;
out:
	json_decref(obj);
	buf_free(&k);
	buf_free(&v);
	return rc;
}

/* Plain text: {"data": "<the body as is>"}. */
static int
parse_text(const char *p, size_t len, json_t **doc, char *why, size_t whysz)
{
	json_t	*s;

	if ((s = json_stringn(p, len)) == NULL) {
		snprintf(why, whysz, "text body is not UTF-8");
		return WEBHOOK_PARSE_MALFORMED;
	}
	*doc = json_object();
	json_object_set_new(*doc, "data", s);
	return WEBHOOK_PARSE_OK;
}

int
webhook_parse_body(const json_t *webhook, const struct webhook_request *req,
    json_t **doc, char *why, size_t whysz)
{
	const char	*p = req->body;
	size_t		 len = req->bodylen;

	*doc = NULL;
	if (whysz > 0)
		why[0] = '\0';
	if (p == NULL || parse_blank(p, len))
		return WEBHOOK_PARSE_OK;
	switch (webhook_parse_media(webhook,
	    webhook_header(req, "Content-Type"))) {
	case WEBHOOK_MEDIA_JSON:
		return parse_json(p, len, doc, why, whysz);
	case WEBHOOK_MEDIA_XML:
		return parse_xml(p, len, doc, why, whysz);
	case WEBHOOK_MEDIA_CSV:
		return parse_csv(p, len, doc, why, whysz);
	case WEBHOOK_MEDIA_URLENCODED:
		return parse_form(p, len, doc, why, whysz);
	case WEBHOOK_MEDIA_PLAINTEXT:
		return parse_text(p, len, doc, why, whysz);
	default:
		snprintf(why, whysz, "Content-Type is not parsed; use JSON, "
		    "XML, CSV, urlencoded or plain text");
		return WEBHOOK_PARSE_UNSUPPORTED;
	}
}

/* The object that holds src as a member, reached from doc by path minus
 * its last segment; NULL if there is none. */
static json_t *
parse_parent(const json_t *doc, const char *path, const json_t *src)
{
	const char	*dot, *key;
	json_t		*parent, *v;
	char		*head;

	if ((dot = strrchr(path, '.')) == NULL)
		parent = (json_t *)doc;
	else {
		head = xstrndup(path, (size_t)(dot - path));
		parent = webhook_path_get(doc, head);
		free(head);
	}
	if (!json_is_object(parent))
		parent = NULL;
	json_object_foreach(parent, key, v)
		if (v == src)
			return parent;
	/* pathToRecords named a key with dots in it, in doc itself */
	json_object_foreach((json_t *)doc, key, v)
		if (v == src)
			return (json_t *)doc;
	return NULL;
}

/* The parent's members other than src, as a new object; NULL with *rc set
 * if copying them into n records would pass caps->bytes. */
static json_t *
parse_extra(const json_t *parent, const json_t *src, size_t n,
    const struct webhook_caps *caps, char *why, size_t whysz, int *rc)
{
	const char	*key;
	json_t		*extra, *v;
	size_t		 keylen, len = 0;
	char		*s;

	extra = json_object();
	json_object_keylen_foreach((json_t *)parent, key, keylen, v)
		if (v != src)
			json_object_setn(extra, key, keylen, v);
	if ((s = json_render_new(extra, &len)) != NULL)
		free(s);
	if (n != 0 && len > caps->bytes / n) {
		snprintf(why, whysz, "includeParentData would copy more than "
		    "%zu bytes", caps->bytes);
		*rc = WEBHOOK_PARSE_TOO_LARGE;
		json_decref(extra);
		return NULL;
	}
	return extra;
}

/* One record (new reference): an object as is, anything else wrapped as
 * {"data": v}; extra members are added where the record has no such key,
 * on a shallow copy so that doc stays unchanged. */
static json_t *
parse_record(json_t *v, const json_t *extra)
{
	const char	*key;
	json_t		*r, *x;
	size_t		 keylen;

	if (!json_is_object(v)) {
		r = json_object();
		json_object_set(r, "data", v);
	} else if (extra != NULL && json_object_size(extra) != 0)
		r = json_copy(v);
	else
		return json_incref(v);
	json_object_keylen_foreach((json_t *)extra, key, keylen, x)
		if (json_object_getn(r, key, keylen) == NULL)
			json_object_setn(r, key, keylen, x);
	return r;
}

/*
 * Walk the records of doc in order: each record (a new reference, freed
 * after the call) goes to each(), which returns the bytes it costs. Stops
 * with 413 as soon as caps is passed: more than caps->records records,
 * or more than caps->bytes in all (checked once for includeParentData's
 * copies before any record is made, then after every record).
 */
static int
parse_walk(const json_t *webhook, const json_t *doc,
    const struct webhook_caps *caps, size_t (*each)(void *, json_t *),
    void *arg, char *why, size_t whysz)
{
	json_t		*src, *extra = NULL, *parent, *v, *r;
	size_t		 i, n, total = 0;
	int		 rc = WEBHOOK_PARSE_MALFORMED;

	if ((rc = parse_source(webhook, doc, &src, &parent, &n, why,
	    whysz)) != 0)
		return rc;
	if ((rc = parse_records_cap(caps, n, why, whysz)) != 0)
		return rc;
	if (parent != NULL && (extra = parse_extra(parent, src, n, caps, why,
	    whysz, &rc)) == NULL)
		return rc;
	for (i = 0; i < n; i++) {
		v = json_is_array(src) ? json_array_get(src, i) : src;
		r = parse_record(v, extra);
		total += each(arg, r);
		json_decref(r);
		if (total > caps->bytes) {
			snprintf(why, whysz, "the records would take more than "
			    "%zu bytes", caps->bytes);
			rc = WEBHOOK_PARSE_TOO_LARGE;
			goto out;
		}
	}
	rc = WEBHOOK_PARSE_OK;
out:
	json_decref(extra);
	return rc;
}

/* What pathToRecords selects in doc (the records: an array, or one
 * object) into *src, how many records that is in *n (0 for no doc), and
 * in *parent the object whose other members includeParentData copies
 * into them (NULL when it does not apply). */
static int
parse_source(const json_t *webhook, const json_t *doc, json_t **src,
    json_t **parent, size_t *n, char *why, size_t whysz)
{
	const char	*path;

	if (whysz > 0)
		why[0] = '\0';
	*src = (json_t *)doc;
	*parent = NULL;
	*n = 0;
	if (doc == NULL)
		return WEBHOOK_PARSE_OK;
	if ((path = webhook_string(webhook, "pathToRecords")) != NULL &&
	    *path != '\0' && !json_is_array(doc)) {
		*src = webhook_path_get(doc, path);
		if (!json_is_object(*src) && !json_is_array(*src)) {
			snprintf(why, whysz, "pathToRecords %s in the payload",
			    *src == NULL || json_is_null(*src) ? "not found" :
			    "is neither an object nor an array");
			return WEBHOOK_PARSE_MALFORMED;
		}
		if (json_is_true(json_object_get(webhook,
		    "includeParentData")))
			*parent = parse_parent(doc, path, *src);
	}
	*n = json_is_array(*src) ? json_array_size(*src) : 1;
	return WEBHOOK_PARSE_OK;
}

/* parse_walk step of webhook_parse_records: keep the record. */
static size_t
parse_keep(void *arg, json_t *r)
{
	json_array_append(arg, r);
	return 0;
}

int
webhook_parse_records(const json_t *webhook, const json_t *doc,
    json_t **records, char *why, size_t whysz)
{
	static const struct webhook_caps caps = {
		WEBHOOK_MAX_RECORDS, WEBHOOK_MAX_STORED,
	};
	json_t	*out;
	int	 rc;

	out = json_array();
	if ((rc = parse_walk(webhook, doc, &caps, parse_keep, out, why,
	    whysz)) != WEBHOOK_PARSE_OK) {
		json_decref(out);
		out = NULL;
	}
	*records = out;
	return rc;
}

int
webhook_parse_count(const json_t *webhook, const json_t *doc,
    const struct webhook_caps *caps, size_t *n, char *why, size_t whysz)
{
	json_t	*src, *parent;
	int	 rc;

	if ((rc = parse_source(webhook, doc, &src, &parent, n, why,
	    whysz)) != 0)
		return rc;
	return parse_records_cap(caps, *n, why, whysz);
}

/* 413 with why set if n records pass caps->records. */
static int
parse_records_cap(const struct webhook_caps *caps, size_t n, char *why,
    size_t whysz)
{
	if (n <= caps->records)
		return WEBHOOK_PARSE_OK;
	snprintf(why, whysz, "more than %zu records", caps->records);
	return WEBHOOK_PARSE_TOO_LARGE;
}

struct parse_render {
	webhook_record_cb	 cb;
	void			*arg;
};

/* parse_walk step of webhook_parse_render: render, hand over. */
static size_t
parse_render_one(void *arg, json_t *r)
{
	struct parse_render	*pr = arg;
	size_t			 len = 0;
	char			*text;

	text = json_render_new(r, &len);
	pr->cb(pr->arg, text, len);
	return len;
}

int
webhook_parse_render(const json_t *webhook, const json_t *doc,
    const struct webhook_caps *caps, webhook_record_cb cb, void *arg,
    char *why, size_t whysz)
{
	struct parse_render	pr = { cb, arg };

	return parse_walk(webhook, doc, caps, parse_render_one, &pr, why,
	    whysz);
}

int
webhook_parse(const json_t *webhook, const struct webhook_request *req,
    json_t **doc, json_t **records, char *why, size_t whysz)
{
	json_t	*d = NULL;
	int	 rc;

	*records = NULL;
	if (doc != NULL)
		*doc = NULL;
	if ((rc = webhook_parse_body(webhook, req, &d, why, whysz)) != 0)
		return rc;
	if ((rc = webhook_parse_records(webhook, d, records, why,
	    whysz)) != 0) {
		json_decref(d);
		return rc;
	}
	if (doc != NULL)
		*doc = d;
	else
		json_decref(d);
	return WEBHOOK_PARSE_OK;
}
