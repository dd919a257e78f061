/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Prometheus text exposition (format 0.0.4) of what the modules registered. Only aggregates:
 * tenant names never appear, so /metrics can stay public. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"

int metrics_register(MetricsRegistry *reg, MetricsWriteFn write, void *userdata) {
        if (reg->n >= METRICS_WRITERS_MAX)
                return -ENOSPC;
        reg->writers[reg->n].write = write;
        reg->writers[reg->n].userdata = userdata;
        reg->n++;
        return 0;
}

void metrics_header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_u64(FILE *f, const char *name, const char *type, const char *help, uint64_t v) {
        metrics_header(f, name, type, help);
        fprintf(f, "%s %" PRIu64 "\n", name, v);
}

int metrics_op_get(void *userdata, const Request *req, Reply *reply) {
        const MetricsRegistry *reg = userdata;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -errno;
        for (size_t i = 0; i < reg->n; i++)
                reg->writers[i].write(reg->writers[i].userdata, f);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        return reply_text(reply, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
}
