/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for daemon/tier/tierd-train.c: a job trains its trainee on the worker thread and comes
 * back through the event loop with a published copy and the export; the loop keeps serving while a
 * job runs; a stop delivers the job in progress and drops queued ones; without a loop jobs run
 * inline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tier-internal.h"
#include "time-util.h"

typedef struct Done {
        TierdTrainJob *jobs[16];
        unsigned n;
        sd_event *event;
        unsigned exit_after;
} Done;

static void on_done(void *userdata, TierdTrainJob *j) {
        Done *d = userdata;

        assert_true(d->n < 16);
        d->jobs[d->n++] = j;
        if (d->event && d->n == d->exit_after)
                (void) sd_event_exit(d->event, 0);
}

/* A job for a fresh policy called name with n copies of one update. */
static TierdTrainJob *job_new(const char *name, unsigned train_steps, unsigned n, uint64_t seq) {
        TierdTrainJob *j = calloc(1, sizeof *j);
        TierPolicyParams pp;
        TierContext ctx = { .local_alloc = 0.3, .local_usage = 0.9, .remote_usage = 0.2, .traffic = 0.1 };

        assert_non_null(j);
        policy_params_default(&pp);
        pp.seed = 7;
        pp.train_steps = train_steps;
        assert_int_equal(policy_new(name, &pp, &j->trainee), 0);
        j->updates = calloc(n, sizeof *j->updates);
        assert_non_null(j->updates);
        for (unsigned i = 0; i < n; i++)
                j->updates[i] = (TierdTrainUpdate) { .ctx = ctx, .action = i % 3, .reward = 0.1 * i };
        j->n_updates = n;
        j->seq = seq;
        j->publish_seed = 99;
        return j;
}

static void check_result(const TierdTrainJob *j, unsigned updates) {
        uint64_t v = 0;

        assert_int_equal(j->r, 0);
        assert_non_null(j->trainee);
        assert_non_null(j->published);
        assert_non_null(j->json);
        assert_int_equal(j->version, updates);
        policy_counters(j->published, NULL, NULL, &v);
        assert_int_equal(v, updates); /* the published copy is the trained model */
        assert_non_null(strstr(j->json, "\"maio-tier-model\""));
}

static int on_tick(sd_event_source *es, uint64_t usec, void *userdata) {
        unsigned *ticks = userdata;

        (*ticks)++;
        return sd_event_source_set_time_relative(es, 1000);
}

static void test_thread(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Done d = { .exit_after = 2 };
        TierdTrainer *t = NULL;
        sd_event_source *tick = NULL;
        unsigned ticks = 0;
        TierdTrainStats st;

        assert_int_equal(sd_event_new(&e), 0);
        d.event = e;
        assert_int_equal(tierd_trainer_new(e, on_done, &d, &t), 0);
        /* An indigo job with many minibatch steps, and a linucb one queued behind it. */
        assert_int_equal(tierd_trainer_submit(t, job_new("indigo", 256, 4, 1)), 0);
        assert_int_equal(tierd_trainer_submit(t, job_new("linucb", 16, 3, 2)), 0);
        /* The loop keeps running timers while the worker trains. */
        assert_int_equal(sd_event_add_time_relative(e, &tick, CLOCK_MONOTONIC, 1000, 0, on_tick, &ticks), 0);
        assert_int_equal(sd_event_source_set_enabled(tick, SD_EVENT_ON), 0);
        assert_int_equal(sd_event_loop(e), 0);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.jobs[0]->seq, 1); /* in submission order */
        check_result(d.jobs[0], 4);
        check_result(d.jobs[1], 3);
        assert_true(ticks > 0);
        tierd_trainer_stats(t, &st);
        assert_int_equal(st.jobs_run, 2);
        assert_int_equal(st.updates_run, 7);
        assert_int_equal(st.queued, 0);
        for (unsigned i = 0; i < d.n; i++)
                tierd_train_job_free(d.jobs[i]);
        sd_event_source_disable_unref(tick);
        tierd_trainer_free(t);
}

static void test_stop(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        Done d = {};
        TierdTrainer *t = NULL;
        TierdTrainStats st;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(tierd_trainer_new(e, on_done, &d, &t), 0);
        for (uint64_t i = 1; i <= 4; i++)
                assert_int_equal(tierd_trainer_submit(t, job_new("indigo", 64, 2, i)), 0);
        /* Once the worker has taken the first job (on a loaded host it may not have been scheduled
         * yet), and without running the loop: the stop delivers what finished and the job in
         * progress, drops what was still queued, and refuses new jobs. */
        for (unsigned waited_ms = 0;; waited_ms++) {
                tierd_trainer_stats(t, &st);
                if (st.queued < 4)
                        break;
                assert_true(waited_ms < 60000);
                (void) usleep(1000);
        }
        tierd_trainer_stop(t);
        tierd_trainer_stats(t, &st);
        assert_true(d.n >= 1);
        assert_int_equal(d.n + st.jobs_dropped, 4);
        assert_int_equal(st.jobs_run, d.n);
        for (unsigned i = 0; i < d.n; i++) {
                assert_int_equal(d.jobs[i]->seq, i + 1);
                check_result(d.jobs[i], 2);
                tierd_train_job_free(d.jobs[i]);
        }
        assert_int_equal(tierd_trainer_submit(t, job_new("linucb", 1, 1, 9)), -ESHUTDOWN);
        tierd_trainer_free(t);
}

static void test_inline(void **state) {
        Done d = {};
        TierdTrainer *t = NULL;

        assert_int_equal(tierd_trainer_new(NULL, on_done, &d, &t), 0);
        assert_int_equal(tierd_trainer_submit(t, job_new("linucb", 1, 5, 1)), 0);
        assert_int_equal(d.n, 1); /* done before submit returned */
        check_result(d.jobs[0], 5);
        tierd_train_job_free(d.jobs[0]);
        tierd_trainer_free(t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_thread),
                cmocka_unit_test(test_stop),
                cmocka_unit_test(test_inline),
        };

        return cmocka_run_group_tests_name("tierd-train", tests, NULL, NULL);
}
