/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access traces for maio-tiersim: per epoch, the pages touched and how many
 * sampled accesses each got. Built by the workload generators or parsed from
 * the text format `epoch page count` (see maio-tiersim(1)). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cleanup.h"

/* Limits that keep a hostile trace from exhausting memory. */
#define TRACE_MAX_PAGES (UINT32_C(1) << 24) /* 64 GiB of 4 KiB pages */
#define TRACE_MAX_EPOCHS (UINT32_C(1) << 22)
#define TRACE_MAX_LINE 4096

typedef struct Trace {
        size_t n_epochs;
        size_t *epoch_start; /* n_epochs + 1 offsets into page[] / count[] */
        uint32_t *page;      /* dense page ids 0..n_pages-1, each at most once per epoch */
        uint64_t *count;     /* sampled accesses, >= 1 */
        size_t n_entries;
        size_t n_pages;         /* distinct pages: the footprint */
        uint64_t total_samples; /* at most UINT64_MAX: the builder refuses a sum beyond */
} Trace;

void trace_free(Trace *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Trace *, trace_free);

/* Incremental construction: epochs non-decreasing, pages either dense ids (< n_pages_hint
 * when the generator knows its footprint) or arbitrary 64-bit page numbers mapped to dense
 * ids in order of first appearance. A page seen twice in one epoch gets the counts summed. */
typedef struct TraceBuilder TraceBuilder;

int trace_builder_new(TraceBuilder **ret);
void trace_builder_free(TraceBuilder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(TraceBuilder *, trace_builder_free);
/* Any count 1..UINT64_MAX. Returns 0, -EINVAL (epoch before the previous one, count 0), -EOVERFLOW
 * (the counts of the trace add up beyond UINT64_MAX), -E2BIG (beyond TRACE_MAX_PAGES or
 * TRACE_MAX_EPOCHS) or -ENOMEM. */
int trace_builder_add(TraceBuilder *b, uint64_t epoch, uint64_t page, uint64_t count);
/* Hands out the trace (epochs from the first one added, gaps kept as empty epochs) and frees
 * the builder. Returns 0, -ENODATA (nothing added) or -ENOMEM. */
int trace_builder_finish(TraceBuilder *b, Trace **ret);

/* Parses the text format from f. On a malformed line returns -EINVAL (or -E2BIG for a limit)
 * and sets *ret_error to "LINE: what is wrong" (caller frees); other errors: -ENOMEM, -EIO,
 * -ENODATA (no samples). */
int trace_parse(FILE *f, Trace **ret, char **ret_error);
/* Opens and parses path; errors as trace_parse, plus -errno from fopen (then *ret_error is
 * NULL). */
int trace_load(const char *path, Trace **ret, char **ret_error);
