/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runner of testgroups.h: selects a group by argv[1], runs it with cmocka and turns the counts
 * of failed and skipped cases into the exit status meson expects (0, 77 or 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testgroups.h"

#define EXIT_SKIP 77

static size_t skipped;

void testgroups_skip(const char *format, ...) {
        va_list ap;

        fputs("SKIP: ", stdout);
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        fputc('\n', stdout);
        fflush(stdout);
        skipped++;
        skip();
        abort(); /* skip() leaves the case through longjmp() */
}

static const TestGroup *find_group(const char *name, const TestGroup *groups, size_t n_groups) {
        for (size_t i = 0; i < n_groups; i++)
                if (name ? groups[i].name && strcmp(groups[i].name, name) == 0 : !groups[i].name)
                        return &groups[i];
        return NULL;
}

static int usage(const char *prog, const TestGroup *groups, size_t n_groups) {
        fprintf(stderr, "Usage: %s [GROUP]\nGroups (none: the cases any host can run):\n", prog);
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i].name)
                        fprintf(stderr, "  %-12s needs %s\n", groups[i].name, groups[i].needs);
        return 1;
}

int testgroups_run(int argc, char **argv, const TestGroup *groups, size_t n_groups) {
        const char *name = argc > 1 ? argv[1] : NULL;
        const TestGroup *g;
        int failed;

        if (argc > 2 || !(g = find_group(name, groups, n_groups)))
                return usage(argv[0], groups, n_groups);
        skipped = 0;
        failed = _cmocka_run_group_tests(name ?: "default", g->tests, g->n_tests, NULL, NULL);
        if (failed != 0)
                return 1;
        if (skipped == 0)
                return 0;
        if (skipped == g->n_tests && g->needs) {
                printf("SKIP: every case of group %s skipped: it needs %s.\n", name ?: "default", g->needs);
                return EXIT_SKIP;
        }
        if (!g->needs) {
                printf("FAIL: %zu cases of the default group skipped; it holds what any host can run.\n", skipped);
                return 1;
        }
        printf("FAIL: %zu of %zu cases of group %s skipped while the others passed; exiting 77 would hide "
               "those passes: move the skipping cases to a group of their own.\n",
               skipped, g->n_tests, name ?: "default");
        return 1;
}
