/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Aligned-column printer: cells are kept as copied strings in row-major order and
 * widths are measured in characters (UTF-8 aware) only when printing. */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

#define TABLE_GAP 2

struct Table {
        size_t n_columns;
        char **cells;
        size_t n_cells;
        size_t allocated;
};

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

/* Takes ownership of text. */
static int table_push(Table *t, char *text) {
        if (t->n_cells == t->allocated) {
                size_t n = t->allocated > 0 ? t->allocated * 2 : 16;
                char **p = reallocarray(t->cells, n, sizeof(char *));

                if (!p) {
                        free(text);
                        return -ENOMEM;
                }
                t->cells = p;
                t->allocated = n;
        }
        /* Anything below 0x20 and DEL would move the cursor or worse. */
        for (char *c = text; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        *c = '?';
        t->cells[t->n_cells++] = text;
        return 0;
}

Table *table_new(size_t n_columns, const char *const *header) {
        _cleanup_(table_freep) Table *t = NULL;

        if (n_columns == 0)
                return NULL;
        t = calloc(1, sizeof(Table));
        if (!t)
                return NULL;
        t->n_columns = n_columns;

        if (header) {
                for (size_t i = 0; i < n_columns; i++)
                        if (table_add_cell(t, header[i]) < 0)
                                return NULL;
        }
        return TAKE_PTR(t);
}

int table_add_cell(Table *t, const char *text) {
        char *copy = strdup(text ?: "-");

        if (!copy)
                return -ENOMEM;
        return table_push(t, copy);
}

int table_add_cellf(Table *t, const char *format, ...) {
        char *text;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_push(t, text);
}

int table_add_pair(Table *t, const char *key, const char *value) {
        int r;

        r = table_add_cellf(t, "%s:", key);
        if (r < 0)
                return r;
        return table_add_cell(t, value);
}

int table_add_pairf(Table *t, const char *key, const char *format, ...) {
        char *text;
        va_list ap;
        int r;

        r = table_add_cellf(t, "%s:", key);
        if (r < 0)
                return r;

        va_start(ap, format);
        r = vasprintf(&text, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return table_push(t, text);
}

/* Width on a terminal, counting UTF-8 sequences as one column each. */
static size_t table_width(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                if (((unsigned char) *s & 0xc0) != 0x80)
                        n++;
        return n;
}

int table_print(const Table *t, FILE *f) {
        _cleanup_free_ size_t *widths = NULL;
        size_t n_rows;

        widths = calloc(t->n_columns, sizeof(size_t));
        if (!widths)
                return -ENOMEM;
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t w = table_width(t->cells[i]), *col = &widths[i % t->n_columns];

                if (w > *col)
                        *col = w;
        }

        n_rows = (t->n_cells + t->n_columns - 1) / t->n_columns;
        for (size_t row = 0; row < n_rows; row++)
                for (size_t col = 0; col < t->n_columns; col++) {
                        size_t i = row * t->n_columns + col;
                        const char *s = i < t->n_cells ? t->cells[i] : "";
                        bool last = col + 1 == t->n_columns;

                        if (last)
                                fprintf(f, "%s\n", s);
                        else
                                fprintf(f, "%s%*s", s, (int) (widths[col] - table_width(s) + TABLE_GAP), "");
                }

        return ferror(f) ? -EIO : 0;
}
