/* test_access.c - scenarios for who may change stubd's settings: the rule
 * (root, CAP_NET_ADMIN, control-group), the reading of /proc/PID/status
 * for the caller's effective capabilities, and the refusal's phrase. */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "stubd/access.h"

/* ---- helpers ------------------------------------------------------------ */

#define CONTROL_GID ((gid_t)990)

static struct access_caller caller(uid_t uid)
{
	struct access_caller c;
	memset(&c, 0, sizeof(c));
	c.known = true;
	c.uid = uid;
	c.groups[0] = (gid_t)uid;
	c.n_groups = 1;
	return c;
}

/* The text of /proc/PID/status as Linux 6.x writes it, with the Uid
 * line's values and CapEff given; NULL leaves the line out. */
static const char *status_text(const char *uid_values, const char *cap_eff)
{
	static char text[4096];
	char uid_line[128] = "", cap_line[128] = "";
	if (uid_values)
		snprintf(uid_line, sizeof(uid_line), "Uid:\t%s\n", uid_values);
	if (cap_eff)
		snprintf(cap_line, sizeof(cap_line), "CapEff:\t%s\n", cap_eff);
	snprintf(text, sizeof(text),
		 "Name:\tresolvectl\n"
		 "Umask:\t0022\n"
		 "State:\tS (sleeping)\n"
		 "Tgid:\t4242\n"
		 "Ngid:\t0\n"
		 "Pid:\t4242\n"
		 "PPid:\t4100\n"
		 "TracerPid:\t0\n"
		 "%s"
		 "Gid:\t1000\t1000\t1000\t1000\n"
		 "FDSize:\t256\n"
		 "Groups:\t4 24 27 30 46 100 990 1000 \n"
		 "NStgid:\t4242\n"
		 "NSpid:\t4242\n"
		 "NSpgid:\t4242\n"
		 "NSsid:\t4100\n"
		 "VmPeak:\t   18908 kB\n"
		 "VmSize:\t   18844 kB\n"
		 "Threads:\t1\n"
		 "SigQ:\t0/62741\n"
		 "SigPnd:\t0000000000000000\n"
		 "ShdPnd:\t0000000000000000\n"
		 "SigBlk:\t0000000000000000\n"
		 "SigIgn:\t0000000000001000\n"
		 "SigCgt:\t0000000180000000\n"
		 "CapInh:\t0000000000000000\n"
		 "CapPrm:\t0000000000000000\n"
		 "%s"
		 "CapBnd:\t000001ffffffffff\n"
		 "CapAmb:\t0000000000000000\n"
		 "NoNewPrivs:\t0\n"
		 "Seccomp:\t0\n"
		 "Seccomp_filters:\t0\n"
		 "Speculation_Store_Bypass:\tthread vulnerable\n"
		 "Cpus_allowed:\tff\n"
		 "Cpus_allowed_list:\t0-7\n"
		 "voluntary_ctxt_switches:\t3\n"
		 "nonvoluntary_ctxt_switches:\t1\n",
		 uid_line, cap_line);
	return text;
}

/* What access_parse_proc_status makes of a status, for a caller of uid
 * 1000 whose cap_net_admin starts as start. */
static int parse(const char *text, bool start, bool *cap)
{
	struct access_caller c = caller(1000);
	c.cap_net_admin = start;
	int rc = access_parse_proc_status(text, &c);
	*cap = c.cap_net_admin;
	/* Only cap_net_admin is the parser's to change. */
	assert_true(c.known);
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.n_groups, 1);
	return rc;
}

/* The kernel's word on this process's effective CAP_NET_ADMIN. */
static bool own_cap_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	memset(d, 0, sizeof(d));
	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	return (d[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
}

/* ---- the rule ----------------------------------------------------------- */

static void test_unknown_caller_refused(void **state)
{
	(void)state;
	/* Whatever the rest says: credentials that could not be had. */
	struct access_caller c = caller(0);
	c.known = false;
	c.cap_net_admin = true;
	c.groups[0] = CONTROL_GID;
	assert_false(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));
	struct access_caller zero = { .known = false };
	assert_false(access_may_change(&zero, CONTROL_GID, ACCESS_NO_UID));
	assert_false(access_may_change(&zero, ACCESS_NO_GROUP, ACCESS_NO_UID));
}

static void test_root_allowed(void **state)
{
	(void)state;
	struct access_caller c = caller(0);
	assert_true(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));
	assert_true(access_may_change(&c, ACCESS_NO_GROUP, ACCESS_NO_UID));
	c.n_groups = 0;
	assert_true(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));
}

/* stubd's own user (systemctl reload runs stubctl as it): allowed, in no
 * group; another user is not, and ACCESS_NO_UID matches nobody. */
static void test_own_user_allowed(void **state)
{
	(void)state;
	struct access_caller c = caller(996);
	c.n_groups = 0;
	assert_true(access_may_change(&c, ACCESS_NO_GROUP, 996));
	assert_false(access_may_change(&c, ACCESS_NO_GROUP, 997));
	assert_false(access_may_change(&c, ACCESS_NO_GROUP, ACCESS_NO_UID));
	struct access_caller all_ones = caller(ACCESS_NO_UID);
	all_ones.n_groups = 0;
	assert_false(access_may_change(&all_ones, ACCESS_NO_GROUP, ACCESS_NO_UID));
}

static void test_cap_net_admin_allowed(void **state)
{
	(void)state;
	struct access_caller c = caller(1000);
	assert_false(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));
	c.cap_net_admin = true;
	assert_true(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));
	assert_true(access_may_change(&c, ACCESS_NO_GROUP, ACCESS_NO_UID));
}

static void test_control_group(void **state)
{
	(void)state;
	struct access_caller c = caller(1000);
	/* Supplementary, last of several. */
	c.groups[c.n_groups++] = 24;
	c.groups[c.n_groups++] = 27;
	c.groups[c.n_groups++] = CONTROL_GID;
	assert_true(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));

	/* Primary. */
	struct access_caller p = caller(1000);
	p.groups[0] = CONTROL_GID;
	assert_true(access_may_change(&p, CONTROL_GID, ACCESS_NO_UID));

	/* The last place of a full list. */
	struct access_caller full = caller(1000);
	for (size_t i = 0; i < ACCESS_MAX_GROUPS; i++)
		full.groups[i] = (gid_t)(2000 + i);
	full.n_groups = ACCESS_MAX_GROUPS;
	assert_false(access_may_change(&full, CONTROL_GID, ACCESS_NO_UID));
	full.groups[ACCESS_MAX_GROUPS - 1] = CONTROL_GID;
	assert_true(access_may_change(&full, CONTROL_GID, ACCESS_NO_UID));
}

static void test_not_a_member_refused(void **state)
{
	(void)state;
	struct access_caller c = caller(1000);
	c.groups[c.n_groups++] = 24;
	c.groups[c.n_groups++] = CONTROL_GID + 1;
	assert_false(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));

	/* Only the first n_groups count: what lies past them is stale. */
	c.groups[c.n_groups] = CONTROL_GID;
	assert_false(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));

	/* No groups at all. */
	c.n_groups = 0;
	assert_false(access_may_change(&c, CONTROL_GID, ACCESS_NO_UID));

	/* A uid equal to the group's id is not membership. */
	struct access_caller same = caller((uid_t)CONTROL_GID);
	same.groups[0] = 100;
	assert_false(access_may_change(&same, CONTROL_GID, ACCESS_NO_UID));
}

/* No control group on this system: only root and CAP_NET_ADMIN, even
 * for a caller who lists (gid_t)-1 among its groups. */
static void test_no_group(void **state)
{
	(void)state;
	struct access_caller c = caller(1000);
	c.groups[c.n_groups++] = ACCESS_NO_GROUP;
	assert_false(access_may_change(&c, ACCESS_NO_GROUP, ACCESS_NO_UID));
	c.groups[0] = ACCESS_NO_GROUP;
	assert_false(access_may_change(&c, ACCESS_NO_GROUP, ACCESS_NO_UID));
	assert_true(access_may_change(&(struct access_caller){ .known = true, .uid = 0 }, ACCESS_NO_GROUP, ACCESS_NO_UID));
}

/* ---- /proc/PID/status --------------------------------------------------- */

static void test_parse_cap_eff(void **state)
{
	(void)state;
	bool cap;
	const char *uid = "1000\t1000\t1000\t1000";

	/* CAP_NET_ADMIN is bit 12. */
	assert_int_equal(CAP_NET_ADMIN, 12);
	assert_int_equal(parse(status_text(uid, "0000000000001000"), false, &cap), 0);
	assert_true(cap);
	/* With others around it. */
	assert_int_equal(parse(status_text(uid, "0000000000003400"), false, &cap), 0);
	assert_true(cap);
	/* All of them, as root's. */
	assert_int_equal(parse(status_text(uid, "000001ffffffffff"), false, &cap), 0);
	assert_true(cap);

	/* None: a true left from before is cleared. */
	assert_int_equal(parse(status_text(uid, "0000000000000000"), true, &cap), 0);
	assert_false(cap);
	/* All but CAP_NET_ADMIN. */
	assert_int_equal(parse(status_text(uid, "000001ffffffefff"), true, &cap), 0);
	assert_false(cap);
	/* Its neighbours only (CAP_NET_BIND_SERVICE, CAP_NET_BROADCAST, CAP_NET_RAW). */
	assert_int_equal(parse(status_text(uid, "0000000000002c00"), true, &cap), 0);
	assert_false(cap);
	/* CapPrm and CapBnd are not CapEff: the text's CapBnd has bit 12. */
	assert_int_equal(parse(status_text(uid, "0000000000000000"), false, &cap), 0);
	assert_false(cap);
}

/* Uid: real, effective, saved, filesystem. The effective one must be the
 * caller's: else the PID has since gone to another user's process. */
static void test_parse_uid(void **state)
{
	(void)state;
	bool cap;
	/* A set-uid program run by 1000: effective 1000 is what counts. */
	assert_int_equal(parse(status_text("0\t1000\t1000\t1000", "0000000000001000"), false, &cap), 0);
	assert_true(cap);

	/* A reused PID: another user's process with CAP_NET_ADMIN lends
	 * nothing, and leaves cap_net_admin as it was. */
	assert_int_equal(parse(status_text("0\t0\t0\t0", "000001ffffffffff"), false, &cap), -EINVAL);
	assert_false(cap);
	assert_int_equal(parse(status_text("1001\t1001\t1001\t1001", "0000000000001000"), false, &cap),
			 -EINVAL);
	assert_false(cap);
	/* Real uid the caller's, effective not. */
	assert_int_equal(parse(status_text("1000\t0\t0\t0", "000001ffffffffff"), false, &cap), -EINVAL);
	assert_false(cap);
	/* 1000 followed by more digits is another uid. */
	assert_int_equal(parse(status_text("10000\t10000\t10000\t10000", "0000000000001000"), false, &cap),
			 -EINVAL);

	/* Root's own: c->uid 0 and Uid 0. */
	struct access_caller root = caller(0);
	assert_int_equal(access_parse_proc_status(status_text("0\t0\t0\t0", "000001ffffffffff"), &root), 0);
	assert_true(root.cap_net_admin);

	/* A large uid, as systemd's dynamic users and user namespaces have. */
	struct access_caller big = caller(4000000000u);
	assert_int_equal(access_parse_proc_status(
				 status_text("4000000000\t4000000000\t4000000000\t4000000000", "0000000000001000"),
				 &big),
			 0);
	assert_true(big.cap_net_admin);
}

static void test_parse_missing(void **state)
{
	(void)state;
	bool cap;
	assert_int_equal(parse(status_text(NULL, "0000000000001000"), false, &cap), -EINVAL);
	assert_false(cap);
	assert_int_equal(parse(status_text("1000\t1000\t1000\t1000", NULL), false, &cap), -EINVAL);
	assert_int_equal(parse(status_text(NULL, NULL), false, &cap), -EINVAL);
	assert_int_equal(parse("", false, &cap), -EINVAL);
	assert_int_equal(parse("\n\n", false, &cap), -EINVAL);

	/* The keys only at the start of a line: a process's name is its own
	 * to choose (the kernel escapes a newline in it). */
	assert_int_equal(parse("Name:\tUid:\t1000\t1000 CapEff:\t1000\n", false, &cap), -EINVAL);
	/* Keys that only begin like them. */
	assert_int_equal(parse("Uidx:\t1000\t1000\t1000\t1000\nCapEffective:\t0000000000001000\n",
			       false, &cap), -EINVAL);
	/* Lowercase is another key. */
	assert_int_equal(parse("uid:\t1000\t1000\t1000\t1000\ncapeff:\t0000000000001000\n", false, &cap),
			 -EINVAL);

	/* Just the two lines, the last without its newline. */
	assert_int_equal(parse("Uid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000001000", false, &cap), 0);
	assert_true(cap);
	/* In the other order. */
	assert_int_equal(parse("CapEff:\t0000000000001000\nUid:\t1000\t1000\t1000\t1000\n", false, &cap), 0);
	assert_true(cap);
}

static void test_parse_garbage(void **state)
{
	(void)state;
	bool cap;
	const char *uid = "1000\t1000\t1000\t1000";
	assert_int_equal(parse(status_text(uid, "not-hex"), false, &cap), -EINVAL);
	assert_false(cap);
	assert_int_equal(parse(status_text(uid, "zzzzzzzzzzzzzzzz"), true, &cap), -EINVAL);
	assert_true(cap);
	/* Hex with garbage after it. */
	assert_int_equal(parse(status_text(uid, "00000000000010zz"), false, &cap), -EINVAL);
	assert_false(cap);
	/* More than 64 bits. */
	assert_int_equal(parse(status_text(uid, "1ffffffffffffffffffff"), false, &cap), -EINVAL);
	assert_false(cap);
	/* CapEff with nothing after it: not the next line's value. */
	assert_int_equal(parse(status_text(uid, ""), false, &cap), -EINVAL);
	assert_false(cap);
	assert_int_equal(parse("Uid:\t1000\t1000\t1000\t1000\nCapEff:\n1000\n", false, &cap), -EINVAL);
	assert_false(cap);

	/* The Uid line's garbage. */
	assert_int_equal(parse(status_text("abc", "0000000000001000"), false, &cap), -EINVAL);
	assert_int_equal(parse(status_text("", "0000000000001000"), false, &cap), -EINVAL);
	assert_int_equal(parse(status_text("-1000\t-1000\t-1000\t-1000", "0000000000001000"), false, &cap),
			 -EINVAL);
	assert_false(cap);
	/* One value only: the effective one is not the next line's. */
	struct access_caller root = caller(0);
	assert_int_equal(access_parse_proc_status("Uid:\t1000\n0\nCapEff:\t0000000000001000\n", &root),
			 -EINVAL);
	assert_false(root.cap_net_admin);
}

static void test_read_own_status(void **state)
{
	(void)state;
	struct access_caller c = caller(geteuid());
	c.cap_net_admin = !own_cap_net_admin();
	assert_int_equal(access_read_proc(getpid(), &c), 0);
	assert_int_equal(c.cap_net_admin, own_cap_net_admin());

	/* This process, taken for another user's: refused. */
	struct access_caller other = caller(geteuid() + 1);
	assert_int_equal(access_read_proc(getpid(), &other), -EINVAL);
	assert_false(other.cap_net_admin);
}

static void test_read_missing_pid(void **state)
{
	(void)state;
	/* PIDs are below pid_max; INT_MAX is above any pid_max Linux allows. */
	pid_t gone = INT_MAX;
	FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
	if (f) {
		int max;
		if (fscanf(f, "%d", &max) == 1 && max > 0)
			gone = (pid_t)max;
		fclose(f);
	}
	struct access_caller c = caller(geteuid());
	int rc = access_read_proc(gone, &c);
	if (rc != -ENOENT && rc != -ESRCH)
		fail_msg("pid %d gave %d", (int)gone, rc);
	assert_false(c.cap_net_admin);
	rc = access_read_proc(INT_MAX, &c);
	if (rc != -ENOENT && rc != -ESRCH)
		fail_msg("pid %d gave %d", INT_MAX, rc);
}

/* ---- the refusal's phrase ------------------------------------------------ */

static void test_who_may(void **state)
{
	(void)state;
	char buf[128];
	const char *s = access_who_may("stubd", buf, sizeof(buf));
	assert_ptr_equal(s, buf);
	assert_string_equal(s, "root, CAP_NET_ADMIN or group 'stubd'");
	assert_string_equal(access_who_may("netdev", buf, sizeof(buf)),
			    "root, CAP_NET_ADMIN or group 'netdev'");

	/* A small buffer: cut, terminated. */
	char small[10];
	memset(small, 'x', sizeof(small));
	assert_string_equal(access_who_may("stubd", small, sizeof(small)), "root, CAP");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_caller_refused),
		cmocka_unit_test(test_root_allowed),
		cmocka_unit_test(test_cap_net_admin_allowed),
		cmocka_unit_test(test_own_user_allowed),
		cmocka_unit_test(test_control_group),
		cmocka_unit_test(test_not_a_member_refused),
		cmocka_unit_test(test_no_group),
		cmocka_unit_test(test_parse_cap_eff),
		cmocka_unit_test(test_parse_uid),
		cmocka_unit_test(test_parse_missing),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_read_own_status),
		cmocka_unit_test(test_read_missing_pid),
		cmocka_unit_test(test_who_may),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
