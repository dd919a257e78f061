/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bounded event heap of the scheduler (sched-queue.h). */
#include <errno.h>
#include <stdlib.h>

#include "sched-queue.h"

int sched_queue_init(SchedQueue *q, size_t max) {
        if (max == 0)
                return -EINVAL;
        *q = (SchedQueue) { .heap = calloc(max, sizeof *q->heap), .max = max };
        return q->heap ? 0 : -ENOMEM;
}

void sched_queue_done(SchedQueue *q) {
        free(q->heap);
        *q = (SchedQueue) {};
}

bool sched_event_before(const SchedEvent *a, const SchedEvent *b) {
        if (a->priority != b->priority)
                return a->priority < b->priority;
        if (a->cls != b->cls)
                return a->cls < b->cls;
        return a->seq < b->seq;
}

static void swap(SchedEvent *a, SchedEvent *b) {
        SchedEvent t = *a;

        *a = *b;
        *b = t;
}

int sched_queue_push(SchedQueue *q, const SchedEvent *ev) {
        size_t i;

        if (q->n >= q->max) {
                q->dropped++;
                return -ENOBUFS;
        }
        i = q->n++;
        q->heap[i] = *ev;
        q->heap[i].seq = q->seq++;
        while (i > 0 && sched_event_before(&q->heap[i], &q->heap[(i - 1) / 2])) {
                swap(&q->heap[i], &q->heap[(i - 1) / 2]);
                i = (i - 1) / 2;
        }
        return 0;
}

int sched_queue_pop(SchedQueue *q, SchedEvent *ret) {
        size_t i = 0;

        if (q->n == 0)
                return 0;
        *ret = q->heap[0];
        q->heap[0] = q->heap[--q->n];
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < q->n && sched_event_before(&q->heap[l], &q->heap[m]))
                        m = l;
                if (r < q->n && sched_event_before(&q->heap[r], &q->heap[m]))
                        m = r;
                if (m == i)
                        return 1;
                swap(&q->heap[i], &q->heap[m]);
                i = m;
        }
}
