/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Groups of cmocka cases in one test binary, each group its own meson test(): the default group
 * holds what runs on any host, every other group the cases that need one capability a host may lack.
 * A group exits 77 only when all of its cases skipped, so no passing case hides behind a skip. */
#pragma once

#include <stddef.h>

/* Include after <cmocka.h>. */
typedef struct TestGroup {
        const char *name;  /* selects the group as argv[1]; NULL for the default group (no argument) */
        const char *needs; /* what the group's cases need, said when they skip */
        const struct CMUnitTest *tests;
        size_t n_tests;
} TestGroup;

/* A group of the array tests. tests/<dir>/meson.build registers one test() per TEST_GROUP("name", ...) it
 * finds in the source, so a group is declared in exactly one place: keep the name a string literal. */
#define TEST_GROUP(group_name, group_needs, group_tests)                              \
        {                                                                             \
                .name = (group_name), .needs = (group_needs), .tests = (group_tests), \
                .n_tests = sizeof(group_tests) / sizeof((group_tests)[0])             \
        }

/* Skips the running case and says why (printf format); testgroups_run() counts it. Call it only
 * from the case itself (it leaves through cmocka's skip()), never from setup or teardown. */
void testgroups_skip(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Runs the group argv[1] names, or the default group without an argument. Returns the exit status
 * for main(): 0 when every case passed; 77 when every case skipped (the reasons printed); 1 when a
 * case failed, when some cases skipped while others passed (that would hide the passes behind 77:
 * the skipping cases belong in a group of their own), or when the arguments name no group. */
int testgroups_run(int argc, char **argv, const TestGroup *groups, size_t n_groups);
