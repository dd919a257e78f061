/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* maioctl thresholds|feedback|policy: a tenant's promotion thresholds, its
 * runtime feedback per episode, and its tiering policy with the reward history
 * (/v1/tenants/ID/thresholds|feedback|policy). Tables for people, the daemon's
 * JSON with -o json. */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "maioctl.h"
#include "reply.h"
#include "table.h"

/* A number member as "%.4g" with a unit, or "-" when missing or null. */
static void number_text(json_object *o, const char *key, const char *unit, char *buf, size_t size) {
        json_object *v = reply_member(o, key, json_type_double) ?: reply_member(o, key, json_type_int);

        if (!v)
                snprintf(buf, size, "-");
        else
                snprintf(buf, size, "%.4g%s", json_object_get_double(v), unit);
}

static int add_number(Table *t, const char *label, json_object *o, const char *key, const char *unit) {
        char buf[64];

        number_text(o, key, unit, buf, sizeof buf);
        return table_add_pair(t, label, buf);
}

/* "access rate 17.07/s, burst 0 s" or "promote nothing". */
static void thresholds_text(json_object *th, char *buf, size_t size) {
        char rate[64], burst[64];

        if (strcmp(reply_text(th, "rule"), "never") == 0) {
                snprintf(buf, size, "promote nothing");
                return;
        }
        number_text(th, "access_rate", " accesses/s", rate, sizeof rate);
        number_text(th, "burst_duration", " s", burst, sizeof burst);
        snprintf(buf, size, "access rate >= %s, burst >= %s", rate, burst);
}

static int add_thresholds(Table *t, json_object *th) {
        json_object *ctx = reply_member(th, "context", json_type_object);
        char buf[256], f[5][32];
        static const char *const keys[] = { "local_alloc", "local_usage", "remote_usage", "traffic", "contention" };
        int r;

        thresholds_text(th, buf, sizeof buf);
        r = table_add_pairf(t, "episode", "%s (%s%s)", reply_text(th, "episode"), buf,
                            json_object_get_boolean(json_object_object_get(th, "explored")) ? ", explored" : "");
        if (r >= 0)
                r = table_add_pairf(t, "model", "%s, version %s, %s cached reward(s) used", reply_text(th, "model_id"),
                                    reply_text(th, "model_version"), reply_text(th, "cached_rewards"));
        if (r >= 0)
                r = table_add_pairf(t, "backend", "%s (%s: %s)", reply_text(th, "backend"),
                                    json_object_get_boolean(json_object_object_get(th, "applied")) ? "applied"
                                                                                                   : "not applied",
                                    reply_text(th, "applied_note"));
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                number_text(ctx, keys[i], "", f[i], sizeof f[i]);
        if (r >= 0)
                r = table_add_pairf(t, "context",
                                    "local_alloc %s, local_usage %s, remote_usage %s, traffic %s, "
                                    "contention %s",
                                    f[0], f[1], f[2], f[3], f[4]);
        if (r >= 0)
                r = add_number(t, "demote rate", ctx, "demote_rate", " accesses/s");
        if (r >= 0)
                r = table_add_pair(t, "decided", reply_text(th, "decided"));
        if (r >= 0 && reply_member(th, "anchor", json_type_string))
                r = table_add_pair(t, "from anchor", reply_text(th, "anchor"));
        return r;
}

static int thresholds_table(json_object *th) {
        static const Field fields[] = { { "tenant", "tenant_id" }, { "policy", "policy" } };
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? maioctl_add_fields(t, th, fields, ELEMENTSOF(fields)) : -ENOMEM;

        if (r >= 0)
                r = add_thresholds(t, th);
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus tier_thresholds(const Args *a) {
        _cleanup_json_ json_object *reply = NULL;
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        e = maioctl_call(a, "GET", maioctl_tenant_path(path, a->id, "thresholds"), NULL, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "episode", json_type_int))
                return maioctl_bad_reply(a, "no thresholds object");
        return maioctl_output(a, reply, thresholds_table);
}

static int feedback_table(json_object *feedback) {
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        int r = t ? 0 : -ENOMEM;

        if (r >= 0)
                r = table_add_pairf(t, "committed", "episode %s, reward %s", reply_text(feedback, "episode"),
                                    reply_text(feedback, "reward"));
        if (r >= 0)
                r = add_thresholds(t, reply_member(feedback, "next", json_type_object));
        return r < 0 ? r : table_print(t, stdout);
}

ExitStatus tier_feedback(const Args *a) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        bool time = isfinite(a->time_s), rps = isfinite(a->rps);
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        if (time == rps) {
                fprintf(stderr,
                        "maioctl: 'feedback' needs exactly one of --time and --rps\nTry 'maioctl feedback --help'.\n");
                return EXIT_USAGE;
        }
        if (!body || json_object_object_add(body, "episode", json_object_new_int64(a->episode)) < 0 ||
            json_object_object_add(body, time ? "completion_time_s" : "requests_per_s",
                                   json_object_new_double(time ? a->time_s : a->rps)) < 0)
                return maioctl_local_error(-ENOMEM);
        e = maioctl_call(a, "POST", maioctl_tenant_path(path, a->id, "feedback"), body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "next", json_type_object))
                return maioctl_bad_reply(a, "no next episode");
        return maioctl_output(a, reply, feedback_table);
}

static int policy_pairs(Table *t, json_object *reply) {
        json_object *ep = reply_member(reply, "episodes", json_type_object);
        json_object *cache = reply_member(reply, "cache", json_type_object);
        char ref[64], rate[32], share[32];
        int r;

        number_text(reply, "reference", "", ref, sizeof ref);
        if (reply_member(cache, "hit_rate", json_type_double) || reply_member(cache, "hit_rate", json_type_int))
                snprintf(rate, sizeof rate, "%.0f%%",
                         100 * json_object_get_double(json_object_object_get(cache, "hit_rate")));
        else
                snprintf(rate, sizeof rate, "-");
        snprintf(share, sizeof share, "%.0f%%",
                 100 * json_object_get_double(json_object_object_get(ep, "anchor_share")));
        r = table_add_pair(t, "tenant", reply_text(reply, "tenant_id"));
        if (r >= 0)
                r = table_add_pairf(t, "policy", "%s (seed %s%s)", reply_text(reply, "policy"),
                                    reply_text(reply, "seed"),
                                    json_object_get_boolean(json_object_object_get(reply, "learns")) ? ", learns" : "");
        if (r >= 0 && reply_member(reply, "transferred_from", json_type_int))
                r = table_add_pairf(t, "started from", "model %s (nearest context of its class)",
                                    reply_text(reply, "transferred_from"));
        else if (r >= 0)
                r = table_add_pair(t, "started from", "a new model");
        if (r >= 0)
                r = table_add_pairf(t, "reward scale", "%s, first episode %s", reply_text(reply, "metric"), ref);
        if (r >= 0)
                r = table_add_pairf(t, "episodes", "%s (%s committed, %s explored, %s from anchors: %s)",
                                    reply_text(ep, "total"), reply_text(ep, "committed"), reply_text(ep, "explored"),
                                    reply_text(ep, "anchored"), share);
        if (r >= 0 && reply_member(reply, "promotion_rate_bytes", json_type_int))
                r = table_add_pairf(t, "stated rate", "%s bytes/s (its promotion demand)",
                                    reply_text(reply, "promotion_rate_bytes"));
        else if (r >= 0)
                r = table_add_pair(t, "stated rate", "none (the demand follows its thresholds)");
        if (r >= 0)
                r = table_add_pairf(t, "reward cache", "%s entries, %s hits, %s misses (hit rate %s)",
                                    reply_text(cache, "entries"), reply_text(cache, "hits"),
                                    reply_text(cache, "misses"), rate);
        if (r >= 0)
                r = add_thresholds(t, reply_member(reply, "thresholds", json_type_object));
        return r;
}

/* The policy as key/value lines, then its reward history. */
static int policy_table(json_object *policy) {
        static const Field cols[] = {
                { "EPISODE", "episode" },      { "POLICY", "policy" },
                { "ACTION", "action" },        { "ACCESS_RATE", "access_rate" },
                { "BURST", "burst_duration" }, { "EXPLORED", "explored" },
                { "VALUE", "value" },          { "REWARD", "reward" },
                { "COMMITTED", "committed" },
        };
        _cleanup_(table_freep) Table *t = table_new(2, NULL);
        json_object *rewards = reply_member(policy, "rewards", json_type_array);
        int r = t ? 0 : -ENOMEM;

        if (r >= 0)
                r = policy_pairs(t, policy);
        if (r >= 0)
                r = table_print(t, stdout);
        if (r < 0)
                return r;
        printf("\nReward history (newest %zu committed episodes):\n", json_object_array_length(rewards));
        return maioctl_print_list(rewards, cols, ELEMENTSOF(cols));
}

ExitStatus tier_policy(const Args *a) {
        _cleanup_json_ json_object *body = NULL, *reply = NULL;
        char path[TENANT_PATH_MAX];
        ExitStatus e;

        if (a->seed >= 0 && !a->policy) {
                fprintf(stderr, "maioctl: --seed goes with --set\nTry 'maioctl policy --help'.\n");
                return EXIT_USAGE;
        }
        if (a->promotion_rate >= 0 && a->policy) {
                fprintf(stderr, "maioctl: --promotion-rate does not go with --set\nTry 'maioctl policy --help'.\n");
                return EXIT_USAGE;
        }
        if (a->promotion_rate >= 0) {
                body = json_object_new_object();
                if (!body ||
                    json_object_object_add(body, "promotion_rate_bytes", json_object_new_int64(a->promotion_rate)) < 0)
                        return maioctl_local_error(-ENOMEM);
        } else if (a->policy) {
                body = json_object_new_object();
                if (!body || json_object_object_add(body, "policy", json_object_new_string(a->policy)) < 0 ||
                    (a->seed >= 0 && json_object_object_add(body, "seed", json_object_new_int64(a->seed)) < 0))
                        return maioctl_local_error(-ENOMEM);
        }
        e = maioctl_call(a,
                         a->promotion_rate >= 0 ? "PATCH"
                         : a->policy            ? "PUT"
                                                : "GET",
                         maioctl_tenant_path(path, a->id, "policy"), body, &reply);
        if (e != EXIT_OK)
                return e;
        if (!reply_member(reply, "rewards", json_type_array) || !reply_member(reply, "thresholds", json_type_object))
                return maioctl_bad_reply(a, "no policy object");
        return maioctl_output(a, reply, policy_table);
}
