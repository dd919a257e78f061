/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-c builders with -ENOMEM on allocation failure (see jsonutil.h). */
#include <errno.h>

#include "jsonutil.h"

int json_add_full(json_object *o, const char *key, json_object *v, bool null_ok) {
        if (!v && !null_ok)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

int json_add(json_object *o, const char *key, json_object *v) {
        return json_add_full(o, key, v, false);
}

int json_add_string(json_object *o, const char *key, const char *s) {
        return s ? json_add(o, key, json_object_new_string(s)) : json_add_full(o, key, NULL, true);
}

int json_add_int(json_object *o, const char *key, int64_t v, bool known) {
        return known ? json_add(o, key, json_object_new_int64(v)) : json_add_full(o, key, NULL, true);
}

int json_append(json_object *a, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}
