/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A memory-pressure trigger (PSI): the kernel wakes maiod when tasks stalled on memory for more
 * than a threshold within a window (Documentation/accounting/psi.rst), an event source of the
 * scheduler. Reads below a root like every host reader; a fixture's plain file is refused. */
#pragma once

#include <stdint.h>

#include <systemd/sd-event.h>

#include "sched-event.h"

typedef struct PsiWatch PsiWatch;

/* Opens ROOT/proc/pressure/memory, registers the trigger "some STALL WINDOW" (µs) and watches it
 * (io source "psi-memory"): each wake-up is a host-wide SCHED_EVENT_PRESSURE into sink (borrowed),
 * stamped when the POLLPRI was seen. Returns 0; -EOPNOTSUPP when the file is not the kernel's (no PSI, or a
 * fixture's plain file); -EINVAL, -EPERM or another -errno when the kernel refuses the trigger. */
int psi_watch_new(sd_event *event, const char *root, uint64_t stall_usec, uint64_t window_usec, const EventSink *sink,
                  PsiWatch **ret);
/* Closes the trigger. Accepts NULL; returns NULL. */
PsiWatch *psi_watch_free(PsiWatch *w);
/* Triggers seen since it was armed. */
uint64_t psi_watch_count(const PsiWatch *w);
