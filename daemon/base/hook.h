/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a lower module tells higher ones that something happened (a tenant went away, the topology
 * changed) without calling up: the higher module registers a hook, the lower one runs the list. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* Called with the registrant's userdata and the id of what changed. */
typedef void (*HookFn)(void *userdata, int64_t id);

#define HOOK_LIST_MAX 8

typedef struct HookList {
        struct {
                HookFn fn;
                void *userdata;
        } hooks[HOOK_LIST_MAX];
        size_t n;
} HookList;

/* Returns 0, or -ENOSPC when the list is full. */
static inline int hook_list_add(HookList *l, HookFn fn, void *userdata) {
        if (l->n >= HOOK_LIST_MAX)
                return -ENOSPC;
        l->hooks[l->n].fn = fn;
        l->hooks[l->n].userdata = userdata;
        l->n++;
        return 0;
}

/* Runs every hook in registration order. */
static inline void hook_list_run(const HookList *l, int64_t id) {
        for (size_t i = 0; i < l->n; i++)
                l->hooks[i].fn(l->hooks[i].userdata, id);
}
