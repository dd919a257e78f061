/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Model updates off the event loop: one worker thread runs the policy updates of training jobs
 * (pure CPU work on a policy copy the job owns) and hands each finished job back to the loop
 * through an eventfd, where it is published and committed.
 *
 * Ownership, so that nothing is shared without the lock: a job and everything it points to (its
 * trainee policy, its updates, later its results) belong to the loop until tierd_trainer_submit(),
 * to the worker from when it takes the job off the queue until it puts it on the done list, and to
 * the loop again once the eventfd handler has taken it off that list. The two lists, the stopping
 * flag and the counters are guarded by the mutex. The worker touches no other state: policies hold
 * no global state, json-c objects are per job, and it does not log (the log is the loop's). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "tier-internal.h"
#include "time-util.h"

/* The nice value of the training thread (the loop runs at the process's). */
#define TIERD_TRAIN_NICE 10

struct TierdTrainer {
        sd_event *event; /* NULL: jobs run inline in submit (unit tests without a loop) */
        sd_event_source *source;
        int efd;
        TierdTrainDoneFn done;
        void *userdata;

        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* guarded by lock: */
        TierdTrainJob *queue, *queue_tail; /* submitted, not started */
        TierdTrainJob *finished, *finished_tail;
        bool stopping;
        uint64_t jobs_run, jobs_dropped, updates_run;
        uint64_t busy_usec; /* training time, summed */
};

void tierd_train_job_free(TierdTrainJob *j) {
        if (!j)
                return;
        policy_free(j->trainee);
        policy_free(j->published);
        free(j->updates);
        free(j->json);
        free(j);
}

/* The worker's part: pure. Applies the updates to the trainee, exports it (the model row), and
 * builds the copy decisions will use from that export, reseeded so that its exploration does not
 * replay the random numbers the trainee's minibatches draw next. */
void tierd_train_job_run(TierdTrainJob *j) {
        _cleanup_(json_object_putp) json_object *model = NULL;
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), updates = 0;
        int r = 0;

        for (size_t i = 0; i < j->n_updates && r >= 0; i++)
                r = policy_update(j->trainee, &j->updates[i].ctx, j->updates[i].action, j->updates[i].reward);
        if (r >= 0)
                r = policy_to_json(j->trainee, &model);
        if (r >= 0) {
                j->json = strdup(json_object_to_json_string_ext(model, JSON_C_TO_STRING_PLAIN));
                r = j->json ? 0 : -ENOMEM;
        }
        policy_counters(j->trainee, NULL, NULL, &updates);
        if (r >= 0)
                r = tierd_model_reseed(model, j->publish_seed ^ (updates * UINT64_C(0x9e3779b97f4a7c15)));
        if (r >= 0)
                r = policy_from_json(model, &j->published);
        j->version = updates;
        j->r = r;
        j->usec = now_usec(CLOCK_MONOTONIC) - t0;
}

static void list_push(TierdTrainJob **head, TierdTrainJob **tail, TierdTrainJob *j) {
        j->next = NULL;
        if (*tail)
                (*tail)->next = j;
        else
                *head = j;
        *tail = j;
}

static TierdTrainJob *list_take_all(TierdTrainJob **head, TierdTrainJob **tail) {
        TierdTrainJob *j = *head;

        *head = *tail = NULL;
        return j;
}

static void *worker_main(void *userdata) {
        TierdTrainer *t = userdata;
        uint64_t one = 1;

        /* Background work: on a busy host the event loop's thread gets the CPU first. The worker
         * logs nothing (the log's state is the loop's); a failure here only costs priority. */
        (void) setpriority(PRIO_PROCESS, (id_t) gettid(), TIERD_TRAIN_NICE);
        pthread_mutex_lock(&t->lock);
        for (;;) {
                TierdTrainJob *j;

                while (!t->queue && !t->stopping)
                        pthread_cond_wait(&t->cond, &t->lock);
                if (t->stopping)
                        break; /* what is still queued is dropped by the loop (see tierd_trainer_stop) */
                j = t->queue;
                t->queue = j->next;
                if (!t->queue)
                        t->queue_tail = NULL;
                pthread_mutex_unlock(&t->lock);

                tierd_train_job_run(j); /* the job is the worker's alone here */

                pthread_mutex_lock(&t->lock);
                t->jobs_run++;
                t->updates_run += j->n_updates;
                t->busy_usec += j->usec;
                list_push(&t->finished, &t->finished_tail, j);
                pthread_mutex_unlock(&t->lock);
                /* Cannot fail short of a bug: the counter would need 2^64 - 1 unread wake-ups. */
                (void) !write(t->efd, &one, sizeof one);
                pthread_mutex_lock(&t->lock);
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

/* Hands every finished job to the done callback, on the loop's thread. */
static void deliver_finished(TierdTrainer *t) {
        TierdTrainJob *j;

        pthread_mutex_lock(&t->lock);
        j = list_take_all(&t->finished, &t->finished_tail);
        pthread_mutex_unlock(&t->lock);
        while (j) {
                TierdTrainJob *next = j->next;

                j->next = NULL;
                t->done(t->userdata, j);
                j = next;
        }
}

static int on_wake(sd_event_source *es, int fd, uint32_t revents, void *userdata) {
        TierdTrainer *t = userdata;
        uint64_t n;

        if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
                log_debug_errno(errno, "Reading the training eventfd failed, ignoring: %m");
        deliver_finished(t);
        return 0;
}

int tierd_trainer_new(sd_event *event, TierdTrainDoneFn done, void *userdata, TierdTrainer **ret) {
        TierdTrainer *t = calloc(1, sizeof *t);
        int r;

        if (!t)
                return -ENOMEM;
        *t = (TierdTrainer) { .event = event, .efd = -EBADF, .done = done, .userdata = userdata };
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->cond, NULL);
        if (event) {
                t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
                if (t->efd < 0) {
                        r = -errno;
                        goto fail;
                }
                r = sd_event_add_io(event, &t->source, t->efd, EPOLLIN, on_wake, t);
                if (r < 0)
                        goto fail;
                (void) sd_event_source_set_description(t->source, "tier-training");
                r = -pthread_create(&t->thread, NULL, worker_main, t);
                if (r < 0)
                        goto fail;
                t->thread_started = true;
        }
        *ret = t;
        return 0;
fail:
        tierd_trainer_free(t);
        return r;
}

int tierd_trainer_submit(TierdTrainer *t, TierdTrainJob *job) {
        if (!t->event) {
                tierd_train_job_run(job);
                t->jobs_run++;
                t->updates_run += job->n_updates;
                t->busy_usec += job->usec;
                t->done(t->userdata, job);
                return 0;
        }
        pthread_mutex_lock(&t->lock);
        if (t->stopping) {
                t->jobs_dropped++;
                pthread_mutex_unlock(&t->lock);
                tierd_train_job_free(job);
                return -ESHUTDOWN;
        }
        list_push(&t->queue, &t->queue_tail, job);
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        return 0;
}

void tierd_trainer_stop(TierdTrainer *t) {
        TierdTrainJob *q;

        if (!t || !t->thread_started)
                return;
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        q = list_take_all(&t->queue, &t->queue_tail);
        pthread_cond_signal(&t->cond);
        pthread_mutex_unlock(&t->lock);
        /* The job in progress finishes (one bounded update batch) and is committed below; queued
         * ones are skipped, like updates lost to a crash: their rewards are committed episodes
         * and in the reward cache, not in the model. */
        (void) pthread_join(t->thread, NULL);
        t->thread_started = false;
        while (q) {
                TierdTrainJob *next = q->next;

                t->jobs_dropped++;
                tierd_train_job_free(q);
                q = next;
        }
        deliver_finished(t);
}

TierdTrainer *tierd_trainer_free(TierdTrainer *t) {
        TierdTrainJob *j;

        if (!t)
                return NULL;
        tierd_trainer_stop(t);
        j = list_take_all(&t->finished, &t->finished_tail);
        while (j) {
                TierdTrainJob *next = j->next;

                tierd_train_job_free(j);
                j = next;
        }
        sd_event_source_disable_unref(t->source);
        safe_close(t->efd);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}

void tierd_trainer_stats(TierdTrainer *t, TierdTrainStats *ret) {
        *ret = (TierdTrainStats) {};
        if (!t)
                return;
        pthread_mutex_lock(&t->lock);
        ret->jobs_run = t->jobs_run;
        ret->jobs_dropped = t->jobs_dropped;
        ret->updates_run = t->updates_run;
        ret->busy_usec = t->busy_usec;
        for (TierdTrainJob *j = t->queue; j; j = j->next)
                ret->queued++;
        pthread_mutex_unlock(&t->lock);
}
