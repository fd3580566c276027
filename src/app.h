/* app.h - starts the stages this instance runs (--roles) and stops them in order.
 *
 * Provisions topics, then runs the router and the handler, each on its own thread, until asked to stop
 * or until a stage fails. With kafka.embedded it first starts an in-process mock cluster (keeps nothing,
 * no exactly-once) and points every client at it. */
#ifndef STOCKD_APP_H
#define STOCKD_APP_H

#include <stdatomic.h>
#include <stddef.h>

#include "config.h"

struct app;

/* Tunes glibc's allocator for a long-running instance, before any thread starts: large blocks (librdkafka's
 * fetch buffers, batches) always mmapped and returned at free, the heap trimmed above 128 KiB, one arena per
 * online core. bench_handler (300k commands, 2 handler threads): peak RSS 85-88 MB -> 73-78 MB at the
 * same CPU per command (docs/operations.md, "Memory"). A MALLOC_* variable in the environment wins over
 * its setting here. */
void app_malloc_tune(void);

/* Creates the app from a validated configuration (copied). Returns NULL with a message in error. */
struct app *app_create(const struct stockd_config *config, char *error, size_t error_bytes);

/* Starts the stages and blocks until *stop becomes true or a stage fails; then stops every stage
 * (each finishes or aborts its open transaction and closes its shards). Returns 0 when stopped on
 * request, -1 when a stage failed or could not start (a message was logged). */
int app_run(struct app *app, atomic_bool *stop);

/* Destroys the app after app_run returned. Accepts NULL. */
void app_destroy(struct app *app);

#endif
