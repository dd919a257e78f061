/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small json-c builders that turn json-c's out-of-memory signals (NULL objects,
 * -1 returns) into -ENOMEM, so object builders stay flat. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* Adds v under key; a NULL v is JSON null when null_ok, else an allocation
 * failure. Frees v when adding fails. Returns 0 or -ENOMEM. */
int json_add_full(json_object *o, const char *key, json_object *v, bool null_ok);
/* Adds v (NULL = allocation failed) under key; frees v when adding fails. Returns 0 or -ENOMEM. */
int json_add(json_object *o, const char *key, json_object *v);
/* Adds s as a string, or JSON null when s is NULL. Returns 0 or -ENOMEM. */
int json_add_string(json_object *o, const char *key, const char *s);
/* Adds v, or JSON null when !known. Returns 0 or -ENOMEM. */
int json_add_int(json_object *o, const char *key, int64_t v, bool known);
/* Appends v (NULL = allocation failed) to array a; frees v when that fails. Returns 0 or -ENOMEM. */
int json_append(json_object *a, json_object *v);

static inline void json_object_putp(json_object **o) {
        json_object_put(*o);
}
