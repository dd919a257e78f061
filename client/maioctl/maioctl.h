/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What maioctl's verb handlers share: the parsed command line, the exit statuses
 * and the one helper that talks to maiod and reports its errors. */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

#include "maio/ctl.h"

/* maioctl's documented exit statuses (see maioctl(8)). */
typedef enum ExitStatus {
        EXIT_OK = 0,
        EXIT_DAEMON_ERROR = 1, /* maiod answered with an error */
        EXIT_USAGE = 2,        /* bad command line */
        EXIT_UNREACHABLE = 3,  /* no exchange with maiod, or a reply maioctl cannot read */
} ExitStatus;

/* An output format of -o; only maioctl_output() looks inside. */
typedef struct Output Output;

/* The command line after parsing and validation. Unset optional values are
 * negative or NULL so handlers send only what the user gave. */
typedef struct Args {
        const char *socket_path;
        maio_transport transport; /* --transport: REST (default), NETLINK or AUTO */
        const Output *output;
        int64_t id;                   /* ID argument of tenants show/rm, TENANT of maio grant/release */
        const char *name;             /* NAME argument of tenants add, knobs get/set/restore (NULL: none) */
        const char *value;            /* VALUE argument of knobs set */
        int priority;                 /* --priority, -1 when unset */
        const char *workload_class;   /* --class */
        int pid;                      /* --pid, -1 when unset */
        const char *cgroup;           /* --cgroup */
        const char *addresses;        /* --addresses: comma-separated */
        int64_t tenant;               /* --tenant, -1 when unset */
        int64_t bytes;                /* BYTES argument of maio grant */
        int node;                     /* --node, -1 when unset */
        int64_t episode;              /* EPISODE argument of feedback */
        double time_s;                /* --time, NAN when unset */
        double rps;                   /* --rps, NAN when unset */
        const char *policy;           /* --set of policy, NULL when unset */
        int64_t seed;                 /* --seed, -1 when unset */
        int64_t promotion_rate;       /* --promotion-rate in bytes/s, -1 when unset */
        const char *mflow_mode;       /* --mode of mflow set, NULL when unset */
        int64_t mflow_batch;          /* --batch of mflow set, -1 when unset */
        int64_t mflow_cores_per_flow; /* --cores-per-flow of mflow set, -1 when unset */
} Args;

/* Sends METHOD PATH (with body if not NULL) to maiod. On a 2xx answer returns EXIT_OK
 * and *ret_reply holds the reply (NULL when it had no body). Otherwise prints the
 * reason to stderr and returns EXIT_DAEMON_ERROR (maiod answered an error) or
 * EXIT_UNREACHABLE (no answer, or one that is not JSON). */
ExitStatus maioctl_call(const Args *a, const char *method, const char *path, json_object *body,
                        json_object **ret_reply);

/* Writes "/v1/tenants/ID" to buf, followed by "/" and what unless what is NULL. Returns buf. */
#define TENANT_PATH_MAX 64
const char *maioctl_tenant_path(char buf[static TENANT_PATH_MAX], int64_t id, const char *what);

/* Reports a reply that parsed but lacks what the verb needs; returns EXIT_UNREACHABLE. */
ExitStatus maioctl_bad_reply(const Args *a, const char *what);

/* Prints a verb's data for -o table, to stdout. Returns 0 or -errno (-ENOMEM, -EIO). */
typedef int (*TablePrinter)(json_object *data);

/* Prints data in the format -o chose: as JSON, or through print_table. The
 * verbs call this and never look at the format themselves. Returns EXIT_OK or
 * what maioctl_local_error() returns. */
ExitStatus maioctl_output(const Args *a, json_object *data, TablePrinter print_table);

/* A member of a reply and its title: the header of its column in a list, or
 * the label of its line in a key/value table. */
typedef struct Field {
        const char *title;
        const char *key;
} Field;

/* Prints the array list as a table with one row per element and cols for columns.
 * Returns 0 or -errno. */
int maioctl_print_list(json_object *list, const Field *cols, size_t n_cols);

/* Adds a "title:" line to the key/value table t for each field, with the text of
 * o's member (reply_text()). Returns 0 or -ENOMEM. */
typedef struct Table Table;
int maioctl_add_fields(Table *t, json_object *o, const Field *fields, size_t n_fields);

/* Prints the key/value table of fields of o. Returns 0 or -errno. */
int maioctl_print_fields(json_object *o, const Field *fields, size_t n_fields);

/* The list verbs: GET path, whose reply must hold the array `member`, and output
 * of the reply with print_table. Returns an exit status. */
ExitStatus maioctl_list(const Args *a, const char *path, const char *member, TablePrinter print_table);

/* Reports running out of memory or failing to write output; returns EXIT_DAEMON_ERROR. */
ExitStatus maioctl_local_error(int r);

/* Verb handlers (status.c, tenants.c, events.c, knobs.c, topology.c, maio.c, tier.c).
 * Each returns an ExitStatus, prints its own errors and hands the data it got to
 * maioctl_output(). */
ExitStatus status_show(const Args *a);
ExitStatus tenants_list(const Args *a);
ExitStatus tenants_show(const Args *a);
ExitStatus tenants_add(const Args *a);
ExitStatus tenants_rm(const Args *a);
ExitStatus events_list(const Args *a);
ExitStatus knobs_list(const Args *a);
ExitStatus knobs_get(const Args *a);
ExitStatus knobs_set(const Args *a);
ExitStatus knobs_restore(const Args *a);
ExitStatus topology_show(const Args *a);
ExitStatus sched_show(const Args *a);
ExitStatus alloc_list(const Args *a);
ExitStatus maio_list(const Args *a);
ExitStatus maio_grant(const Args *a);
ExitStatus maio_release(const Args *a);
/* tier.c: thresholds ID, feedback ID EPISODE --time S | --rps R, policy ID [--set P [--seed N] | --promotion-rate
 * BYTES]. */
ExitStatus tier_thresholds(const Args *a);
ExitStatus tier_feedback(const Args *a);
ExitStatus tier_policy(const Args *a);
/* mflow.c: mflow list, mflow set NAME [--mode M] [--batch N] [--cores-per-flow N], flows. */
ExitStatus mflow_list(const Args *a);
ExitStatus mflow_set(const Args *a);
ExitStatus flows_list(const Args *a);

/* Parses BYTES of maio grant: decimal digits with an optional binary suffix K, M,
 * G, T (or KiB, MiB, GiB, TiB). Returns 0 and *ret >= 1, -EINVAL for anything
 * else, -ERANGE for 0 or a value beyond INT64_MAX. */
int maio_parse_bytes(const char *s, int64_t *ret);
