/* stage_threads.h - runs several workers of one stage (handler.threads, router.threads), one thread each.
 *
 * A worker that fails stops the others, as a failed stage stops the instance (app.c). Knows nothing of
 * Kafka: a worker is a run function and its argument. */
#ifndef STOCKD_STAGE_THREADS_H
#define STOCKD_STAGE_THREADS_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"

/* One worker's loop: runs until *stop is true; returns 0 on a clean stop, -1 when it could not go on. */
typedef int (*stage_threads_run_fn)(void *worker, const atomic_bool *stop);

/* Runs run(workers[i], ...) for each of count workers, on the calling thread when count is 1 and on one
 * thread each otherwise, until *stop is true or a worker fails (then the others are stopped too). Returns
 * when every worker returned: 0 when all stopped cleanly, -1 when one failed or could not be started. */
int stage_threads_run(stage_threads_run_fn run, void *const *workers, int count, const atomic_bool *stop);

/* Names the calling thread for top -H, perf and gdb: "<prefix><suffix>" (suffix may be NULL), cut to the
 * 15 bytes Linux keeps. stage_threads_run names its threads "<stage>-<index>" (stage_threads_run_named). */
void thread_name_set(const char *prefix, const char *suffix);

/* stage_threads_run with the workers' threads named "<stage>-0", "<stage>-1", ... */
int stage_threads_run_named(const char *stage, stage_threads_run_fn run, void *const *workers, int count,
                            const atomic_bool *stop);

/* Names worker index of stage ("handler", "router"): its log component and client role (stage for worker
 * 0, "stage/k" for worker k) and its transactional id (<prefix>-<stage>-<instance.id>, then "/k"). Worker
 * 0 keeps the id of a one-thread stage; '/' is outside instance.id's charset, so no worker of another
 * instance can share an id, and each is stable across restarts. Both outputs must fit (asserted). */
void stage_threads_worker_names(const struct stockd_config *config, const char *stage, int index, char *name,
                                size_t name_bytes, char *transactional_id, size_t transactional_id_bytes);

#endif
