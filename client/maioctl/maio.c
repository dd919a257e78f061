/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl maio list|grant|release: the per-node hugepage reserve behind libmaio's
 * buffer pools (/v1/maio, /v1/tenants/ID/maio). Tables for people, the daemon's
 * JSON with -o json. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

int maio_parse_bytes(const char *s, int64_t *ret) {
        static const struct {
                const char *suffix;
                unsigned shift;
        } units[] = {
                { "", 0 },   { "K", 10 },   { "KiB", 10 }, { "M", 20 },   { "MiB", 20 },
                { "G", 30 }, { "GiB", 30 }, { "T", 40 },   { "TiB", 40 },
        };
        unsigned long long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (strcmp(end, units[i].suffix) != 0)
                        continue;
                if (v == 0 || v > ((unsigned long long) INT64_MAX >> units[i].shift))
                        return -ERANGE;
                *ret = (int64_t) (v << units[i].shift);
                return 0;
        }
        return -EINVAL;
}

/* Two tables: the reserve of each node, then the grants. */
static int maio_list_table(json_object *maio) {
        static const Field node_cols[] = {
                { "NODE", "node" },
                { "ORIGINAL", "original_pages" },
                { "GRANTED", "granted_pages" },
                { "HEADROOM", "headroom_pages" },
                { "TARGET", "target_pages" },
                { "TOTAL", "total_pages" },
                { "FREE", "free_pages" },
                { "STATE", "state" },
        };
        static const Field grant_cols[] = {
                { "TENANT", "tenant_id" }, { "NAME", "tenant" }, { "NODE", "node" },
                { "PAGES", "pages" },      { "BYTES", "bytes" }, { "CREATED", "created" },
        };
        int r;

        r = maioctl_print_list(reply_member(maio, "nodes", json_type_array), node_cols, ELEMENTSOF(node_cols));
        if (r < 0)
                return r;
        putchar('\n');
        return maioctl_print_list(reply_member(maio, "grants", json_type_array), grant_cols, ELEMENTSOF(grant_cols));
}

ExitStatus maio_list(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        e = maioctl_call(a, "GET", "/v1/maio", NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "nodes", json_type_array) || !reply_member(reply, "grants", json_type_array))
                return maioctl_bad_reply(a, "no \"nodes\" and \"grants\" arrays");
        return maioctl_output(a, reply, maio_list_table);
}

static int maio_granted_table(json_object *grant) {
        static const Field fields[] = {
                { "tenant", "tenant_id" },
                { "name", "tenant" },
                { "node", "node" },
                { "pages", "pages" },
                { "bytes", "bytes" },
                { "requested", "requested_bytes" },
                { "replaced", "replaced_pages" },
        };
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        json_object *reserve = reply_member(grant, "reserve", json_type_object);
        int r = t ? maioctl_add_fields(t, grant, fields, ELEMENTSOF(fields)) : -ENOMEM;

        if (r >= 0)
                r = table_add_pairf(t, "node pages", "%s total, %s target, %s granted",
                                    reply_text(reserve, "total_pages"), reply_text(reserve, "target_pages"),
                                    reply_text(reserve, "granted_pages"));
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus maio_grant(const Args *a) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        if (!body || json_object_object_add(body, "bytes", json_object_new_int64(a->bytes)) < 0 ||
            json_object_object_add(body, "node", json_object_new_int(a->node >= 0 ? a->node : 0)) < 0)
                return maioctl_local_error(-ENOMEM);
        e = maioctl_call(a, "POST", maioctl_tenant_path(path, a->id, "maio"), body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "pages", json_type_int))
                return maioctl_bad_reply(a, "no grant object");
        return maioctl_output(a, reply, maio_granted_table);
}

static int maio_released_table(json_object *released) {
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? 0 : -ENOMEM;

        if (r >= 0)
                r = table_add_pair(t, "tenant", reply_text(released, "tenant_id"));
        if (r >= 0)
                r = table_add_pairf(t, "released", "%zu grant(s)",
                                    json_object_array_length(reply_member(released, "released", json_type_array)));
        if (r >= 0)
                r = table_add_pair(t, "pages", reply_text(released, "pages"));
        if (r >= 0)
                r = table_add_pair(t, "bytes", reply_text(released, "bytes"));
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus maio_release(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        e = maioctl_call(a, "DELETE", maioctl_tenant_path(path, a->id, "maio"), NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "released", json_type_array))
                return maioctl_bad_reply(a, "no \"released\" array");
        return maioctl_output(a, reply, maio_released_table);
}
