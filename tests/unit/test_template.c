/* Unit tests for template/: syntax, values, whitespace, every helper,
 * errors with their positions, and the caps. The clock is fixed at
 * 2020-07-09T19:59:39.156Z (1594324779156 ms). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "template/template.h"

#define NOW	1594324779156LL

static char			 result[8192];
static struct template_error	 err;

/* Render tmpl over the JSON ctx; the output, or "ERR line:col message". */
static const char *
run_opt(const char *tmpl, const char *ctx, const struct template_options *o)
{
	json_error_t	 je;
	json_t		*c;
	char		*s;
	size_t		 len;

	c = json_loads(ctx ? ctx : "{}", JSON_DECODE_ANY, &je);
	cr_assert_not_null(c, "bad test context %s: %s", ctx, je.text);
	memset(&err, 0, sizeof(err));
	s = template_render_text(tmpl, strlen(tmpl), c, o, &len, &err);
	json_decref(c);
	if (s == NULL) {
		snprintf(result, sizeof(result), "ERR %u:%u %s", err.line,
		    err.column, err.message);
		return result;
	}
	cr_assert_eq(strlen(s), len);
	snprintf(result, sizeof(result), "%s", s);
	free(s);
	return result;
}

static const char *
run(const char *tmpl, const char *ctx)
{
	struct template_options	o = { 0, 0, true, NOW };

	return run_opt(tmpl, ctx, &o);
}

#define EXPECT(tmpl, ctx, want) \
	cr_expect_str_eq(run(tmpl, ctx), want, "%s", tmpl)

Test(template, text_and_paths)
{
	EXPECT("plain text", NULL, "plain text");
	EXPECT("", NULL, "");
	EXPECT("{{a}}", "{\"a\":\"x\"}", "x");
	EXPECT("{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "deep");
	EXPECT("{{a/b}}", "{\"a\":{\"b\":2}}", "2");
	EXPECT("{{a.[x y]}}|{{[a b]}}", "{\"a\":{\"x y\":1},\"a b\":2}",
	    "1|2");
	EXPECT("{{items.0.id}} {{items.[1].id}}",
	    "{\"items\":[{\"id\":7},{\"id\":8}]}", "7 8");
	EXPECT("{{items.length}} {{s.length}}",
	    "{\"items\":[1,2,3],\"s\":\"h\\u00e9\\ud83d\\ude00\"}", "3 4");
	EXPECT("{{missing}}|{{a.missing.deep}}|{{a.0}}", "{\"a\":{}}", "||");
	EXPECT("{{items.01}}|{{items.-1}}", "{\"items\":[1,2]}", "|");
	EXPECT("{{this}}", "\"top\"", "top");
	EXPECT("{{.}} {{this.a}} {{./a}}", "{\"a\":1}",
	    "[object Object] 1 1");
	EXPECT("{{weird-name}} {{$d}} {{a:b}}",
	    "{\"weird-name\":1,\"$d\":2,\"a:b\":3}", "1 2 3");
}

Test(template, values)
{
	EXPECT("{{n}} {{r}} {{big}} {{small}} {{neg}}",
	    "{\"n\":42,\"r\":1.5,\"big\":1e21,\"small\":1e-7,\"neg\":-0.25}",
	    "42 1.5 1e+21 1e-7 -0.25");
	EXPECT("{{a}} {{b}}", "{\"a\":1.0,\"b\":100000000000000000000.0}",
	    "1 100000000000000000000");
	EXPECT("{{t}} {{f}} {{z}}|{{n}}|", "{\"t\":true,\"f\":false,\"z\":0,"
	    "\"n\":null}", "true false 0||");
	EXPECT("{{a}}", "{\"a\":[1,\"x\",null,[2,3],{\"k\":1}]}",
	    "1,x,,2,3,[object Object]");
	EXPECT("{{o}}", "{\"o\":{\"k\":1}}", "[object Object]");
	EXPECT("{{0.1}} {{[0].[1]}}", "{\"0\":{\"1\":\"n\"}}", "0.1 n");
}

Test(template, escaping)
{
	EXPECT("{{v}}", "{\"v\":\"<a href='x'>&\\\"`=</a>\"}",
	    "&lt;a href&#x3D;&#x27;x&#x27;&gt;&amp;&quot;&#x60;&#x3D;&lt;/a&gt;");
	EXPECT("{{{v}}}|{{&v}}", "{\"v\":\"<b>&\"}", "<b>&|<b>&");
	EXPECT("{{a}}", "{\"a\":[\"<\",\">\"]}", "&lt;,&gt;");
	EXPECT("\\{{a}} {{a}}", "{\"a\":1}", "{{a}} 1");
	EXPECT("\\\\{{a}}", "{\"a\":1}", "\\1");
	EXPECT("{{{{raw}}}}{{a}} {{#if}}{{{{/raw}}}}!", "{\"a\":1}",
	    "{{a}} {{#if}}!");
	EXPECT("{{\"}}\"}}", NULL, "}}");
}

Test(template, comments_and_whitespace)
{
	EXPECT("a{{! note }}b{{!-- has }} inside --}}c", NULL, "abc");
	EXPECT("a  {{~x~}}  b", "{\"x\":1}", "a1b");
	EXPECT("a \n {{~#if x~}} \n y \n {{~/if~}} \n b", "{\"x\":1}", "ayb");
	EXPECT("[\n  {{#each a}}\n  {{this}},\n  {{/each}}\n]",
	    "{\"a\":[1,2]}", "[\n  1,\n  2,\n]");
	EXPECT("{{#if x}}\nyes\n{{else}}\nno\n{{/if}}\n", "{\"x\":false}",
	    "no\n");
	EXPECT("  {{! alone }}\nnext", NULL, "next");
	EXPECT("a {{#if x}}in{{/if}} b", "{\"x\":1}", "a in b");
	EXPECT("x\n{{v}}\ny", "{\"v\":1}", "x\n1\ny");
}

Test(template, if_unless)
{
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":\"x\"}", "Y");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":\"\"}", "N");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":[]}", "N");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":{}}", "Y");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":0}", "N");
	EXPECT("{{#if a includeZero=true}}Y{{else}}N{{/if}}", "{\"a\":0}",
	    "Y");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{}", "N");
	EXPECT("{{#if a}}Y{{else}}N{{/if}}", "{\"a\":null}", "N");
	EXPECT("{{#unless a}}U{{else}}E{{/unless}}", "{\"a\":false}", "U");
	EXPECT("{{#unless a}}U{{else}}E{{/unless}}", "{\"a\":true}", "E");
	EXPECT("{{#if a}}A{{else if b}}B{{else if c}}C{{else}}D{{/if}}",
	    "{\"c\":1}", "C");
	EXPECT("{{#if a}}A{{else if b}}B{{else}}D{{/if}}", "{}", "D");
	EXPECT("{{^if a}}not{{/if}}", "{}", "not");
	EXPECT("{{#if a}}{{b}}{{/if}}", "{\"a\":1,\"b\":2}", "2");
}

Test(template, each)
{
	EXPECT("{{#each a}}{{@index}}={{this}}{{#if @first}}F{{/if}}"
	    "{{#if @last}}L{{/if}};{{/each}}", "{\"a\":[\"x\",\"y\",\"z\"]}",
	    "0=xF;1=y;2=zL;");
	EXPECT("{{#each o}}{{@key}}:{{this}}@{{@index}} {{/each}}",
	    "{\"o\":{\"b\":1,\"a\":2}}", "b:1@0 a:2@1 ");
	EXPECT("{{#each a}}x{{else}}empty{{/each}}", "{\"a\":[]}", "empty");
	EXPECT("{{#each a}}x{{else}}empty{{/each}}", "{}", "empty");
	EXPECT("{{#each a}}x{{else}}empty{{/each}}", "{\"a\":\"str\"}",
	    "empty");
	EXPECT("{{#each a}}{{id}}{{../top}}{{/each}}",
	    "{\"a\":[{\"id\":1},{\"id\":2}],\"top\":\"T\"}", "1T2T");
	EXPECT("{{#each a}}{{#each this}}{{../../top}}{{this}}{{@../index}}"
	    "{{/each}}{{/each}}", "{\"a\":[[1,2],[3]],\"top\":\"-\"}",
	    "-10-20-31");
	EXPECT("{{#each a}}{{#if this}}{{../top}}{{/if}}{{/each}}",
	    "{\"a\":[1],\"top\":\"T\"}", "T");
	EXPECT("{{#each a}}{{@root.r}}{{/each}}", "{\"a\":[1,2],\"r\":\"R\"}",
	    "RR");
	EXPECT("{{#each a}}{\"id\":{{id}}}{{#unless @last}},{{/unless}}"
	    "{{/each}}", "{\"a\":[{\"id\":1},{\"id\":2}]}",
	    "{\"id\":1},{\"id\":2}");
}

Test(template, with_and_sections)
{
	EXPECT("{{#with a}}{{b}}{{../c}}{{/with}}",
	    "{\"a\":{\"b\":\"B\"},\"c\":\"C\"}", "BC");
	EXPECT("{{#with a}}x{{else}}none{{/with}}", "{}", "none");
	EXPECT("{{#a}}{{b}}{{/a}}", "{\"a\":{\"b\":1}}", "1");
	EXPECT("{{#a}}[{{this}}]{{/a}}", "{\"a\":[1,2]}", "[1][2]");
	EXPECT("{{#a}}yes{{else}}no{{/a}}", "{\"a\":false}", "no");
	EXPECT("{{^a}}none{{/a}}", "{\"a\":[]}", "none");
}

Test(template, compare)
{
	EXPECT("{{#compare p \"!=\" \"1\"}}?page={{{p}}}{{/compare}}",
	    "{\"p\":2}", "?page=2");
	EXPECT("{{#compare p \"!=\" \"1\"}}?page={{{p}}}{{/compare}}",
	    "{\"p\":1}", "");
	EXPECT("{{#compare \"9\" \">\" \"10\"}}T{{else}}F{{/compare}}", NULL,
	    "T");
	EXPECT("{{#compare 9 \">\" \"10\"}}T{{else}}F{{/compare}}", NULL, "F");
	EXPECT("{{#compare 1 \"==\" \"1\"}}T{{else}}F{{/compare}}", NULL, "T");
	EXPECT("{{#compare 1 \"===\" \"1\"}}T{{else}}F{{/compare}}", NULL,
	    "F");
	EXPECT("{{#compare 1 \"!==\" \"1\"}}T{{else}}F{{/compare}}", NULL,
	    "T");
	EXPECT("{{#compare a \"===\" b}}T{{else}}F{{/compare}}",
	    "{\"a\":2,\"b\":2.0}", "T");
	EXPECT("{{#compare a \"==\" b}}T{{else}}F{{/compare}}", "{\"b\":null}",
	    "T");
	EXPECT("{{#compare a \"==\" 0}}T{{else}}F{{/compare}}", "{\"a\":false}",
	    "T");
	EXPECT("{{#compare a \"==\" \"1,2\"}}T{{else}}F{{/compare}}",
	    "{\"a\":[1,2]}", "T");
	EXPECT("{{#compare 2 \"<\" 10}}T{{else}}F{{/compare}}", NULL, "T");
	EXPECT("{{#compare 2 \"<=\" 2}}T{{else}}F{{/compare}}", NULL, "T");
	EXPECT("{{#compare 3 \">=\" 4}}T{{else}}F{{/compare}}", NULL, "F");
	EXPECT("{{#compare \"a\" \"<\" \"b\"}}T{{else}}F{{/compare}}", NULL,
	    "T");
	EXPECT("{{#compare x \"<\" 1}}T{{else}}F{{/compare}}", NULL, "F");
	EXPECT("{{#compare \"\" \"==\" 0}}T{{else}}F{{/compare}}", NULL, "T");
	EXPECT("{{#compare \"0x10\" \"==\" 16}}T{{else}}F{{/compare}}", NULL,
	    "T");
	EXPECT("{{#compare \"1e3\" \">\" 999}}T{{else}}F{{/compare}}", NULL,
	    "T");
	EXPECT("{{#compare \"abc\" \"<\" 5}}T{{else}}F{{/compare}}", NULL, "F");
	EXPECT("{{#compare 1 \"<>\" 2}}x{{/compare}}", NULL,
	    "ERR 1:14 compare: unknown operator \"<>\"");
	EXPECT("{{#compare 1 op 2}}x{{/compare}}", NULL,
	    "ERR 1:14 compare: the operator must be a string");
}

Test(template, and_or)
{
	EXPECT("{{#and a b}}Y{{else}}N{{/and}}", "{\"a\":1,\"b\":\"x\"}", "Y");
	EXPECT("{{#and a b}}Y{{else}}N{{/and}}", "{\"a\":1,\"b\":0}", "N");
	EXPECT("{{#and a b c}}Y{{else}}N{{/and}}",
	    "{\"a\":[],\"b\":{},\"c\":\"0\"}", "Y");
	EXPECT("{{#or a b}}Y{{else}}N{{/or}}", "{\"a\":0,\"b\":\"\"}", "N");
	EXPECT("{{#or a b}}Y{{else}}N{{/or}}", "{\"b\":true}", "Y");
	EXPECT("{{#or a}}Y{{else}}N{{/or}}", "{}", "N");
}

Test(template, date_format)
{
	const char	*d = "{\"d\":\"2020-07-09T19:59:39.156Z\"}";

	EXPECT("{{dateFormat \"YYYY-MM-DD HH:mm:ss.SSS\" d}}", d,
	    "2020-07-09 19:59:39.156");
	EXPECT("{{dateFormat \"X x Z ZZ\" d}}", d,
	    "1594324779 1594324779156 +00:00 +0000");
	EXPECT("{{dateFormat \"M Mo MM MMM MMMM Q Qo D Do DD DDD DDDo DDDD\" d}}",
	    d, "7 7th 07 Jul July 3 3rd 9 9th 09 191 191st 191");
	EXPECT("{{dateFormat \"d do dd ddd dddd e E w wo ww W Wo WW\" d}}", d,
	    "4 4th Th Thu Thursday 4 4 28 28th 28 28 28th 28");
	EXPECT("{{dateFormat \"YY Y gg gggg GG GGGG\" d}}", d,
	    "20 2020 20 2020 20 2020");
	EXPECT("{{dateFormat \"A a H HH h hh k kk m mm s ss S SS SSSS\" d}}", d,
	    "PM pm 19 19 7 07 19 19 59 59 39 39 1 15 1560");
	EXPECT("{{dateFormat \"L|LL|LLL|LLLL|LT|LTS|l|ll|lll|llll\" d}}", d,
	    "07/09/2020|July 9, 2020|July 9, 2020 7:59 PM|Thursday, July 9, "
	    "2020 7:59 PM|7:59 PM|7:59:39 PM|7/9/2020|Jul 9, 2020|"
	    "Jul 9, 2020 7:59 PM|Thu, Jul 9, 2020 7:59 PM");
	EXPECT("{{dateFormat \"YYYY-MM-DD [at] HH:mm [YYYY]\" d}}", d,
	    "2020-07-09 at 19:59 YYYY");
	EXPECT("{{dateFormat \"\" d}}", d, "2020-07-09T19:59:39+00:00");
	EXPECT("{{dateFormat}}", NULL, "2020-07-09T19:59:39+00:00");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" \"not a date\"}}", NULL,
	    "Invalid date");
	EXPECT("{{dateFormat \"YYYY\" n}}", "{\"n\":null}", "Invalid date");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" \"2021-02-30\"}}", NULL,
	    "Invalid date");
	EXPECT("{{dateFormat \"x\" ms}}", "{\"ms\":0}", "0");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" ms}}", "{\"ms\":-86400000}",
	    "1969-12-31");
}

Test(template, date_inputs)
{
	EXPECT("{{dateFormat \"x\" \"2020-07-09\"}}", NULL, "1594252800000");
	EXPECT("{{dateFormat \"x\" \"20200709\"}}", NULL, "1594252800000");
	EXPECT("{{dateFormat \"x\" \"2020-07\"}}", NULL, "1593561600000");
	EXPECT("{{dateFormat \"x\" \"2020-07-09 01:02\"}}", NULL,
	    "1594256520000");
	EXPECT("{{dateFormat \"x\" \"2020-07-09T01:02:03.4567+02:00\"}}", NULL,
	    "1594249323456");
	EXPECT("{{dateFormat \"x\" \"2020-07-09T01:02:03-0130\"}}", NULL,
	    "1594261923000");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" d \"MM/DD/YYYY\"}}",
	    "{\"d\":\"07/04/2021\"}", "2021-07-04");
	EXPECT("{{dateFormat \"YYYY-MM-DD HH:mm\" d \"D MMMM YY h:mm a\"}}",
	    "{\"d\":\"4 july 21 3:05 pm\"}", "2021-07-04 15:05");
	EXPECT("{{dateFormat \"YYYY-MM-DDTHH:mm:ss.SSSZ\" d \"x\"}}",
	    "{\"d\":\"1594324779156\"}", "2020-07-09T19:59:39.156+00:00");
	EXPECT("{{dateFormat \"YYYY-MM-DD HH:mm:ss\" d \"X\"}}",
	    "{\"d\":\"1594324779\"}", "2020-07-09 19:59:39");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" d \"DD\"}}", "{\"d\":\"05\"}",
	    "2020-07-05");
	EXPECT("{{dateFormat \"YYYY-MM-DD\" d \"YYYY\"}}", "{\"d\":\"2019\"}",
	    "2019-01-01");
}

Test(template, time_zones)
{
	const char	*d = "{\"d\":\"2020-07-09T19:59:39.156Z\","
	    "\"w\":\"2020-01-09T19:59:39Z\"}";

	EXPECT("{{dateFormat \"YYYY-MM-DD HH:mm Z z\" d \"\" "
	    "\"America/New_York\"}}", d, "2020-07-09 15:59 -04:00 EDT");
	EXPECT("{{dateFormat \"HH:mm Z z\" w \"\" \"America/New_York\"}}", d,
	    "14:59 -05:00 EST");
	EXPECT("{{dateFormat \"HH:mm Z\" d \"\" \"Asia/Kolkata\"}}", d,
	    "01:29 +05:30");
	EXPECT("{{dateFormat \"HH:mm Z\" d \"\" \"+02:00\"}}", d,
	    "21:59 +02:00");
	EXPECT("{{dateFormat \"HH:mm Z\" d \"\" \"Nowhere/Special\"}}", d,
	    "19:59 +00:00");
	EXPECT("{{dateFormat \"HH:mm Z\" d \"\" \"../../etc/passwd\"}}", d,
	    "19:59 +00:00");
	/* a time without an offset is read in the zone */
	EXPECT("{{dateFormat \"x\" \"2020-07-09T12:00:00\" \"\" "
	    "\"Europe/Berlin\"}}", NULL, "1594288800000");
	EXPECT("{{dateAdd \"2020-07-09T12:00:00\" 0 \"Europe/Berlin\"}}", NULL,
	    "2020-07-09T10:00:00.000Z");
}

Test(template, date_add_and_timestamp)
{
	EXPECT("{{dateAdd d \"86400000\"}}", "{\"d\":\"2025-03-26T12:34:56Z\"}",
	    "2025-03-27T12:34:56.000Z");
	EXPECT("{{dateAdd d -3600000}}", "{\"d\":\"2025-03-26T12:34:56Z\"}",
	    "2025-03-26T11:34:56.000Z");
	EXPECT("{{dateAdd d}}", "{\"d\":1000}", "1970-01-01T00:00:01.000Z");
	EXPECT("{{dateAdd d \"soon\"}}", "{\"d\":1000}", "Invalid date");
	EXPECT("{{dateAdd}}", NULL, "2020-07-09T19:59:39.156Z");
	EXPECT("{{timestamp}}", NULL, "2020-07-09T19:59:39+00:00");
	EXPECT("{{timestamp \"YYYY-MM-DD HH:mm:ss\"}}", NULL,
	    "2020-07-09 19:59:39");
	EXPECT("{{timestamp \"\" \"UTC\"}}", NULL, "2020-07-09T19:59:39+00:00");
	EXPECT("{{timestamp \"HH:mm z\" \"Asia/Tokyo\"}}", NULL, "04:59 JST");
	EXPECT("{{{dateFormat \"YYYY-MM-DD\" lastExportDateTime}}}",
	    "{\"lastExportDateTime\":\"2020-07-09T19:59:39.156Z\"}",
	    "2020-07-09");
}

Test(template, uri_and_base64)
{
	EXPECT("{{{encodeURI s}}}", "{\"s\":\"a b&c/\\u00e9?!*'()~_.-\"}",
	    "a%20b%26c%2F%C3%A9%3F!*'()~_.-");
	EXPECT("{{encodeURI n}}", "{\"n\":12}", "12");
	EXPECT("{{decodeURI \"a%20b%C3%A9%2f\"}}", NULL, "a bé/");
	EXPECT("{{decodeURI \"100%\"}}", NULL,
	    "ERR 1:3 decodeURI: malformed %-escape");
	EXPECT("{{decodeURI \"%zz\"}}", NULL,
	    "ERR 1:3 decodeURI: malformed %-escape");
	EXPECT("{{decodeURI \"%C3\"}}", NULL,
	    "ERR 1:3 decodeURI: the %-escapes are not UTF-8");
	EXPECT("{{base64Encode \"user:pass\"}}", NULL, "dXNlcjpwYXNz");
	EXPECT("{{base64Encode \"a\"}}|{{base64Encode \"ab\"}}|"
	    "{{base64Encode \"\"}}", NULL, "YQ&#x3D;&#x3D;|YWI&#x3D;|");
	EXPECT("{{{base64Encode \"a\"}}}", NULL, "YQ==");
	EXPECT("{{base64Encode \"48656c6c6f\" \"hex\"}}", NULL, "SGVsbG8&#x3D;");
	EXPECT("{{{base64Encode \"é\" \"latin1\"}}}", NULL, "6Q==");
	EXPECT("{{base64Decode \"U29tZSBlbmNvZGVkIHZhbHVl\"}}", NULL,
	    "Some encoded value");
	EXPECT("{{base64Decode \"YQ\"}}{{base64Decode \"Y W=garbage\"}}", NULL,
	    "aa");
	EXPECT("{{base64Decode \"_-8\" \"hex\"}}", NULL, "ffef");
	EXPECT("{{base64Decode \"/w==\"}}", NULL, "\xef\xbf\xbd");
	EXPECT("{{base64Decode \"6Q==\" \"latin1\"}}", NULL, "\xc3\xa9");
	EXPECT("{{base64Encode \"x\" \"ebcdic\"}}", NULL,
	    "ERR 1:3 base64Encode: unknown encoding");
	EXPECT("{{{base64Encode (join \":\" user pass)}}}",
	    "{\"user\":\"u\",\"pass\":\"p\"}", "dTpw");
}

Test(template, strings_and_json)
{
	EXPECT("{{lowercase \"HeLLo ÀЖ\"}}", NULL, "hello àж");
	EXPECT("{{uppercase s}}", "{\"s\":\"hello \\u00e0\\u0436\"}",
	    "HELLO ÀЖ");
	EXPECT("{{uppercase 1.5}}", NULL, "1.5");
	EXPECT("{{{jsonSerialize o}}}",
	    "{\"o\":{\"a\":[1,2.5,1.0,\"s\\\"\\n\",null,true],\"b\":{}}}",
	    "{\"a\":[1,2.5,1,\"s\\\"\\n\",null,true],\"b\":{}}");
	EXPECT("{{{jsonSerialize s}}}|{{{jsonSerialize missing}}}",
	    "{\"s\":\"x\"}", "\"x\"|");
	EXPECT("{{jsonSerialize s}}", "{\"s\":\"x\"}", "&quot;x&quot;");
	EXPECT("{{{jsonSerialize this}}}", "[1,{\"k\":\"v\"}]",
	    "[1,{\"k\":\"v\"}]");
	EXPECT("{{join \"/\" \"root\" \"images\" \"logo.png\"}}", NULL,
	    "root/images/logo.png");
	EXPECT("{{join \", \" a b}}", "{\"a\":[1,2],\"b\":\"x\"}", "1, 2, x");
	EXPECT("{{join \"-\" a missing b}}", "{\"a\":1,\"b\":2}", "1--2");
	EXPECT("{{join \"-\"}}", NULL, "");
	EXPECT("{{lookup o \"k\"}} {{lookup o key}} {{lookup a 1}} "
	    "{{lookup a \"length\"}}|{{lookup a 9}}|{{lookup s 0}}",
	    "{\"o\":{\"k\":\"v\",\"j\":\"w\"},\"key\":\"j\",\"a\":[5,6],"
	    "\"s\":\"str\"}", "v w 6 2||");
	EXPECT("{{#each (lookup o \"k\")}}[{{this}}]{{/each}}",
	    "{\"o\":{\"k\":[1,2]}}", "[1][2]");
	EXPECT("{{uppercase (lowercase (join \"\" \"A\" \"b\"))}}", NULL, "AB");
}

Test(template, literals)
{
	EXPECT("{{join \"|\" \"dq\" 'sq' 12 -3 1.25 true false null "
	    "undefined}}", NULL, "dq|sq|12|-3|1.25|true|false||");
	EXPECT("{{join \"\" \"a\\\"b\" 'c\\'d' \"e\\\\f\"}}", NULL,
	    "a&quot;bc&#x27;de\\\\f");
	EXPECT("{{#if true}}T{{/if}}{{#if false}}F{{/if}}", NULL, "T");
	EXPECT("{{join \"\" 12abc}}", "{\"12abc\":\"id\"}", "id");
}

Test(template, parse_errors)
{
	EXPECT("{{foo bar}}", NULL, "ERR 1:3 unknown helper \"foo\"");
	EXPECT("a\n  {{#if x}}", NULL, "ERR 2:3 {{#if}} is not closed");
	EXPECT("{{#if x}}{{/unless}}", NULL,
	    "ERR 1:10 {{/unless}} does not match {{#if}}");
	EXPECT("{{/if}}", NULL, "ERR 1:1 {{/if}} closes no block");
	EXPECT("x {{a", NULL, "ERR 1:3 unclosed tag: no \"}}\" after it");
	EXPECT("{{{a}}", NULL, "ERR 1:1 unclosed tag: no \"}}}\" after it");
	EXPECT("{{!-- open", NULL, "ERR 1:1 unclosed comment");
	EXPECT("{{> partial}}", NULL, "ERR 1:1 partials are not supported");
	EXPECT("{{#> layout}}{{/layout}}", NULL,
	    "ERR 1:1 partial blocks and decorators are not supported");
	EXPECT("{{* deco}}", NULL, "ERR 1:1 decorators are not supported");
	EXPECT("{{#each a b}}{{/each}}", NULL,
	    "ERR 1:4 each takes 1 argument, not 2");
	EXPECT("{{lowercase}}", NULL, "ERR 1:3 lowercase takes 1 argument, "
	    "not 0");
	EXPECT("{{dateFormat 1 2 3 4 5}}", NULL,
	    "ERR 1:3 dateFormat takes 0 to 4 arguments, not 5");
	EXPECT("{{#and}}{{/and}}", NULL,
	    "ERR 1:4 and takes 1 or more arguments, not 0");
	EXPECT("{{if x}}", NULL,
	    "ERR 1:3 if is a block helper: write {{#if ...}}...{{/if}}");
	EXPECT("{{#lowercase x}}{{/lowercase}}", NULL,
	    "ERR 1:4 lowercase is not a block helper");
	EXPECT("{{else}}", NULL, "ERR 1:1 {{else}} outside a block");
	EXPECT("{{#if a}}{{else}}{{else}}{{/if}}", NULL,
	    "ERR 1:18 a second {{else}} in one block");
	EXPECT("{{a.}}", NULL, "ERR 1:4 unexpected \".\"");
	EXPECT("{{a..b}}", NULL, "ERR 1:5 expected a name");
	EXPECT("{{a/../b}}", NULL,
	    "ERR 1:3 invalid path: \"..\" only at its start");
	EXPECT("{{this/../b}}", NULL,
	    "ERR 1:3 invalid path: \"..\" only at its start");
	EXPECT("{{[a}}", NULL, "ERR 1:3 unclosed \"[\"");
	EXPECT("{{@}}", NULL, "ERR 1:4 expected a name");
	EXPECT("{{join \"a}}", NULL, "ERR 1:1 unclosed tag: no \"}}\" after it");
	EXPECT("{{join (lowercase \"a\"}}", NULL, "ERR 1:8 unclosed \"(\"");
	EXPECT("{{(lowercase a)}}", NULL, "ERR 1:3 a helper name is needed "
	    "here, not a subexpression");
	EXPECT("{{\"lit\" a}}", NULL, "ERR 1:3 a helper name is needed here");
	EXPECT("{{join a=1 b}}", NULL,
	    "ERR 1:12 arguments must come before key=value pairs");
	EXPECT("{{join a= b}}", NULL, "ERR 1:9 a value is needed after \"=\"");
	EXPECT("{{}}", NULL, "ERR 1:3 expected an expression");
	EXPECT("{{{{raw}}}} x", NULL, "ERR 1:1 raw block raw is not closed");
}

/* {{lowercase (lowercase (... (uppercase "x")))}}: d subexpressions. */
static void
nested(char *out, size_t size, int d)
{
	size_t	n;
	int	i;

	n = (size_t)snprintf(out, size, "{{lowercase ");
	for (i = 0; i < d - 1; i++)
		n += (size_t)snprintf(out + n, size - n, "(lowercase ");
	n += (size_t)snprintf(out + n, size - n, "(uppercase \"x\"");
	for (i = 0; i < d; i++)
		n += (size_t)snprintf(out + n, size - n, ")");
	snprintf(out + n, size - n, "}}");
}

Test(template, depth)
{
	char	tmpl[4096];
	size_t	i, n = 0;

	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n, "{{#if a}}");
	n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n, "deep");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n, "{{/if}}");
	cr_expect_str_eq(run(tmpl, "{\"a\":1}"), "deep");
	n = 0;
	for (i = 0; i < 65; i++)
		n += (size_t)snprintf(tmpl + n, sizeof(tmpl) - n, "{{#if a}}");
	cr_expect_str_eq(run(tmpl, "{\"a\":1}"),
	    "ERR 1:577 blocks nested deeper than 64");
	nested(tmpl, sizeof(tmpl), 64);
	cr_expect_str_eq(run(tmpl, NULL), "x");
	nested(tmpl, sizeof(tmpl), 65);
	cr_expect_str_eq(run(tmpl, NULL), "ERR 1:717 nesting deeper than 64");
}

Test(template, caps)
{
	struct template_options	o = { 10, 0, true, NOW };
	struct template_options	it = { 0, 3, true, NOW };

	cr_expect_str_eq(run_opt("0123456789", NULL, &o), "0123456789");
	cr_expect_str_eq(run_opt("0123456789x", NULL, &o),
	    "ERR 1:1 output longer than 10 bytes");
	cr_expect_str_eq(run_opt("ab{{s}}", "{\"s\":\"012345678\"}", &o),
	    "ERR 1:3 output longer than 10 bytes");
	cr_expect_str_eq(run_opt("{{#each a}}x{{/each}}", "{\"a\":[1,2,3]}",
	    &it), "xxx");
	cr_expect_str_eq(run_opt("{{#each a}}x{{/each}}", "{\"a\":[1,2,3,4]}",
	    &it), "ERR 1:1 more than 3 #each rounds");
	cr_expect_str_eq(run_opt("{{#each a}}{{#each ../a}}{{/each}}{{/each}}",
	    "{\"a\":[1,2]}", &it), "ERR 1:1 more than 3 #each rounds");
	/* work without output is bounded too: 100 rounds of nothing, each
	 * reading a long key, pass a small cap's budget */
	{
		struct template_options	w = { 16, 0, true, NOW };
		char			ctx[512];

		snprintf(ctx, sizeof(ctx), "{\"a\":[%s1]}",
		    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		    "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,");
		cr_expect_str_eq(run_opt("{{#each a}}{{#if "
		    "this.aaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}{{/if}}{{/each}}", ctx,
		    &w), "ERR 1:18 the template does more work than its "
		    "output cap allows (1152 units)");
	}
}

Test(template, reuse_and_null_options)
{
	struct template_error	 e;
	struct template		*t;
	json_t			*c1, *c2;
	char			*a, *b;
	size_t			 la, lb;

	t = template_new("{{x}}-{{timestamp \"YYYY\"}}", 26, &e);
	cr_assert_not_null(t);
	c1 = json_pack("{s:i}", "x", 1);
	c2 = json_pack("{s:s}", "x", "two");
	a = template_render(t, c1, NULL, &la, &e);
	b = template_render(t, c2, NULL, &lb, &e);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_expect_eq(strncmp(a, "1-2", 3), 0, "%s", a);
	cr_expect_eq(strncmp(b, "two-2", 5), 0, "%s", b);
	cr_expect_eq(la, 6);
	free(a);
	free(b);
	json_decref(c1);
	json_decref(c2);
	template_free(t);
	/* a NUL inside the text is kept; errors may be ignored with NULL */
	a = template_render_text("a\0b", 3, NULL, NULL, &la, NULL);
	cr_assert_not_null(a);
	cr_expect_eq(la, 3);
	cr_expect_eq(memcmp(a, "a\0b", 3), 0);
	free(a);
	cr_expect_null(template_render_text("{{#if}}", 7, NULL, NULL, &la,
	    NULL));
}

Test(template, integratorio_examples)
{
	EXPECT("/admin/products.json{{#compare export.http.paging.page \"!=\" "
	    "\"1\"}}?page={{{export.http.paging.page}}}{{/compare}}",
	    "{\"export\":{\"http\":{\"paging\":{\"page\":3}}}}",
	    "/admin/products.json?page=3");
	EXPECT("/v2/orders?updated_since={{{lastExportDateTime}}}&page="
	    "{{{export.http.paging.page}}}",
	    "{\"lastExportDateTime\":\"2020-07-09T19:59:39.156Z\","
	    "\"export\":{\"http\":{\"paging\":{\"page\":1}}}}",
	    "/v2/orders?updated_since=2020-07-09T19:59:39.156Z&page=1");
	EXPECT("Bearer {{{connection.http.encrypted.apiKey}}}",
	    "{\"connection\":{\"http\":{\"encrypted\":{\"apiKey\":\"k&y\"}}}}",
	    "Bearer k&y");
	EXPECT("{\"cursor\":\"{{{previous_page.full_response.next}}}\","
	    "\"after\":{{{previous_page.last_record.id}}}}",
	    "{\"previous_page\":{\"full_response\":{\"next\":\"c2\"},"
	    "\"last_record\":{\"id\":41}}}", "{\"cursor\":\"c2\",\"after\":41}");
	EXPECT("{{#each record.items}}{...}{{#if @last}}{{else}},{{/if}}"
	    "{{/each}}", "{\"record\":{\"items\":[1,2,3]}}",
	    "{...},{...},{...}");
}
