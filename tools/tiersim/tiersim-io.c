/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Output of maio-tiersim as a table or one JSON object, and reading and
 * writing model files (the JSON of policy_to_json, as GET /v1/models serves). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tiersim-io.h"

static const char *rule_name(TierRuleKind k) {
        static const char *const names[_TIER_RULE_KIND_MAX] = {
                [TIER_RULE_NEVER] = "never",
                [TIER_RULE_THRESHOLDS] = "thresholds",
                [TIER_RULE_COUNTER] = "counter",
        };

        return k >= 0 && k < _TIER_RULE_KIND_MAX ? names[k] : "unknown";
}

/* A double printed with 9 significant digits: reports need no more, and they stay readable. */
static json_object *jdouble(double v) {
        char buf[32];

        snprintf(buf, sizeof buf, "%.9g", v);
        return json_object_new_double_s(v, buf);
}

static int add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *decision_to_json(const TierDecision *d) {
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (add(o, "rule", json_object_new_string(rule_name(d->rule))) < 0 ||
            add(o, "action", json_object_new_int(d->action)) < 0 ||
            (d->rule == TIER_RULE_THRESHOLDS && (add(o, "rate_threshold", jdouble(d->rate_threshold)) < 0 ||
                                                 add(o, "burst_threshold_s", jdouble(d->burst_threshold)) < 0)) ||
            (d->rule == TIER_RULE_COUNTER && (add(o, "hot_samples", jdouble(d->hot_samples)) < 0 ||
                                              add(o, "cool_samples", jdouble(d->cool_samples)) < 0))) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int report_learning(const TiersimReport *rep, json_object *o) {
        uint64_t updates;

        policy_counters(rep->policy, NULL, NULL, &updates);
        if (add(o, "episodes", json_object_new_int64(rep->training.episodes)) < 0 ||
            add(o, "cache_served", json_object_new_int64(rep->training.cache_served)) < 0 ||
            add(o, "cache_hit_rate", jdouble(rep->training.cache_hit_rate)) < 0 ||
            add(o, "model_version", json_object_new_int64((int64_t) updates)) < 0)
                return -ENOMEM;
        return 0;
}

/* The feedback noise, the context shift and the regret figures, when asked for. */
static int report_regret(const TiersimReport *rep, json_object *o) {
        const SimTraining *t = &rep->training;
        const SimTrainOpts *op = &rep->opts;

        if (add(o, "noise", jdouble(op->noise)) < 0)
                return -ENOMEM;
        if (op->shift_episode > 0 && (add(o, "shift_episode", json_object_new_int64(op->shift_episode)) < 0 ||
                                      add(o, "shift_contention", jdouble(op->shift_contention)) < 0))
                return -ENOMEM;
        if (!t->have_regret)
                return 0;
        if (add(o, "best_action", json_object_new_int64(t->best_action)) < 0 ||
            add(o, "best_runtime_s", jdouble(t->best_runtime_s)) < 0 || add(o, "regret", jdouble(t->regret)) < 0 ||
            add(o, "cumulative_regret", jdouble(t->cumulative_regret)) < 0)
                return -ENOMEM;
        if (op->checkpoint > 0 && policy_learns(rep->policy) &&
            (add(o, "checkpoint_episodes", json_object_new_int64(op->checkpoint)) < 0 ||
             add(o, "checkpoint_regret", jdouble(t->checkpoint_regret)) < 0 ||
             add(o, "checkpoint_cumulative_regret", jdouble(t->checkpoint_cumulative_regret)) < 0))
                return -ENOMEM;
        return 0;
}

static int report_to_json(const TiersimReport *rep, json_object **ret) {
        const SimResult *r = &rep->result;
        uint64_t samples = r->local_samples + r->remote_samples;
        json_object *o = json_object_new_object();
        char seed[21];

        if (!o)
                return -ENOMEM;
        snprintf(seed, sizeof seed, "%" PRIu64, rep->seed);
        if ((rep->workload ? add(o, "workload", json_object_new_string(rep->workload))
                           : add(o, "trace", json_object_new_string(rep->trace))) < 0 ||
            add(o, "policy", json_object_new_string(policy_name(rep->policy))) < 0 ||
            add(o, "seed", json_object_new_string(seed)) < 0 ||
            add(o, "local_fraction", jdouble(rep->local_fraction)) < 0 ||
            add(o, "contention", jdouble(rep->contention)) < 0 ||
            add(o, "footprint_pages", json_object_new_int64((int64_t) rep->pages)) < 0 ||
            add(o, "epochs", json_object_new_int64((int64_t) rep->epochs)) < 0 ||
            add(o, "local_capacity_pages", json_object_new_int64((int64_t) rep->capacity)) < 0 ||
            add(o, "runtime_s", jdouble(r->runtime_s)) < 0 ||
            add(o, "runtime_all_local_s", jdouble(rep->all_local_s)) < 0 ||
            add(o, "degradation", jdouble(rep->all_local_s > 0 ? r->runtime_s / rep->all_local_s : 0)) < 0 ||
            add(o, "promotions", json_object_new_int64((int64_t) r->promotions)) < 0 ||
            add(o, "demotions", json_object_new_int64((int64_t) r->demotions)) < 0 ||
            add(o, "traffic_bytes", json_object_new_int64((int64_t) r->traffic_bytes)) < 0 ||
            add(o, "remote_access_fraction", jdouble(samples ? (double) r->remote_samples / samples : 0)) < 0 ||
            add(o, "decision", decision_to_json(&rep->training.final)) < 0 ||
            (policy_learns(rep->policy) && report_learning(rep, o) < 0) || report_regret(rep, o) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

static void print_table(json_object *o) {
        json_object_object_foreach(o, key, val) {
                if (json_object_is_type(val, json_type_object)) {
                        json_object_object_foreach(val, k2, v2) printf("%-24s %s\n", k2, json_object_get_string(v2));
                        continue;
                }
                printf("%-24s %s\n", key, json_object_get_string(val));
        }
}

int tiersim_print(const TiersimReport *rep, bool json) {
        json_object *o = NULL;
        int r;

        r = report_to_json(rep, &o);
        if (r < 0) {
                fprintf(stderr, "maio-tiersim: out of memory\n");
                return r;
        }
        if (json)
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                print_table(o);
        json_object_put(o);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "maio-tiersim: cannot write output: %m\n");
                return -EIO;
        }
        return 0;
}

int tiersim_model_load(const char *path, TierPolicy **ret) {
        json_object *j = json_object_from_file(path);
        int r;

        if (!j) {
                fprintf(stderr, "maio-tiersim: cannot read model %s: %s\n", path, json_util_get_last_err());
                return -EINVAL;
        }
        r = policy_from_json(j, ret);
        json_object_put(j);
        if (r < 0)
                fprintf(stderr, "maio-tiersim: %s is not a valid model: %s\n", path,
                        r == -ENOENT ? "unknown policy" : strerror(-r));
        return r;
}

int tiersim_model_save(const TierPolicy *p, const char *path) {
        _cleanup_free_ char *tmp = NULL;
        json_object *j = NULL;
        int r;

        r = policy_to_json(p, &j);
        if (r < 0) {
                fprintf(stderr, "maio-tiersim: cannot serialise the model: %s\n", strerror(-r));
                return r;
        }
        if (asprintf(&tmp, "%s.tmp", path) < 0) {
                json_object_put(j);
                fprintf(stderr, "maio-tiersim: out of memory\n");
                return -ENOMEM;
        }
        r = json_object_to_file_ext(tmp, j, JSON_C_TO_STRING_PLAIN);
        json_object_put(j);
        if (r < 0 || rename(tmp, path) < 0) {
                r = -errno;
                fprintf(stderr, "maio-tiersim: cannot write model %s: %m\n", path);
                (void) unlink(tmp);
                return r ? r : -EIO;
        }
        return 0;
}
