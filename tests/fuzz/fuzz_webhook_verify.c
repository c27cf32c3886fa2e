/*
 * webhook_verify over fixed webhook blocks (built-in signature providers,
 * secret URL, token in body/header/query, hmac, basic, unknown ones) with
 * attacker-chosen method, headers, query, URL, URL token and body.
 *
 * Input: byte 0 picks the block; byte 1: bits 0-1 the method (POST, PUT,
 * GET, HEAD), bit 7 "sign": the harness computes the correct credential
 * itself (OpenSSL, not src/crypto) and sends it first, and then the
 * request must be accepted. Then lines up to an empty line:
 *   "Name: value"   a header        "?name=value"   a query parameter
 *   "@token"        the URL token   "!url"          the URL ("!" = none)
 * and the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_common.h"
#include "webhook/parse.h"
#include "webhook/verify.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum sign_kind { SIGN_NONE, SIGN_HEX, SIGN_B64, SIGN_BASIC };
#define NOSIGN	SIGN_NONE, NULL, NULL, NULL
#define BASIC	SIGN_BASIC, NULL, NULL, NULL

static const struct {
	const char	*src;
	enum sign_kind	 sign;
	const char	*md;		/* OpenSSL digest name */
	const char	*header;
	const char	*prefix;
} blocks_src[] = {
	{ "{\"provider\":\"github\",\"key\":\"k3y\"}",
	    SIGN_HEX, "SHA256", "X-Hub-Signature-256", "sha256=" },
	{ "{\"provider\":\"shopify\",\"key\":\"k3y\"}",
	    SIGN_B64, "SHA256", "X-Shopify-Hmac-Sha256", "" },
	{ "{\"provider\":\"slack\",\"key\":\"k3y\"}", NOSIGN },
	{ "{\"provider\":\"slack\",\"token\":\"t0k\"}", NOSIGN },
	{ "{\"provider\":\"slack\",\"token\":\"t0k\",\"path\":\"event.token\","
	    "\"requestMediaType\":\"urlencoded\"}", NOSIGN },
	{ "{\"provider\":\"dropbox\",\"key\":\"k3y\"}",
	    SIGN_HEX, "SHA256", "X-Dropbox-Signature", "" },
	{ "{\"provider\":\"helpscout\",\"key\":\"k3y\"}",
	    SIGN_B64, "SHA1", "X-HelpScout-Signature", "" },
	{ "{\"provider\":\"hubspot\",\"key\":\"k3y\"}", NOSIGN },
	{ "{\"provider\":\"surveymonkey\",\"key\":\"api&secret\"}",
	    SIGN_B64, "SHA1", "Sm-Signature", "" },
	{ "{\"provider\":\"trello\",\"key\":\"k3y\"}", NOSIGN },
	{ "{\"provider\":\"custom\",\"token\":\"t0k\"}", NOSIGN },
	{ "{\"provider\":\"stripe\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"header\",\"tokenHeaderScheme\":\"bearer\"}",
	    NOSIGN },
	{ "{\"verify\":\"token\",\"token\":\"t0k\",\"tokenLocation\":\"header\","
	    "\"tokenHeaderName\":\"X-Token\",\"tokenHeaderScheme\":\"custom\","
	    "\"customTokenScheme\":\"Token\"}", NOSIGN },
	{ "{\"provider\":\"custom\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"header\",\"tokenHeaderScheme\":\"none\"}",
	    NOSIGN },
	{ "{\"provider\":\"typeform\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"queryParam\",\"tokenQueryParamName\":\"t\"}",
	    NOSIGN },
	{ "{\"provider\":\"custom\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"path\":\"auth.token\"}", NOSIGN },
	{ "{\"provider\":\"custom\",\"verify\":\"hmac\",\"key\":\"k3y\","
	    "\"algorithm\":\"SHA1\",\"encoding\":\"base64\",\"header\":\"X-Sig\"}",
	    SIGN_B64, "SHA1", "X-Sig", "sha1=" },
	{ "{\"provider\":\"custom\",\"verify\":\"hmac\",\"key\":\"k3y\","
	    "\"algorithm\":\"sha512\",\"header\":\"x-sig\"}",
	    SIGN_HEX, "SHA512", "X-Sig", "" },
	{ "{\"provider\":\"custom\",\"verify\":\"hmac\",\"key\":\"k3y\","
	    "\"algorithm\":\"md5\",\"header\":\"X-Sig\"}", NOSIGN },
	{ "{\"provider\":\"onfleet\",\"verify\":\"basic\",\"username\":\"u\","
	    "\"password\":\"p:w\"}", BASIC },
	{ "{\"provider\":\"onfleet\",\"verify\":\"basic\",\"password\":\"pw\"}",
	    BASIC },
	{ "{\"provider\":\"travis\",\"verify\":\"publickey\",\"key\":\"k\"}",
	    NOSIGN },
	{ "{\"provider\":\"integratorio\",\"verify\":\"secret_url\","
	    "\"token\":\"t0k\"}", NOSIGN },
	{ "{\"provider\":\"shipwire\",\"token\":\"t0k\"}", NOSIGN },
	{ "{\"provider\":\"nosuch\",\"token\":\"t0k\"}", NOSIGN },
	{ "{\"provider\":\"github\",\"key\":\"******\",\"token\":\"t0k\"}",
	    NOSIGN },
	{ "{\"provider\":\"custom\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"header\",\"tokenHeaderScheme\":\"custom\"}",
	    NOSIGN },
	{ "{\"provider\":\"custom\",\"verify\":\"hmac\",\"key\":\"k3y\","
	    "\"algorithm\":\"sha384\",\"encoding\":\"hexadecimal\","
	    "\"header\":\"Authorization\"}",
	    SIGN_HEX, "SHA384", "Authorization", "" },
	{ "{\"provider\":\"custom\",\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"body\",\"path\":\"a.0.t\","
	    "\"requestMediaType\":\"xml\"}", NOSIGN },
	{ "{\"provider\":\"\",\"verify\":\"\",\"token\":\"\"}", NOSIGN },
	{ "null", NOSIGN },
	/* configurations missing a piece: each must reject */
	{ "{\"provider\":\"slack\"}", NOSIGN },
	{ "{\"verify\":\"token\"}", NOSIGN },
	{ "{\"verify\":\"token\",\"token\":\"t0k\"}", NOSIGN },
	{ "{\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"queryParam\"}", NOSIGN },
	{ "{\"verify\":\"token\",\"token\":\"t0k\","
	    "\"tokenLocation\":\"cookie\"}", NOSIGN },
	{ "{\"verify\":\"hmac\",\"key\":\"k3y\",\"encoding\":\"base32\","
	    "\"header\":\"X-Sig\"}", NOSIGN },
	{ "{\"verify\":\"hmac\",\"key\":\"k3y\"}", NOSIGN },
	{ "{\"verify\":\"basic\",\"username\":\"u\"}", NOSIGN },
	/* defaults: sha256, hex */
	{ "{\"verify\":\"hmac\",\"key\":\"k3y\",\"header\":\"X-Sig\"}",
	    SIGN_HEX, "SHA256", "X-Sig", "" },
};
#define NBLOCKS (sizeof blocks_src / sizeof blocks_src[0])

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
		blocks[i] = json_loads(blocks_src[i].src, JSON_DECODE_ANY,
		    NULL);
		FUZZ_ASSERT(blocks[i] != NULL);
	}
	return 0;
}

/* The credential header value the sender would compute; caller frees. */
static char *
sign(size_t b, const json_t *w, const char *body, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 mac[EVP_MAX_MD_SIZE];
	unsigned int		 maclen = 0, i;
	const char		*key, *user;
	char			*out, *plain;
	size_t			 plen, n;

	out = malloc(4 * EVP_MAX_MD_SIZE + 512);
	FUZZ_ASSERT(out != NULL);
	if (blocks_src[b].sign == SIGN_BASIC) {
		user = json_string_value(json_object_get(w, "username"));
		plen = strlen(user != NULL ? user : "") + 1 +
		    strlen(json_string_value(json_object_get(w, "password")));
		plain = malloc(plen + 1);
		snprintf(plain, plen + 1, "%s:%s", user != NULL ? user : "",
		    json_string_value(json_object_get(w, "password")));
		memcpy(out, "Basic ", 6);
		EVP_EncodeBlock((unsigned char *)out + 6,
		    (unsigned char *)plain, (int)plen);
		free(plain);
		return out;
	}
	key = json_string_value(json_object_get(w, "key"));
	FUZZ_ASSERT(HMAC(EVP_get_digestbyname(blocks_src[b].md), key,
	    (int)strlen(key), (const unsigned char *)body, len, mac,
	    &maclen) != NULL);
	n = strlen(blocks_src[b].prefix);
	memcpy(out, blocks_src[b].prefix, n);
	if (blocks_src[b].sign == SIGN_HEX) {
		for (i = 0; i < maclen; i++) {
			out[n++] = hex[mac[i] >> 4];
			out[n++] = hex[mac[i] & 0xf];
		}
		out[n] = '\0';
	} else
		EVP_EncodeBlock((unsigned char *)out + n, mac, (int)maclen);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook_request	 req;
	struct fuzz_req		 fr;
	struct fuzz_field	 line;
	const json_t		*w;
	const uint8_t		*p, *colon, *value;
	const char		*why = NULL;
	char			*body, *url = NULL, *token = NULL, *cred = NULL;
	size_t			 b, rest, nlen, vlen;
	bool			 url_set = false, signing;
	int			 rc;

	if (size < 2)
		return 0;
	b = data[0] % NBLOCKS;
	w = blocks[b];
	signing = (data[1] & 0x80) && blocks_src[b].sign != SIGN_NONE;
	memset(&req, 0, sizeof req);
	memset(&fr, 0, sizeof fr);
	req.method = methods[data[1] & 3];
	p = data + 2;
	rest = size - 2;

	/* the credential goes first so that it is the one looked up */
	if (signing)
		fr.nh = 1;	/* slot 0 filled once the body is known */
	while (rest > 0) {
		line = fuzz_take(&p, &rest, '\n');
		if (line.len == 0)
			break;
		if (line.p[0] == '?') {
			colon = memchr(line.p, '=', line.len);
			vlen = colon != NULL ? line.len -
			    (size_t)(colon - line.p) - 1 : 0;
			fuzz_req_add(&fr, true, (const char *)line.p + 1,
			    (colon != NULL ? (size_t)(colon - line.p) :
			    line.len) - 1, colon != NULL ?
			    (const char *)colon + 1 : "", vlen);
		} else if (line.p[0] == '@') {
			free(token);
			token = fuzz_cstr(line.p + 1, line.len - 1);
		} else if (line.p[0] == '!') {
			free(url);
			url = line.len > 1 ? fuzz_cstr(line.p + 1,
			    line.len - 1) : NULL;
			url_set = true;
		} else if ((colon = memchr(line.p, ':', line.len)) != NULL) {
			nlen = (size_t)(colon - line.p);
			value = colon + 1;
			vlen = line.len - nlen - 1;
			if (vlen > 0 && *value == ' ') {
				value++;
				vlen--;
			}
			fuzz_req_add(&fr, false, (const char *)line.p, nlen,
			    (const char *)value, vlen);
		}
	}
	body = fuzz_cstr(p, rest);
	if (signing) {
		cred = sign(b, w, body, rest);
		fr.hname[0] = fuzz_cstr(blocks_src[b].sign == SIGN_BASIC ?
		    "Authorization" : blocks_src[b].header,
		    strlen(blocks_src[b].sign == SIGN_BASIC ?
		    "Authorization" : blocks_src[b].header));
		fr.hvalue[0] = cred;
	}
	req.url = url_set ? url : "https://example.test/v1/exports/x/data?a=1";
	req.url_token = token;
	req.body = body;
	req.bodylen = rest;
	req.now_ms = 1700000000000;
	req.header = fuzz_req_header;
	req.query = fuzz_req_query;
	req.arg = &fr;

	rc = webhook_verify(w, &req, &why);
	FUZZ_ASSERT(rc == 0 || rc == -1);
	FUZZ_ASSERT(why != NULL && strlen(why) < 200);
	if (signing && token == NULL) {
		if (rc != 0)
			fprintf(stderr, "signed request refused: %s\n", why);
		FUZZ_ASSERT(rc == 0);
	}
	/* a rejected request is rejected the same way every time */
	FUZZ_ASSERT(webhook_verify(w, &req, NULL) == rc);

	free(body);
	free(url);
	free(token);
	fuzz_req_free(&fr);
	return 0;
}
