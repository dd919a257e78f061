/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the cmocka unit tests share: shell commands that must succeed, a temp copy of a fixture
 * tree (MAIO_FIXTURES) with a state directory, its files, the store on it, and small temp trees of
 * hand-written files. Each test builds the module it tests from these; none builds a Manager. Helpers fail the running
 * test on error unless they say they return one. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"
#include "store.h"

/* The temp copy the running test works on; filled by testutil_tree_setup(). */
typedef struct TestTree {
        char dir[64];            /* the mkdtemp() directory; teardown removes all of it */
        char root[128];          /* dir/root: the copy of the fixture tree */
        char state[128];         /* dir/state: an empty 0700 directory, when asked for */
        char pristine[PATH_MAX]; /* the fixture tree that was copied */
} TestTree;

/* One hand-written file of a temp tree: content goes to <tree>/rel. */
typedef struct TestFile {
        const char *rel, *content;
} TestFile;

/* $MAIO_FIXTURES, set by testutil_fixtures_init(). */
extern const char *testutil_fixtures;
extern TestTree testutil_tree;

/* Reads $MAIO_FIXTURES; returns 0, or -ENOENT after saying on stderr that it is not set. */
int testutil_fixtures_init(void);

/* Runs the formatted command with system(); fails the test unless it exits 0. */
void testutil_sh(const char *format, ...) _printf_(1, 2);

/* Copies fixture (a directory below $MAIO_FIXTURES) to a new /tmp/test-<name>-XXXXXX/root and, with
 * state, makes an empty dir/state; fills testutil_tree. Returns 0 (cmocka setup), fails the test otherwise. */
int testutil_tree_setup(const char *name, const char *fixture, bool state);
/* Removes testutil_tree.dir; cmocka teardown signature, returns 0. */
int testutil_tree_teardown(void **state);

/* Returns root/rel's first 8191 bytes as a new NUL-terminated string (free() it); fails the test
 * when the file cannot be read. */
char *testutil_file_text(const char *root, const char *rel);
/* testutil_file_text() below testutil_tree.root. */
char *testutil_text_of(const char *rel);
/* Fails the test unless the file rel below testutil_tree.root holds exactly want. */
void testutil_assert_text(const char *rel, const char *want);
/* Replaces the file rel below testutil_tree.root with text; fails the test on error. */
void testutil_put_text(const char *rel, const char *text);
/* Fails the test unless every file of the copy is byte-for-byte the fixture's. */
void testutil_assert_pristine(void);

/* Opens the store in testutil_tree.state (testutil_tree_setup() with state), as maiod's start does;
 * opening it again, e.g. after a simulated restart, sees what was committed. Fails the test
 * otherwise. Free with store_free(). */
Store *testutil_store_open(void);

/* Writes content to base/rel, making the directories between; fails the test on error. */
void testutil_write_file(const char *base, const char *rel, const char *content);
/* Makes $TMPDIR/<name>-XXXXXX (default /tmp) holding files; returns it (free() it), or NULL
 * when the directory cannot be made. */
char *testutil_files_tree(const char *name, const TestFile *files, size_t n_files);
/* Removes the tree *state (from testutil_files_tree()) and frees its name; says so on stderr when
 * removing fails. cmocka teardown signature, returns 0. */
int testutil_files_tree_teardown(void **state);
