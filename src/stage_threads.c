/* stage_threads.c - runs several workers of one stage, one thread each; a failed one stops the others.
 *
 * The calling thread watches the caller's stop flag and the workers' shared one (a stop flag has no
 * condition variable to wait on) and joins them all before it returns. */
#include "stage_threads.h"

#include <assert.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "limits.h"
#include "log.h"

/* How often the calling thread looks at the stop flags: the delay of a stop, at no measurable cost. */
#define STAGE_THREADS_WATCH_INTERVAL_MS 20

struct stage_threads {
    const char *stage; /* names the threads; NULL: unnamed */
    stage_threads_run_fn run;
    atomic_bool stop; /* raised when the caller's stop is, or when a worker fails */
    atomic_int failed;
};

struct stage_thread {
    struct stage_threads *shared;
    void *worker;
    int index;
};

void thread_name_set(const char *prefix, const char *suffix)
{
    char name[16]; /* Linux keeps 15 bytes and the NUL */
    snprintf(name, sizeof(name), "%s%s", prefix, suffix != NULL ? suffix : "");
    prctl(PR_SET_NAME, name, 0, 0, 0); /* only a name: its failure changes nothing */
}

static void *stage_thread_main(void *argument)
{
    struct stage_thread *thread = argument;
    struct stage_threads *shared = thread->shared;
    if (shared->stage != NULL) {
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "-%d", thread->index);
        thread_name_set(shared->stage, suffix);
    }
    if (shared->run(thread->worker, &shared->stop) != 0) {
        atomic_fetch_add(&shared->failed, 1);
        atomic_store(&shared->stop, true);
    }
    return NULL;
}

int stage_threads_run(stage_threads_run_fn run, void *const *workers, int count, const atomic_bool *stop)
{
    return stage_threads_run_named(NULL, run, workers, count, stop);
}

int stage_threads_run_named(const char *stage, stage_threads_run_fn run, void *const *workers, int count,
                            const atomic_bool *stop)
{
    assert(run != NULL && workers != NULL && stop != NULL);
    assert(count >= 1 && count <= STOCKD_STAGE_THREADS_MAX);
    if (count == 1) return run(workers[0], stop);
    struct stage_threads shared = {.stage = stage, .run = run};
    atomic_init(&shared.stop, false);
    atomic_init(&shared.failed, 0);
    struct stage_thread threads[STOCKD_STAGE_THREADS_MAX];
    pthread_t ids[STOCKD_STAGE_THREADS_MAX];
    int started = 0;
    for (; started < count; started++) {
        threads[started] = (struct stage_thread){&shared, workers[started], started};
        if (pthread_create(&ids[started], NULL, stage_thread_main, &threads[started]) != 0) {
            log_error("app", "cannot start worker thread %d of %d: stopping", started, count);
            atomic_fetch_add(&shared.failed, 1);
            atomic_store(&shared.stop, true);
            break;
        }
    }
    while (!atomic_load(stop) && !atomic_load(&shared.stop)) {
        struct timespec pause = {0, STAGE_THREADS_WATCH_INTERVAL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    atomic_store(&shared.stop, true);
    for (int i = 0; i < started; i++)
        pthread_join(ids[i], NULL);
    return atomic_load(&shared.failed) > 0 ? -1 : 0;
}

void stage_threads_worker_names(const struct stockd_config *config, const char *stage, int index, char *name,
                                size_t name_bytes, char *transactional_id, size_t transactional_id_bytes)
{
    assert(config != NULL && stage != NULL && name != NULL && transactional_id != NULL);
    assert(index >= 0 && index < STOCKD_STAGE_THREADS_MAX);
    int name_length = index == 0 ? snprintf(name, name_bytes, "%s", stage)
                                 : snprintf(name, name_bytes, "%s/%d", stage, index);
    int id_length = index == 0 ? snprintf(transactional_id, transactional_id_bytes, "%s-%s-%s",
                                          config->topic_prefix, stage, config->instance_id)
                               : snprintf(transactional_id, transactional_id_bytes, "%s-%s-%s/%d",
                                          config->topic_prefix, stage, config->instance_id, index);
    assert(name_length > 0 && (size_t)name_length < name_bytes);
    assert(id_length > 0 && (size_t)id_length < transactional_id_bytes);
    (void)name_length;
    (void)id_length;
}
