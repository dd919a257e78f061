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

json_object *tiersim_json_double(double v) {
        char buf[32];

        snprintf(buf, sizeof buf, "%.9g", v);
        return json_object_new_double_s(v, buf);
}

int tiersim_json_add(json_object *o, const char *key, json_object *v) {
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
        if (tiersim_json_add(o, "rule", json_object_new_string(rule_name(d->rule))) < 0 ||
            tiersim_json_add(o, "action", json_object_new_int(d->action)) < 0 ||
            (d->rule == TIER_RULE_THRESHOLDS &&
             (tiersim_json_add(o, "rate_threshold", tiersim_json_double(d->rate_threshold)) < 0 ||
              tiersim_json_add(o, "burst_threshold_s", tiersim_json_double(d->burst_threshold)) < 0)) ||
            (d->rule == TIER_RULE_COUNTER &&
             (tiersim_json_add(o, "hot_samples", tiersim_json_double(d->hot_samples)) < 0 ||
              tiersim_json_add(o, "cool_samples", tiersim_json_double(d->cool_samples)) < 0))) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int report_learning(const TiersimReport *rep, json_object *o) {
        uint64_t updates;

        policy_counters(rep->policy, NULL, NULL, &updates);
        if (tiersim_json_add(o, "episodes", json_object_new_int64(rep->training.episodes)) < 0 ||
            tiersim_json_add(o, "cache_served", json_object_new_int64(rep->training.cache_served)) < 0 ||
            tiersim_json_add(o, "cache_hit_rate", tiersim_json_double(rep->training.cache_hit_rate)) < 0 ||
            tiersim_json_add(o, "model_version", json_object_new_int64((int64_t) updates)) < 0)
                return -ENOMEM;
        return 0;
}

/* The feedback noise, the context shift and the regret figures, when asked for. */
static int report_regret(const TiersimReport *rep, json_object *o) {
        const SimTraining *t = &rep->training;
        const SimTrainOpts *op = &rep->opts;

        if (tiersim_json_add(o, "noise", tiersim_json_double(op->noise)) < 0)
                return -ENOMEM;
        if (op->shift_episode > 0 &&
            (tiersim_json_add(o, "shift_episode", json_object_new_int64(op->shift_episode)) < 0 ||
             tiersim_json_add(o, "shift_contention", tiersim_json_double(op->shift_contention)) < 0))
                return -ENOMEM;
        if (!t->have_regret)
                return 0;
        if (tiersim_json_add(o, "best_action", json_object_new_int64(t->best_action)) < 0 ||
            tiersim_json_add(o, "best_runtime_s", tiersim_json_double(t->best_runtime_s)) < 0 ||
            tiersim_json_add(o, "regret", tiersim_json_double(t->regret)) < 0 ||
            tiersim_json_add(o, "cumulative_regret", tiersim_json_double(t->cumulative_regret)) < 0)
                return -ENOMEM;
        if (op->checkpoint > 0 && policy_learns(rep->policy) &&
            (tiersim_json_add(o, "checkpoint_episodes", json_object_new_int64(op->checkpoint)) < 0 ||
             tiersim_json_add(o, "checkpoint_regret", tiersim_json_double(t->checkpoint_regret)) < 0 ||
             tiersim_json_add(o, "checkpoint_cumulative_regret", tiersim_json_double(t->checkpoint_cumulative_regret)) <
                     0))
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
        if ((rep->workload ? tiersim_json_add(o, "workload", json_object_new_string(rep->workload))
                           : tiersim_json_add(o, "trace", json_object_new_string(rep->trace))) < 0 ||
            tiersim_json_add(o, "policy", json_object_new_string(policy_name(rep->policy))) < 0 ||
            tiersim_json_add(o, "seed", json_object_new_string(seed)) < 0 ||
            tiersim_json_add(o, "local_fraction", tiersim_json_double(rep->local_fraction)) < 0 ||
            tiersim_json_add(o, "contention", tiersim_json_double(rep->contention)) < 0 ||
            tiersim_json_add(o, "footprint_pages", json_object_new_int64((int64_t) rep->pages)) < 0 ||
            tiersim_json_add(o, "epochs", json_object_new_int64((int64_t) rep->epochs)) < 0 ||
            tiersim_json_add(o, "local_capacity_pages", json_object_new_int64((int64_t) rep->capacity)) < 0 ||
            tiersim_json_add(o, "runtime_s", tiersim_json_double(r->runtime_s)) < 0 ||
            tiersim_json_add(o, "runtime_all_local_s", tiersim_json_double(rep->all_local_s)) < 0 ||
            tiersim_json_add(o, "degradation",
                             tiersim_json_double(rep->all_local_s > 0 ? r->runtime_s / rep->all_local_s : 0)) < 0 ||
            tiersim_json_add(o, "promotions", json_object_new_int64((int64_t) r->promotions)) < 0 ||
            tiersim_json_add(o, "demotions", json_object_new_int64((int64_t) r->demotions)) < 0 ||
            tiersim_json_add(o, "traffic_bytes", json_object_new_int64((int64_t) r->traffic_bytes)) < 0 ||
            tiersim_json_add(o, "remote_access_fraction",
                             tiersim_json_double(samples ? (double) r->remote_samples / samples : 0)) < 0 ||
            tiersim_json_add(o, "decision", decision_to_json(&rep->training.final)) < 0 ||
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

int tiersim_parse_double(const char *s, double min, double max, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
                return -EINVAL;
        *ret = v;
        return 0;
}

int tiersim_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char *end;
        unsigned long long v;

        if (*s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || *end != '\0' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int tiersim_usage_error(const char *opt, const char *value) {
        fprintf(stderr, "maio-tiersim: invalid value for %s: '%s'\n", opt, value);
        return -EINVAL;
}
