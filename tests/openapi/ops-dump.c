/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prints the ops table as "METHOD PATH ACCESS" lines, so check-openapi.py can compare the
 * daemon's routes with api/openapi.yaml; with --netlink, "CMD NAME PARAMS FIELDS" lines, and with
 * --netlink-only "CMD NAME request|notification" lines of the commands without an op, for
 * check-netlink.py (api/maio_netlink.h, api/netlink.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlink.h"
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

static const char *const field_types[_FIELD_TYPE_MAX] = {
        [FIELD_STRING] = "string", [FIELD_INT] = "s64",       [FIELD_DOUBLE] = "double", [FIELD_BOOL] = "u8",
        [FIELD_ENUM] = "string",   [FIELD_SCALAR] = "string", [FIELD_JSON] = "json",
};

/* One field list: "1:name:string,2:priority:s64,..." or "-". */
static void dump_fields(const FieldSet *set) {
        if (!set)
                fputs("-", stdout);
        for (size_t k = 0; set && k < set->n; k++)
                printf("%s%u:%s:%s", k ? "," : "", set->fields[k].id, set->fields[k].name,
                       field_types[set->fields[k].type]);
}

/* "7 tenants.get id - REPLY" or "6 tenants.create - 1:name:string,2:priority:s64,... REPLY", where
 * REPLY lists the typed reply fields the same way ("-": the reply is JSON). */
static int dump_netlink(const Op *ops, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *params = strstr(ops[i].path, "{id}") ? "id" : strstr(ops[i].path, "{name}") ? "name" : "-";

                printf("%u %s %s ", ops[i].cmd, ops[i].name, params);
                dump_fields(ops[i].body);
                putchar(' ');
                dump_fields(ops[i].reply);
                putchar('\n');
        }
        return fflush(stdout) != 0 || ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* "27 notify.subscribe request" */
static int dump_netlink_only(void) {
        size_t n = 0;
        const NetlinkCommand *c = netlink_commands(&n);

        for (size_t i = 0; i < n; i++)
                printf("%u %s %s\n", c[i].cmd, c[i].name, c[i].request ? "request" : "notification");
        return fflush(stdout) != 0 || ferror(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        size_t n = 0;
        const Op *ops = ops_table(&n);

        if (argc > 1 && strcmp(argv[1], "--netlink") == 0)
                return dump_netlink(ops, n);
        if (argc > 1 && strcmp(argv[1], "--netlink-only") == 0)
                return dump_netlink_only();

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
