/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Hooks into the store for its unit tests and its other source files: opening
 * with a custom migration list, the connection and the SQLite-to-errno mapping.
 * Nothing outside the store's files and tests uses this. */
#pragma once

#include <stddef.h>

#include "store.h"

/* store_open() with steps[0..n_steps) in place of the built-in migrations:
 * step i (one or more SQL statements) takes the schema from version i to i+1.
 * Same return contract as store_open(); a failing step is rolled back, leaving
 * the version at i, and its -errno is returned. */
int store_open_with_migrations(const char *dir, const char *const *steps, size_t n_steps, Store **ret);

/* The connection, for the store's other files (store-knobs.c); never NULL for an open store. */
struct sqlite3 *store_db(Store *s);

/* Maps an (extended) SQLite result code to 0 or -errno. system_errno is
 * sqlite3_system_errno(), used for open and I/O failures when > 0. Never fails. */
int store_errno_from_sqlite(int code, int system_errno);

/* Helpers shared by store.c and the store-*.c table modules. */

/* Logs (debug) and converts a SQLite result code on db to -errno (store_errno_from_sqlite). */
int store_error(struct sqlite3 *db, int code, const char *what);
/* Prepares a statement, or hands out the connection's compiled one of the same SQL text that nobody
 * holds; release it with store_finalizep() (which keeps it for the next user). One thread per
 * process uses the store. Returns 0 or -errno. */
int store_prepare(struct sqlite3 *db, const char *sql, struct sqlite3_stmt **ret);
/* Steps st: 1 with a row ready, 0 when done, or -errno. */
int store_step(struct sqlite3 *db, struct sqlite3_stmt *st, const char *what);
/* _cleanup_ helper releasing a statement of store_prepare() (reset and kept) or finalising another
 * (NULL is fine). */
void store_finalizep(struct sqlite3_stmt **st);
/* Fills *ret_elem from the current row of st. Returns 0 or -errno. */
typedef int (*StoreRowFn)(struct sqlite3_stmt *st, void *ret_elem);
/* Frees the n elements of v and v itself. */
typedef void (*StoreListFreeFn)(void *v, size_t n);

/* The one list loop: steps the prepared and bound st to its end, each row turned into an element
 * of size bytes by from_row. Returns 0 with a new array in *ret (NULL when empty) and its length,
 * or -errno with nothing allocated (free_list frees what was read). */
int store_collect(struct sqlite3 *db, struct sqlite3_stmt *st, const char *what, size_t size, StoreRowFn from_row,
                  StoreListFreeFn free_list, void **ret, size_t *ret_n);
