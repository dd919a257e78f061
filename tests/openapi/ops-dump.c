/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints the ops table as "METHOD PATH ACCESS" lines, so check-openapi.py can
 * compare the daemon's routes with api/openapi.yaml. */
#include <stdio.h>
#include <stdlib.h>

#include "ops.h"

/* The spec's x-maio-access class of an op. The table is finer than the spec: an op about one
 * tenant (OP_TENANT_OWN) and one served to unix peers only (OP_PEER, the spec's
 * x-maio-transport: unix) are open to any authenticated caller, as "tenant" says; which tenant,
 * or which transport, is checked after that. */
static const char *access_to_string(OpAccess a) {
        switch (a) {
        case OP_PUBLIC:
                return "public";
        case OP_TENANT:
        case OP_TENANT_OWN:
        case OP_PEER:
                return "tenant";
        case OP_ADMIN:
                return "admin";
        }
        return NULL;
}

int main(void) {
        size_t n = 0;
        const Op *ops = ops_table(&n);

        for (size_t i = 0; i < n; i++) {
                const char *a = access_to_string(ops[i].access);

                /* An access class this program does not know must fail the check, not vanish. */
                if (!a) {
                        fprintf(stderr, "ops-dump: op %s has unknown access class %d\n", ops[i].name,
                                (int) ops[i].access);
                        return EXIT_FAILURE;
                }
                printf("%s %s %s\n", ops[i].method, ops[i].path, a);
        }
        if (fflush(stdout) != 0 || ferror(stdout))
                return EXIT_FAILURE;
        return EXIT_SUCCESS;
}
