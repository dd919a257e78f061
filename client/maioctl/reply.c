/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Defensive accessors for maiod's JSON replies: the daemon and maioctl evolve
 * separately, so a member of the wrong type reads as "absent", never as a crash. */

#include <errno.h>

#include "reply.h"

json_object *reply_member(json_object *o, const char *key, json_type type) {
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        /* json-c represents JSON null as a NULL member. */
        if (!v || !json_object_is_type(v, type))
                return NULL;
        return v;
}

const char *reply_string(json_object *o, const char *key) {
        json_object *v = reply_member(o, key, json_type_string);

        return v ? json_object_get_string(v) : NULL;
}

bool reply_int(json_object *o, const char *key, int64_t *ret) {
        json_object *v = reply_member(o, key, json_type_int);

        if (!v)
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

bool reply_bool(json_object *o, const char *key, bool *ret) {
        json_object *v = reply_member(o, key, json_type_boolean);

        if (!v)
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

const char *reply_text(json_object *o, const char *key) {
        json_object *v;

        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) || !v)
                return "-";

        switch (json_object_get_type(v)) {
        case json_type_boolean:
                return json_object_get_boolean(v) ? "yes" : "no";
        case json_type_string:
                return json_object_get_string(v);
        case json_type_null:
                return "-";
        default: {
                /* Numbers keep the daemon's own text; objects and arrays print compactly. */
                const char *s =
                        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                return s ?: "-";
        }
        }
}

bool reply_error(json_object *reply, const char **ret_code, const char **ret_message) {
        json_object *e = reply_member(reply, "error", json_type_object);

        *ret_code = reply_string(e, "code");
        *ret_message = reply_string(e, "message");
        return e != NULL;
}

int reply_print_json(json_object *o, FILE *f) {
        const char *s = json_object_to_json_string_ext(o, REPLY_JSON_FLAGS);

        if (!s)
                return -ENOMEM;
        if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
                return -EIO;
        return 0;
}
