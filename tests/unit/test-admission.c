/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/tenants/tenants-admission.c: which limits apply to an identity (group
 * overrides, most permissive wins), cgroup delegation by ownership, the hierarchy a root offers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "tenants.h"

static TenantsConf conf_with_groups(void) {
        TenantsConf c = { .max_per_uid = 16, .highest_priority = 4, .n_groups = 3 };

        c.groups[0] = (TenantGroupLimits) { .name = "users", .gid = 100, .max_per_uid = 64, .highest_priority = 6 };
        c.groups[1] = (TenantGroupLimits) { .name = "ops", .gid = 200, .max_per_uid = 2, .highest_priority = 1 };
        c.groups[2] = (TenantGroupLimits) { .name = "none", .gid = 300, .max_per_uid = 0, .highest_priority = 7 };
        return c;
}

static void test_limits_for(void **state) {
        TenantsConf c = conf_with_groups();
        Identity who = { .kind = IDENTITY_PEER, .uid = 1000, .gid = 1000 };
        TenantLimits l;

        /* No group section matches: [tenants]. */
        l = tenants_limits_for(&c, &who);
        assert_int_equal(l.max_per_uid, 16);
        assert_int_equal(l.highest_priority, 4);
        assert_string_equal(l.count_source, "[tenants]");
        assert_string_equal(l.priority_source, "[tenants]");

        /* One group (as the primary group): it overrides, stricter or not. */
        who.gid = 300;
        l = tenants_limits_for(&c, &who);
        assert_int_equal(l.max_per_uid, 0);
        assert_int_equal(l.highest_priority, 7);
        assert_string_equal(l.count_source, "[tenants.group.none]");

        /* Several (supplementary) groups: each limit's most permissive value, with its own source. */
        who.gid = 1000;
        who.groups[0] = 300;
        who.groups[1] = 200;
        who.groups[2] = 100;
        who.n_groups = 3;
        l = tenants_limits_for(&c, &who);
        assert_int_equal(l.max_per_uid, 64);
        assert_string_equal(l.count_source, "[tenants.group.users]");
        assert_int_equal(l.highest_priority, 1);
        assert_string_equal(l.priority_source, "[tenants.group.ops]");

        /* Order does not matter. */
        who.groups[0] = 100;
        who.groups[2] = 300;
        l = tenants_limits_for(&c, &who);
        assert_int_equal(l.max_per_uid, 64);
        assert_int_equal(l.highest_priority, 1);
}

static char *make_root(void) {
        char *root = strdup("/tmp/maio-unit-admission-XXXXXX");

        assert_non_null(root);
        assert_non_null(mkdtemp(root));
        return root;
}

static void mkpath(const char *root, const char *rel, bool file) {
        char path[PATH_MAX], cmd[PATH_MAX + 32];

        snprintf(path, sizeof path, "%s/%s", root, rel);
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
        if (file) {
                *strrchr(cmd, '/') = '\0';
                strcat(cmd, "'");
        }
        assert_int_equal(system(cmd), 0);
        if (file) {
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

                assert_true(fd >= 0);
                close(fd);
        }
}

static void rm_root(char *root) {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
        free(root);
}

static void test_hierarchy(void **state) {
        char *root = make_root();

        assert_string_equal(tenants_cgroup_hierarchy(root), "none");
        mkpath(root, "sys/fs/cgroup/memory", false);
        assert_string_equal(tenants_cgroup_hierarchy(root), "v1");
        mkpath(root, "sys/fs/cgroup/unified/cgroup.controllers", true);
        assert_string_equal(tenants_cgroup_hierarchy(root), "hybrid");
        mkpath(root, "sys/fs/cgroup/cgroup.controllers", true);
        assert_string_equal(tenants_cgroup_hierarchy(root), "v2");
        rm_root(root);
}

static void test_owned_by(void **state) {
        char *root = make_root(), dir[PATH_MAX], procs[PATH_MAX];
        uid_t me = getuid(), other = me + 4242;

        mkpath(root, "cg/procs", false);
        snprintf(dir, sizeof dir, "%s/cg", root);
        assert_true(tenants_cgroup_owned_by(dir, me));     /* the directory's owner */
        assert_false(tenants_cgroup_owned_by(dir, other)); /* anyone else */
        snprintf(dir, sizeof dir, "%s/missing", root);
        assert_false(tenants_cgroup_owned_by(dir, me));
        if (me == 0) {
                /* Delegated through cgroup.procs alone (needs chown: root only). */
                mkpath(root, "cg2/cgroup.procs", true);
                snprintf(dir, sizeof dir, "%s/cg2", root);
                snprintf(procs, sizeof procs, "%s/cg2/cgroup.procs", root);
                assert_false(tenants_cgroup_owned_by(dir, other));
                assert_int_equal(chown(procs, other, 0), 0);
                assert_true(tenants_cgroup_owned_by(dir, other));
                assert_int_equal(chmod(procs, 0444), 0); /* owned but not writable: not delegated */
                assert_false(tenants_cgroup_owned_by(dir, other));
        }
        rm_root(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_limits_for),
                cmocka_unit_test(test_hierarchy),
                cmocka_unit_test(test_owned_by),
        };

        return cmocka_run_group_tests_name("admission", tests, NULL, NULL);
}
