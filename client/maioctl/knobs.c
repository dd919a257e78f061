/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl knobs list|get|set|restore: the kernel knobs maiod owns through its
 * journal (/v1/knobs). Tables for people, the daemon's JSON with -o json. */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

/* "/v1/knobs/" + the name with every byte outside [A-Za-z0-9._-] percent-encoded,
 * so a name with "/" reaches maiod as one (refused) segment instead of another path. */
static int knobs_path(const char *name, char **ret) {
        static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        size_t n = strlen(name);
        char *p, *s = malloc(sizeof "/v1/knobs/" + 3 * n);

        if (!s)
                return -ENOMEM;
        p = stpcpy(s, "/v1/knobs/");
        for (size_t i = 0; i < n; i++)
                if (strchr(safe, name[i]))
                        *p++ = name[i];
                else
                        p += sprintf(p, "%%%02X", (unsigned char) name[i]);
        *p = '\0';
        *ret = s;
        return 0;
}

static int knobs_list_table(json_object *reply) {
        static const Field cols[] = {
                { "NAME", "name" },   { "SCOPE", "scope" },       { "LIVE", "live" },
                { "STATE", "state" }, { "ORIGINAL", "original" },
        };

        return maioctl_print_list(reply_member(reply, "knobs", json_type_array), cols, ELEMENTSOF(cols));
}

ExitStatus knobs_list(const Args *a) {
        return maioctl_list(a, "/v1/knobs", "knobs", knobs_list_table);
}

/* One knob object as key/value lines (get, set, restore NAME). */
static int knobs_table(json_object *knob) {
        static const Field fields[] = {
                { "name", "name" },
                { "scope", "scope" },
                { "type", "type" },
                { "allowed", "allowed" },
                { "live", "live" },
                { "state", "state" },
                { "original", "original" },
                { "desired", "desired" },
                { "applied", "applied" },
                { "changed", "changed" },
                { "changed by", "changed_by" },
                { "path", "path" },
                { "available", "available" },
                { "requires", "requires" },
                { "doc", "doc" },
        };

        return maioctl_print_fields(knob, fields, ELEMENTSOF(fields));
}

/* Sends method to the knob's path with body and prints the knob answered. */
static ExitStatus knobs_one(const Args *a, const char *method, json_object *body) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL;
        ExitStatus e;
        int r;

        r = knobs_path(a->name, &path);
        if (r < 0)
                return maioctl_local_error(r);
        e = maioctl_call(a, method, path, body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_string(reply, "name"))
                return maioctl_bad_reply(a, "no knob object");
        return maioctl_output(a, reply, knobs_table);
}

ExitStatus knobs_get(const Args *a) {
        return knobs_one(a, "GET", NULL);
}

ExitStatus knobs_set(const Args *a) {
        _cleanup_json_ json_object *body = json_object_new_object();
        json_object *v = json_object_new_string(a->value);

        /* Always a string: maiod validates and normalises it for the knob's type. */
        if (!body || !v || json_object_object_add(body, "value", v) < 0) {
                json_object_put(v);
                return maioctl_local_error(-ENOMEM);
        }
        return knobs_one(a, "PUT", body);
}

static int knobs_restored_table(json_object *restored) {
        static const Field fields[] = { { "restored", "restored" }, { "remaining", "remaining" } };

        return maioctl_print_fields(restored, fields, ELEMENTSOF(fields));
}

ExitStatus knobs_restore(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        ExitStatus e;

        if (a->name)
                return knobs_one(a, "DELETE", NULL);
        e = maioctl_call(a, "POST", "/v1/knobs/restore", NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "restored", json_type_int))
                return maioctl_bad_reply(a, "no \"restored\" count");
        return maioctl_output(a, reply, knobs_restored_table);
}
