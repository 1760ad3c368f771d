/* test_netaddr.c - unit tests for ADDR[:PORT] parsing and printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "stubd/netaddr.h"

static void expect_parse(const char *text, const char *printed, int family)
{
	struct netaddr a;
	char buf[NETADDR_STRLEN];
	assert_int_equal(netaddr_parse(text, 53, &a), 0);
	assert_int_equal(netaddr_family(&a), family);
	assert_string_equal(netaddr_str(&a, buf, sizeof(buf)), printed);
}

static void test_parse_forms(void **state)
{
	expect_parse("127.0.0.53", "127.0.0.53:53", AF_INET);
	expect_parse("127.0.0.53:5353", "127.0.0.53:5353", AF_INET);
	expect_parse("::1", "[::1]:53", AF_INET6);
	expect_parse("[::1]", "[::1]:53", AF_INET6);
	expect_parse("[::1]:5300", "[::1]:5300", AF_INET6);
	expect_parse("2001:db8::1", "[2001:db8::1]:53", AF_INET6);
	expect_parse("0.0.0.0:65535", "0.0.0.0:65535", AF_INET);
}

static void test_parse_rejects(void **state)
{
	const char *bad[] = {
		"", "localhost", "127.0.0.300", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:-1", "127.0.0.1:+53", "127.0.0.1:53x", "[::1", "[::1]x", "[::1]:",
		"[127.0.0.1]:53", "1.2.3", "::1::2", "[::1]:99999",
		"0123456789012345678901234567890123456789012345678901234567890123456789",
	};
	struct netaddr a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netaddr_parse(bad[i], 53, &a), -EINVAL);
	assert_int_equal(netaddr_parse(NULL, 53, &a), -EINVAL);
}

static void test_equal_and_loopback(void **state)
{
	struct netaddr a, b, c, d;
	netaddr_parse("127.0.0.53", 53, &a);
	netaddr_parse("127.0.0.53:53", 53, &b);
	netaddr_parse("127.0.0.53:54", 53, &c);
	netaddr_parse("[::ffff:127.0.0.53]:53", 53, &d);
	assert_true(netaddr_equal(&a, &b));
	assert_false(netaddr_equal(&a, &c));
	assert_false(netaddr_equal(&a, &d)); /* different families */
	assert_int_equal(netaddr_port(&c), 54);

	assert_true(netaddr_is_loopback(&a));
	assert_true(netaddr_is_loopback(&d));
	netaddr_parse("::1", 53, &a);
	assert_true(netaddr_is_loopback(&a));
	netaddr_parse("192.0.2.1", 53, &a);
	assert_false(netaddr_is_loopback(&a));
	netaddr_parse("::2", 53, &a);
	assert_false(netaddr_is_loopback(&a));
}

static bool in(const char *addr, const char *block)
{
	struct netaddr a;
	struct netaddr_prefix p;
	assert_int_equal(netaddr_parse(addr, 53, &a), 0);
	assert_int_equal(netaddr_prefix_parse(block, &p), 0);
	return netaddr_in_prefix(&a, &p);
}

static void test_prefixes(void **state)
{
	assert_true(in("192.168.1.9", "192.168.1.0/24"));
	assert_false(in("192.168.2.9", "192.168.1.0/24"));
	assert_true(in("100.64.2.3", "100.64.0.0/10"));
	assert_true(in("192.0.2.1", "192.0.2.1"));          /* a bare address: /32 */
	assert_false(in("192.0.2.2", "192.0.2.1"));
	assert_true(in("198.51.100.1", "0.0.0.0/0"));
	assert_true(in("192.168.1.129", "192.168.1.128/25"));
	assert_false(in("192.168.1.127", "192.168.1.128/25"));
	assert_true(in("2001:db8::5", "2001:db8::/32"));
	assert_false(in("2001:db9::5", "2001:db8::/32"));
	assert_false(in("2001:db8::5", "192.0.2.0/24"));     /* families differ */
	assert_true(in("[::ffff:192.0.2.9]:53", "192.0.2.0/24")); /* v4-mapped */

	struct netaddr_prefix p;
	char buf[64];
	assert_int_equal(netaddr_prefix_parse("192.168.1.77/24", &p), 0);
	assert_string_equal(netaddr_prefix_str(&p, buf, sizeof(buf)), "192.168.1.0/24");
	const char *bad[] = { "", "/24", "192.168.1.0/", "192.168.1.0/33", "::/129",
			      "192.168.1.0/2x", "192.168.1.0/-1", "lan", "192.168.1.0/24/1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netaddr_prefix_parse(bad[i], &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_equal_and_loopback),
		cmocka_unit_test(test_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
