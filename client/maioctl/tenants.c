/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl tenants list|show|add|rm: thin wrappers around /v1/tenants that print
 * the daemon's objects as tables or, with -o json, as the daemon sent them. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

static int tenants_list_table(json_object *reply) {
        static const Field cols[] = {
                { "ID", "id" },   { "NAME", "name" }, { "PRIO", "priority" }, { "CLASS", "workload_class" },
                { "UID", "uid" }, { "PID", "pid" },   { "CGROUP", "cgroup" },
        };

        return maioctl_print_list(reply_member(reply, "tenants", json_type_array), cols, ELEMENTSOF(cols));
}

ExitStatus tenants_list(const Args *a) {
        return maioctl_list(a, "/v1/tenants", "tenants", tenants_list_table);
}

/* "1234 (alive)", "1234 (exited)", or just the pid when maiod could not tell. */
static int tenants_add_pid(Table *t, json_object *tenant) {
        bool alive;

        if (!reply_member(tenant, "pid", json_type_int) || !reply_bool(tenant, "pid_alive", &alive))
                return table_add_pair(t, "pid", reply_text(tenant, "pid"));
        return table_add_pairf(t, "pid", "%s (%s)", reply_text(tenant, "pid"), alive ? "alive" : "exited");
}

static int tenants_show_table(json_object *tenant) {
        static const Field fields[] = {
                { "id", "id" },
                { "name", "name" },
                { "priority", "priority" },
                { "class", "workload_class" },
                { "uid", "uid" },
                { "pid", NULL },
                { "cgroup", "cgroup" },
                { "created", "created" },
                { "addresses", "addresses" },
        };
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? 0 : -ENOMEM;

        for (size_t i = 0; i < ELEMENTSOF(fields) && r >= 0; i++)
                r = fields[i].key ? table_add_pair(t, fields[i].title, reply_text(tenant, fields[i].key))
                                  : tenants_add_pid(t, tenant);
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus tenants_show(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        e = maioctl_call(a, "GET", maioctl_tenant_path(path, a->id, NULL), NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply || !json_object_is_type(reply, json_type_object))
                return maioctl_bad_reply(a, "no tenant object");
        return maioctl_output(a, reply, tenants_show_table);
}

/* Adds v (taking it) under key; a NULL v is json-c's out-of-memory signal. */
static int tenants_body_add(json_object *body, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(body, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* Only what the user gave, so maiod's defaults apply to the rest. */
static int tenants_add_body(const Args *a, json_object **ret) {
        _cleanup_json_ json_object *body = json_object_new_object();
        int r;

        if (!body)
                return -ENOMEM;
        r = tenants_body_add(body, "name", json_object_new_string(a->name));
        if (r >= 0 && a->priority >= 0)
                r = tenants_body_add(body, "priority", json_object_new_int(a->priority));
        if (r >= 0 && a->workload_class)
                r = tenants_body_add(body, "workload_class", json_object_new_string(a->workload_class));
        if (r >= 0 && a->pid >= 0)
                r = tenants_body_add(body, "pid", json_object_new_int(a->pid));
        if (r >= 0 && a->cgroup)
                r = tenants_body_add(body, "cgroup", json_object_new_string(a->cgroup));
        if (r >= 0 && a->addresses) {
                json_object *list = json_object_new_array();

                /* Checked by maiod, which names the address it refuses. */
                for (const char *p = a->addresses; list && *p;) {
                        size_t n = strcspn(p, ",");

                        if (n > 0)
                                json_object_array_add(list, json_object_new_string_len(p, (int) n));
                        p += n + (p[n] == ',');
                }
                r = tenants_body_add(body, "addresses", list);
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(body);
        return 0;
}

static int tenants_add_table(json_object *created) {
        static const Field fields[] = { { "id", "id" }, { "name", "name" }, { "token", "token" } };
        int r;

        r = maioctl_print_fields(created, fields, ELEMENTSOF(fields));
        if (r >= 0)
                printf("Note: the token is shown only once; store it now. The tenant uses it as a bearer token over TCP.\n");
        return r;
}

ExitStatus tenants_add(const Args *a) {
        _cleanup_json_ json_object *body = NULL, *reply = NULL;
        ExitStatus e;
        int r;

        r = tenants_add_body(a, &body);
        if (r < 0)
                return maioctl_local_error(r);
        e = maioctl_call(a, "POST", "/v1/tenants", body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "id", json_type_int))
                return maioctl_bad_reply(a, "no tenant id");
        return maioctl_output(a, reply, tenants_add_table);
}

ExitStatus tenants_rm(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        char path[TENANT_PATH_MAX];

        /* Success prints nothing, in both output modes. */
        return maioctl_call(a, "DELETE", maioctl_tenant_path(path, a->id, NULL), NULL, &reply);
}
