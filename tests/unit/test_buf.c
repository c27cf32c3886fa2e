/* Unit tests for util/buf. */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util/buf.h"

Test(buf, init_is_empty_and_terminated)
{
	struct buf	b;

	buf_init(&b, 0);
	cr_assert_not_null(b.data);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	buf_free(&b);
	cr_assert_str_eq(b.data, "");
}

Test(buf, appends)
{
	struct buf	b;

	buf_init(&b, 0);
	cr_assert_eq(buf_add(&b, "ab", 2), 0);
	cr_assert_eq(buf_adds(&b, "cd"), 0);
	cr_assert_eq(buf_addc(&b, 'e'), 0);
	cr_assert_eq(buf_printf(&b, "%d-%s", 42, "x"), 0);
	cr_assert_eq(buf_add(&b, NULL, 0), 0);
	cr_assert_eq(b.len, 9);
	cr_assert_str_eq(b.data, "abcde42-x");
	cr_assert_eq(b.data[b.len], '\0');
	cr_assert_geq(b.size, b.len + 1);
	buf_free(&b);
}

Test(buf, embedded_nul)
{
	struct buf	b;

	buf_init(&b, 0);
	cr_assert_eq(buf_add(&b, "a\0b", 3), 0);
	cr_assert_eq(b.len, 3);
	cr_assert_eq(memcmp(b.data, "a\0b", 4), 0);
	buf_free(&b);
}

Test(buf, grows_large)
{
	struct buf	b;
	size_t		i;

	buf_init(&b, 0);
	for (i = 0; i < 100000; i++)
		cr_assert_eq(buf_addc(&b, (char)('a' + i % 26)), 0);
	cr_assert_eq(b.len, 100000);
	cr_assert_eq(strlen(b.data), 100000);
	for (i = 0; i < 100000; i++)
		cr_assert_eq(b.data[i], (char)('a' + i % 26));
	cr_assert_eq(buf_printf(&b, "%05000d", 7), 0);
	cr_assert_eq(b.len, 105000);
	cr_assert_eq(b.data[104999], '7');
	cr_assert_eq(b.data[104998], '0');
	buf_free(&b);
}

Test(buf, cap_is_hard_and_leaves_buffer_unchanged)
{
	struct buf	b;

	buf_init(&b, 5);
	cr_assert_eq(buf_adds(&b, "abc"), 0);
	cr_assert_eq(buf_adds(&b, "def"), -1);
	cr_assert_eq(b.len, 3);
	cr_assert_str_eq(b.data, "abc");
	cr_assert_eq(buf_printf(&b, "%s", "xyz"), -1);
	cr_assert_eq(b.len, 3);
	cr_assert_str_eq(b.data, "abc");
	cr_assert_eq(buf_adds(&b, "de"), 0);
	cr_assert_str_eq(b.data, "abcde");
	cr_assert_eq(buf_addc(&b, 'f'), -1);
	cr_assert_eq(buf_add(&b, "", 0), 0);
	cr_assert_str_eq(b.data, "abcde");
	cr_assert_eq(buf_add(&b, "x", (size_t)-1), -1);
	buf_free(&b);

	buf_init(&b, 3);
	cr_assert_eq(buf_printf(&b, "%d", 1234), -1);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	cr_assert_eq(buf_printf(&b, "%d", 123), 0);
	cr_assert_str_eq(b.data, "123");
	buf_free(&b);
}

Test(buf, reset_keeps_cap)
{
	struct buf	b;

	buf_init(&b, 4);
	cr_assert_eq(buf_adds(&b, "abcd"), 0);
	buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	cr_assert_eq(buf_adds(&b, "wxyz"), 0);
	cr_assert_eq(buf_adds(&b, "!"), -1);
	cr_assert_str_eq(b.data, "wxyz");
	buf_free(&b);
}

Test(buf, steal)
{
	struct buf	 b;
	char		*s;
	size_t		 len = 99;

	buf_init(&b, 0);
	buf_adds(&b, "hello");
	s = buf_steal(&b, &len);
	cr_assert_str_eq(s, "hello");
	cr_assert_eq(len, 5);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.data, "");
	free(s);

	/* The buffer is usable again after a steal. */
	buf_adds(&b, "again");
	cr_assert_str_eq(b.data, "again");
	buf_free(&b);

	/* Stealing an empty buffer still gives a string to free. */
	buf_init(&b, 0);
	s = buf_steal(&b, &len);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, "");
	cr_assert_eq(len, 0);
	free(s);
	s = buf_steal(&b, NULL);
	cr_assert_str_eq(s, "");
	free(s);
	buf_free(&b);
}
