/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the cmocka unit tests share (see testutil.h); linked into every unit test binary. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

const char *testutil_fixtures;
TestTree testutil_tree;

int testutil_fixtures_init(void) {
        testutil_fixtures = getenv("MAIO_FIXTURES");
        if (!testutil_fixtures) {
                fprintf(stderr, "MAIO_FIXTURES is not set; run through meson test or point it at tests/fixtures.\n");
                return -ENOENT;
        }
        return 0;
}

void testutil_sh(const char *format, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;

        va_start(ap, format);
        assert_true(vasprintf(&cmd, format, ap) > 0);
        va_end(ap);
        assert_int_equal(system(cmd), 0);
}

int testutil_tree_setup(const char *name, const char *fixture, bool state) {
        TestTree *t = &testutil_tree;

        assert_true(snprintf(t->dir, sizeof t->dir, "/tmp/test-%s-XXXXXX", name) < (int) sizeof t->dir);
        assert_non_null(mkdtemp(t->dir));
        assert_true(snprintf(t->root, sizeof t->root, "%s/root", t->dir) < (int) sizeof t->root);
        assert_true(snprintf(t->state, sizeof t->state, "%s/state", t->dir) < (int) sizeof t->state);
        assert_true(snprintf(t->pristine, sizeof t->pristine, "%s/%s", testutil_fixtures, fixture) <
                    (int) sizeof t->pristine);
        if (state)
                testutil_sh("cp -a '%s' '%s' && mkdir -m 0700 '%s'", t->pristine, t->root, t->state);
        else
                testutil_sh("cp -a '%s' '%s'", t->pristine, t->root);
        return 0;
}

int testutil_tree_teardown(void **state) {
        testutil_sh("rm -rf '%s'", testutil_tree.dir);
        return 0;
}

char *testutil_file_text(const char *root, const char *rel) {
        _cleanup_free_ char *path = NULL;
        char *buf = calloc(1, 8192);
        int fd;

        assert_non_null(buf);
        assert_true(asprintf(&path, "%s/%s", root, rel) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(read(fd, buf, 8191) >= 0);
        close(fd);
        return buf;
}

char *testutil_text_of(const char *rel) {
        return testutil_file_text(testutil_tree.root, rel);
}

void testutil_assert_text(const char *rel, const char *want) {
        _cleanup_free_ char *t = testutil_text_of(rel);

        if (strcmp(t, want) != 0)
                fail_msg("%s holds '%s', expected '%s'", rel, t, want);
}

void testutil_put_text(const char *rel, const char *text) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        assert_true(asprintf(&path, "%s/%s", testutil_tree.root, rel) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

void testutil_assert_pristine(void) {
        testutil_sh("diff -r --no-dereference '%s' '%s'", testutil_tree.pristine, testutil_tree.root);
}

Store *testutil_store_open(void) {
        Store *s = NULL;

        assert_int_equal(store_open(testutil_tree.state, &s), 0);
        return s;
}

void testutil_write_file(const char *base, const char *rel, const char *content) {
        _cleanup_free_ char *p = NULL;
        FILE *f;

        assert_true(asprintf(&p, "%s/%s", base, rel) > 0);
        for (char *s = strchr(p + strlen(base) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        fail_msg("mkdir %s: %s", p, strerror(errno));
                *s = '/';
        }
        f = fopen(p, "we");
        assert_non_null(f);
        assert_true(fputs(content, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

char *testutil_files_tree(const char *name, const TestFile *files, size_t n_files) {
        const char *tmp = getenv("TMPDIR");
        char *dir;

        if (asprintf(&dir, "%s/%s-XXXXXX", tmp ?: "/tmp", name) < 0)
                return NULL;
        if (!mkdtemp(dir)) {
                free(dir);
                return NULL;
        }
        for (size_t i = 0; i < n_files; i++)
                testutil_write_file(dir, files[i].rel, files[i].content);
        return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

int testutil_files_tree_teardown(void **state) {
        if (nftw(*state, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "Failed to remove %s: %s\n", (char *) *state, strerror(errno));
        free(*state);
        return 0;
}
