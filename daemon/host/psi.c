/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The memory-pressure trigger (psi.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "psi.h"
#include "time-util.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

struct PsiWatch {
        int fd;
        sd_event_source *source;
        const EventSink *sink;
        uint64_t count;
};

static int on_psi(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        PsiWatch *w = userdata;
        uint64_t now = now_usec(CLOCK_MONOTONIC);

        if (revents & EPOLLERR) { /* the file went away (cgroup removed); not ours to fix */
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        w->count++;
        event_sink_emit(w->sink, SCHED_EVENT_PRESSURE, 0, SCHED_PRIORITY_HOST, now);
        return 0;
}

int psi_watch_new(sd_event *event, const char *root, uint64_t stall_usec, uint64_t window_usec, const EventSink *sink,
                  PsiWatch **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ PsiWatch *w = NULL;
        struct statfs sfs;
        char trigger[64];
        int r;

        if (asprintf(&path, "%s/proc/pressure/memory", strcmp(root, "/") == 0 ? "" : root) < 0)
                return -ENOMEM;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (PsiWatch) { .fd = -EBADF, .sink = sink };
        w->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (w->fd < 0)
                return errno == ENOENT ? -EOPNOTSUPP : -errno;
        /* Only the kernel's file takes a trigger; a plain file would take the write and never wake us. */
        if (fstatfs(w->fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
                r = -EOPNOTSUPP;
                goto fail;
        }
        snprintf(trigger, sizeof trigger, "some %llu %llu", (unsigned long long) stall_usec,
                 (unsigned long long) window_usec);
        if (write(w->fd, trigger, strlen(trigger) + 1) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &w->source, w->fd, EPOLLPRI, on_psi, w);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(w->source, "psi-memory");
        *ret = TAKE_PTR(w);
        return 0;
fail:
        close(w->fd);
        return r;
}

PsiWatch *psi_watch_free(PsiWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        if (w->fd >= 0)
                close(w->fd);
        free(w);
        return NULL;
}

uint64_t psi_watch_count(const PsiWatch *w) {
        return w ? w->count : 0;
}
