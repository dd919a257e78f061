/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small aligned-column printer for maioctl's human output: tables with a header
 * row (tenants list) and key/value lists (status, tenants show). */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include "macro.h"

typedef struct Table Table;

/* header holds n_columns names, or is NULL for a table without a header row.
 * Returns NULL when n_columns is 0 or memory runs out. */
Table *table_new(size_t n_columns, const char *const *header);

/* Frees t (NULL is fine) and returns NULL. */
Table *table_free(Table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Table *, table_free)

/* Appends one cell, filling rows left to right. text is copied; NULL prints as "-".
 * Control characters are shown as '?' so a reply cannot drive the terminal.
 * Returns 0 or -ENOMEM. */
int table_add_cell(Table *t, const char *text);
int table_add_cellf(Table *t, const char *format, ...) _printf_(2, 3);

/* For two-column key/value tables: adds "key:" and the value. Returns 0 or -ENOMEM. */
int table_add_pair(Table *t, const char *key, const char *value);
int table_add_pairf(Table *t, const char *key, const char *format, ...) _printf_(3, 4);

/* Prints the table: columns padded to their widest cell and separated by two
 * spaces, the last column unpadded; a short last row is completed with blanks.
 * Returns 0, or -EIO when writing fails. */
int table_print(const Table *t, FILE *f);
