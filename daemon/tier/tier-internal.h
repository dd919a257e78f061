/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tiering module's context, shared by tierd*.c and private to daemon/tier. */
#pragma once

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "conf.h"
#include "detect.h"
#include "hook.h"
#include "journal.h"
#include "store.h"
#include "tenants.h"
#include "tierd.h"

typedef struct TierdState TierdState;

struct Tierd {
        Store *store;
        char *root;
        bool dry_run;
        sd_event *event;          /* NULL: no timer (tests) */
        Journal *journal;         /* the one writer of the knobs the appliers plan */
        Tenants *tenants;         /* visibility of models with their tenant */
        Features *features;       /* memory tiers, NUMA balancing, kdamonds (owned ones marked) */
        const Config *config;     /* [tiering], and [knobs] restore_on_exit */
        TierdState *tierd;        /* the running state, NULL before tierd_start() */
        const Notifier *notifier; /* thresholds-changed; NULL: nobody listens */
        HookList on_lookup;       /* a learning tenant started without a close local model */
        struct {
                int64_t model;
                char *label; /* "HOST/TENANT" of a model imported from the fleet */
        } * labels;
        size_t n_labels;
};
