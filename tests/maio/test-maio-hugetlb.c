/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real hugetlb path of the pool. Runs only where free 2 MB hugetlb pages exist; never
 * changes vm.nr_hugepages itself (exit 77 with the reason otherwise). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <maio/maio.h>

int main(void) {
        long n = 0;
        FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "re");
        if (f) {
                if (fscanf(f, "%ld", &n) != 1)
                        n = 0;
                fclose(f);
        }
        if (n < 2) {
                printf("SKIP: %ld free 2 MB hugetlb pages (need 2); this test never raises vm.nr_hugepages\n", n);
                return 77;
        }
        maio_pool *p = NULL;
        maio_pool_config cfg = { .size = 4u << 20,
                                 .numa_node = -1,
                                 .flags = MAIO_POOL_NO_DAEMON | MAIO_POOL_REQUIRE_HUGETLB };
        int r = maio_pool_new(&cfg, &p);
        if (r < 0) {
                printf("FAIL: maio_pool_new with REQUIRE_HUGETLB: %s\n", strerror(-r));
                return 1;
        }
        maio_pool_stats st;
        maio_pool_stats_get(p, &st);
        int rc = 0;
        if (st.backing != MAIO_BACKING_HUGETLB || st.backing_reason) {
                printf("FAIL: backing %s\n", maio_backing_to_string(st.backing));
                rc = 1;
        }
        void *b;
        if (maio_alloc(p, 4096, &b) < 0 || (memset(b, 1, 4096), maio_free(p, b)) < 0) {
                printf("FAIL: alloc/free on hugetlb memory\n");
                rc = 1;
        }
        maio_pool_free(p);
        if (rc == 0)
                printf("PASS: hugetlb pool\n");
        return rc;
}
