/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading maiod's JSON replies defensively (a member may be missing, null or of
 * another type than expected) and printing them in -o json mode. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* The one serialisation used for -o json, so output is stable across verbs. */
#define REPLY_JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Returns the member if it exists and has the given type, else NULL. o may be NULL. */
json_object *reply_member(json_object *o, const char *key, json_type type);

/* Returns the member's string, or NULL when missing, null or not a string. */
const char *reply_string(json_object *o, const char *key);

/* Returns true and stores the member in *ret when it is an integer, else false. */
bool reply_int(json_object *o, const char *key, int64_t *ret);

/* Returns true and stores the member in *ret when it is a boolean, else false. */
bool reply_bool(json_object *o, const char *key, bool *ret);

/* Text for a table cell: strings as they are, numbers as JSON prints them, booleans
 * as "yes"/"no", missing or null as "-". The text lives as long as o. Never NULL. */
const char *reply_text(json_object *o, const char *key);

/* Finds {"error":{"code":..,"message":..}}; fields that are absent become NULL.
 * Returns true when the reply carries an error object. */
bool reply_error(json_object *reply, const char **ret_code, const char **ret_message);

/* Prints o pretty-printed with REPLY_JSON_FLAGS and a newline. Returns 0, or
 * -ENOMEM / -EIO. */
int reply_print_json(json_object *o, FILE *f);
