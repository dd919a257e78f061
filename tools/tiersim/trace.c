/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Trace construction (dense page ids, per-epoch merging) and the parser of
 * the text trace format: one `epoch page count` sample per line, `#` comments
 * and blank lines ignored, epochs non-decreasing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

/* Page number -> dense id, open addressing. */
typedef struct PageSlot {
        uint64_t page;
        uint32_t id; /* id + 1; 0 = empty */
} PageSlot;

struct TraceBuilder {
        PageSlot *map;
        size_t map_slots; /* power of two */
        size_t n_pages;
        uint64_t first_epoch, cur_epoch;
        bool any;
        /* entries so far */
        uint32_t *page;
        uint64_t *count;
        size_t n_entries, cap_entries;
        size_t *epoch_start; /* one per epoch started so far */
        size_t n_epochs, cap_epochs;
        /* per dense page: last epoch it appeared in (+1) and its entry there */
        uint64_t *seen_epoch;
        size_t *seen_entry;
        size_t cap_pages;
        uint64_t total;
};

void trace_free(Trace *t) {
        if (!t)
                return;
        free(t->epoch_start);
        free(t->page);
        free(t->count);
        free(t);
}

int trace_builder_new(TraceBuilder **ret) {
        TraceBuilder *b = calloc(1, sizeof(TraceBuilder));

        if (!b)
                return -ENOMEM;
        b->map_slots = 1024;
        b->map = calloc(b->map_slots, sizeof(PageSlot));
        if (!b->map) {
                free(b);
                return -ENOMEM;
        }
        *ret = b;
        return 0;
}

void trace_builder_free(TraceBuilder *b) {
        if (!b)
                return;
        free(b->map);
        free(b->page);
        free(b->count);
        free(b->epoch_start);
        free(b->seen_epoch);
        free(b->seen_entry);
        free(b);
}

/* Grows *p (elements of size sz, capacity *cap) to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t sz) {
        size_t n = *cap ? *cap : 256;
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * sz);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}

static size_t page_hash(uint64_t page) {
        uint64_t h = page * UINT64_C(0x9e3779b97f4a7c15);

        return (size_t) (h ^ (h >> 32));
}

static PageSlot *map_find(PageSlot *map, size_t slots, uint64_t page) {
        size_t i = page_hash(page) & (slots - 1);

        while (map[i].id != 0 && map[i].page != page)
                i = (i + 1) & (slots - 1);
        return &map[i];
}

static int map_grow(TraceBuilder *b) {
        size_t n = b->map_slots * 2;
        PageSlot *m = calloc(n, sizeof(PageSlot));

        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < b->map_slots; i++)
                if (b->map[i].id != 0)
                        *map_find(m, n, b->map[i].page) = b->map[i];
        free(b->map);
        b->map = m;
        b->map_slots = n;
        return 0;
}

/* Dense id of page, allocating one on first sight. */
static int page_id(TraceBuilder *b, uint64_t page, uint32_t *ret) {
        PageSlot *s = map_find(b->map, b->map_slots, page);
        int r;

        if (s->id != 0) {
                *ret = s->id - 1;
                return 0;
        }
        if (b->n_pages >= TRACE_MAX_PAGES)
                return -E2BIG;
        if ((b->n_pages + 1) * 2 > b->map_slots) {
                r = map_grow(b);
                if (r < 0)
                        return r;
                s = map_find(b->map, b->map_slots, page);
        }
        if (b->n_pages + 1 > b->cap_pages) {
                size_t cap = b->cap_pages;
                size_t *q;

                r = grow((void **) &b->seen_epoch, &cap, b->n_pages + 1, sizeof(uint64_t));
                if (r < 0)
                        return r;
                /* seen_entry shares the capacity of seen_epoch. */
                q = realloc(b->seen_entry, cap * sizeof(size_t));
                if (!q)
                        return -ENOMEM;
                b->seen_entry = q;
                b->cap_pages = cap;
        }
        b->seen_epoch[b->n_pages] = 0;
        s->page = page;
        s->id = (uint32_t) ++b->n_pages;
        *ret = s->id - 1;
        return 0;
}

/* Opens epochs up to and including epoch (empty ones for gaps). */
static int open_epochs(TraceBuilder *b, uint64_t epoch) {
        int r;

        if (!b->any) {
                b->first_epoch = b->cur_epoch = epoch;
                b->any = true;
                r = grow((void **) &b->epoch_start, &b->cap_epochs, 1, sizeof(size_t));
                if (r < 0)
                        return r;
                b->epoch_start[b->n_epochs++] = b->n_entries;
                return 0;
        }
        if (epoch < b->cur_epoch)
                return -EINVAL;
        if (epoch - b->first_epoch >= TRACE_MAX_EPOCHS)
                return -E2BIG;
        r = grow((void **) &b->epoch_start, &b->cap_epochs, (size_t) (epoch - b->first_epoch) + 1, sizeof(size_t));
        if (r < 0)
                return r;
        while (b->cur_epoch < epoch) {
                b->cur_epoch++;
                b->epoch_start[b->n_epochs++] = b->n_entries;
        }
        return 0;
}

int trace_builder_add(TraceBuilder *b, uint64_t epoch, uint64_t page, uint64_t count) {
        uint32_t id;
        int r;

        if (count == 0)
                return -EINVAL;
        /* Every per-page sum is at most the total, so checking the total covers both. */
        if (count > UINT64_MAX - b->total)
                return -EOVERFLOW;
        r = open_epochs(b, epoch);
        if (r < 0)
                return r;
        r = page_id(b, page, &id);
        if (r < 0)
                return r;
        b->total += count;
        if (b->seen_epoch[id] == epoch + 1) {
                b->count[b->seen_entry[id]] += count;
                return 0;
        }
        if (b->n_entries + 1 > b->cap_entries) {
                size_t cap = b->cap_entries;
                uint64_t *q;

                r = grow((void **) &b->page, &cap, b->n_entries + 1, sizeof(uint32_t));
                if (r < 0)
                        return r;
                /* count[] shares the capacity of page[]. */
                q = realloc(b->count, cap * sizeof(uint64_t));
                if (!q)
                        return -ENOMEM;
                b->count = q;
                b->cap_entries = cap;
        }
        b->page[b->n_entries] = id;
        b->count[b->n_entries] = count;
        b->seen_epoch[id] = epoch + 1;
        b->seen_entry[id] = b->n_entries++;
        return 0;
}

int trace_builder_finish(TraceBuilder *b, Trace **ret) {
        _cleanup_(trace_freep) Trace *t = NULL;

        if (!b->any || b->n_entries == 0) {
                trace_builder_free(b);
                return -ENODATA;
        }
        t = calloc(1, sizeof(Trace));
        if (!t) {
                trace_builder_free(b);
                return -ENOMEM;
        }
        t->n_epochs = b->n_epochs;
        t->epoch_start = realloc(b->epoch_start, (b->n_epochs + 1) * sizeof(size_t));
        if (!t->epoch_start) {
                trace_builder_free(b);
                return -ENOMEM;
        }
        b->epoch_start = NULL;
        t->epoch_start[t->n_epochs] = b->n_entries;
        t->page = TAKE_PTR(b->page);
        t->count = TAKE_PTR(b->count);
        t->n_entries = b->n_entries;
        t->n_pages = b->n_pages;
        t->total_samples = b->total;
        trace_builder_free(b);
        *ret = TAKE_PTR(t);
        return 0;
}

/* Reads one unsigned decimal field at *p, advancing past it and its trailing blanks. */
static int parse_field(const char **p, uint64_t *ret) {
        const char *s = *p;
        char *end;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        errno = 0;
        *ret = strtoull(s, &end, 10);
        if (errno != 0)
                return -ERANGE;
        if (*end != '\0' && !isspace((unsigned char) *end))
                return -EINVAL;
        while (isspace((unsigned char) *end))
                end++;
        *p = end;
        return 0;
}

static const char *const field_names[3] = { "epoch", "page", "count" };

/* Parses one line (NUL-terminated, newline stripped) into the builder; on error a message naming
 * the field and what is wrong, in buf (size TRACE_ERROR_MAX). */
#define TRACE_ERROR_MAX 160
static int parse_line(TraceBuilder *b, const char *line, char *buf) {
        const char *p = line;
        uint64_t v[3];
        int r;

        while (isspace((unsigned char) *p))
                p++;
        if (*p == '\0' || *p == '#')
                return 0;
        for (unsigned i = 0; i < 3; i++) {
                if (*p == '\0' || *p == '#') {
                        snprintf(buf, TRACE_ERROR_MAX, "expected 3 fields: epoch page count (no %s)", field_names[i]);
                        return -EINVAL;
                }
                r = parse_field(&p, &v[i]);
                if (r == -ERANGE) {
                        snprintf(buf, TRACE_ERROR_MAX, "%s out of range (more than 18446744073709551615)",
                                 field_names[i]);
                        return -EINVAL;
                }
                if (r < 0) {
                        snprintf(buf, TRACE_ERROR_MAX, "%s is not an unsigned decimal integer", field_names[i]);
                        return -EINVAL;
                }
        }
        if (*p != '\0' && *p != '#') {
                snprintf(buf, TRACE_ERROR_MAX, "trailing garbage after epoch page count");
                return -EINVAL;
        }
        if (v[2] == 0) {
                snprintf(buf, TRACE_ERROR_MAX, "count must be at least 1");
                return -EINVAL;
        }
        r = trace_builder_add(b, v[0], v[1], v[2]);
        switch (r) {
        case 0:
                return 0;
        case -EINVAL:
                snprintf(buf, TRACE_ERROR_MAX, "epoch is before the previous line's epoch (epochs must not decrease)");
                return r;
        case -EOVERFLOW:
                snprintf(buf, TRACE_ERROR_MAX, "counts add up to more than 18446744073709551615");
                return -EINVAL;
        case -E2BIG:
                snprintf(buf, TRACE_ERROR_MAX, "trace too large (more than %" PRIu32 " pages or %" PRIu32 " epochs)",
                         TRACE_MAX_PAGES, TRACE_MAX_EPOCHS);
                return r;
        default:
                snprintf(buf, TRACE_ERROR_MAX, "out of memory");
                return r;
        }
}

int trace_parse(FILE *f, Trace **ret, char **ret_error) {
        _cleanup_(trace_builder_freep) TraceBuilder *b = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0, lineno = 0;
        ssize_t n;
        int r;

        *ret_error = NULL;
        r = trace_builder_new(&b);
        if (r < 0)
                return r;
        while ((n = getline(&line, &cap, f)) >= 0) {
                char buf[TRACE_ERROR_MAX] = "";
                const char *what = NULL;

                lineno++;
                if ((size_t) n > TRACE_MAX_LINE)
                        what = "line too long";
                else if (memchr(line, '\0', (size_t) n))
                        what = "NUL byte in line";
                if (!what) {
                        if (n > 0 && line[n - 1] == '\n')
                                line[--n] = '\0';
                        r = parse_line(b, line, buf);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                what = buf;
                }
                if (what) {
                        if (asprintf(ret_error, "%zu: %s", lineno, what) < 0)
                                *ret_error = NULL;
                        return r == -E2BIG ? -E2BIG : -EINVAL;
                }
        }
        if (ferror(f))
                return -EIO;
        return trace_builder_finish(TAKE_PTR(b), ret);
}

int trace_load(const char *path, Trace **ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        *ret_error = NULL;
        if (!f)
                return -errno;
        return trace_parse(f, ret, ret_error);
}
