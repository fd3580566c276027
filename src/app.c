/* app.c - wires the stages of one stockd instance: topics, router, handler (and, later, projectors and
 * the HTTP API), each stage on its own thread.
 *
 * Stopping is cooperative: one stop flag, every stage loop checks it between batches and finishes its
 * open transaction before returning. A stage that fails raises the flag for the others. */
#include "app.h"

#include <assert.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "api/api.h"
#include "handler.h"
#include "kafka/client.h"
#include "kafka/topics.h"
#include "log.h"
#include "orders.h"
#include "outcome_board.h"
#include "projector.h"
#include "router.h"
#include "store/sqlite_util.h"
#include "stage_threads.h"
#include "views/movements.h"
#include "views/catalog.h"
#include "views/view.h"

#define COMPONENT "app"

/* The read models every projector-role instance maintains. */
#define APP_VIEWS_COUNT 6
static const struct view_ops *const app_views[APP_VIEWS_COUNT] = {
    &view_stock_ops,        /* stock per SKU and location */
    &view_reservations_ops, /* every reservation with its status */
    &view_history_ops,      /* every event of a SKU */
    &view_outcomes_ops,     /* each command's outcome */
    &view_movements_ops,    /* units moved per SKU and day, the reorder listing */
    &view_catalog_ops,      /* merged catalog entries, search, GTIN duplicates */
};

/* A thread's stage: what it runs, for the shared thread function. */
struct app_stage {
    const char *name; /* its thread's name */
    struct app *app;
    int (*run)(void *stage, const atomic_bool *stop);
    void *stage;
};

struct app {
    struct stockd_config config; /* a copy: embedded mode rewrites kafka.bootstrap */
    rd_kafka_t *mock_owner;      /* owns the embedded mock cluster, when kafka.embedded */
    struct router *router;
    struct handler *handler;
    struct orders *orders;
    struct projector *projectors[APP_VIEWS_COUNT];
    struct outcome_board
        *outcome_board; /* the handler's outcomes for the API's Prefer: wait, when both run */
    struct api *api;
    atomic_bool *stop;
    atomic_int failed;
};

/* Starts the in-process mock cluster and points the configuration at it. */
static int embedded_start(struct app *app, char *error, size_t error_bytes)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (kafka_conf_set(conf, "test.mock.num.brokers", "1", error, error_bytes) != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    app->mock_owner = kafka_client_new(RD_KAFKA_PRODUCER, conf, error, error_bytes);
    if (app->mock_owner == NULL) return -1;
    rd_kafka_mock_cluster_t *cluster = rd_kafka_handle_mock_cluster(app->mock_owner);
    /* librdkafka's mock (2.0.2, 2.8.0) serves no CreateTopics: create the topics through its own API. */
    struct kafka_topics names;
    kafka_topics_names(app->config.topic_prefix, &names);
    const char *const topics[] = {names.commands, names.by_sku, names.events, names.orders};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        rd_kafka_resp_err_t status =
            rd_kafka_mock_topic_create(cluster, topics[i], app->config.partitions, 1);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(error, error_bytes, "embedded kafka: creating %s: %s", topics[i],
                     rd_kafka_err2str(status));
            return -1;
        }
    }
    rd_kafka_mock_topic_create(cluster, names.dlq, 1, 1);
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
    snprintf(app->config.kafka_bootstrap, sizeof(app->config.kafka_bootstrap), "%s", bootstraps);
    log_warn(COMPONENT,
             "EMBEDDED KAFKA at %s: an in-process mock cluster for trying stockd out. It keeps "
             "nothing across restarts and does NOT provide exactly-once (it does not fence zombies "
             "or filter aborted records). Use a real Kafka cluster for anything else.",
             bootstraps);
    return 0;
}

/* Creates the HTTP API over the stages this instance runs. Returns 0, or -1 with a message. */
static int app_api_create(struct app *app, char *error, size_t error_bytes)
{
    bool projecting = app->projectors[0] != NULL;
    struct api_stages stages = {
        .stock = app->projectors[0],
        .reservations = app->projectors[1],
        .history = app->projectors[2],
        .outcomes = app->projectors[3],
        .movements = app->projectors[4],
        .catalog = app->projectors[5],
        .projectors = app->projectors,
        .projector_count = projecting ? APP_VIEWS_COUNT : 0,
        .handler = app->handler,
        .router = app->router,
        .orders = app->orders,
        .outcome_board = app->outcome_board,
    };
    app->api = api_create(&app->config, &stages, error, error_bytes);
    return app->api != NULL ? 0 : -1;
}

struct app *app_create(const struct stockd_config *config, char *error, size_t error_bytes)
{
    assert(config != NULL);
    struct app *app = calloc(1, sizeof(*app));
    if (app == NULL) {
        snprintf(error, error_bytes, "out of memory");
        return NULL;
    }
    app->config = *config;
    sqlite_util_process_init();
    if (app->config.embedded_kafka && embedded_start(app, error, error_bytes) != 0) goto out_destroy;
    if (topics_ensure(&app->config, !app->config.embedded_kafka, error, error_bytes) != 0) goto out_destroy;
    if ((app->config.roles & STOCKD_ROLE_ROUTER) &&
        (app->router = router_create(&app->config, error, error_bytes)) == NULL)
        goto out_destroy;
    if ((app->config.roles & STOCKD_ROLE_HANDLER) &&
        (app->handler = handler_create(&app->config, error, error_bytes)) == NULL)
        goto out_destroy;
    if ((app->config.roles & STOCKD_ROLE_ORDERS) &&
        (app->orders = orders_create(&app->config, error, error_bytes)) == NULL)
        goto out_destroy;
    for (int i = 0; (app->config.roles & STOCKD_ROLE_PROJECTOR) && i < APP_VIEWS_COUNT; i++) {
        app->projectors[i] = projector_create(&app->config, app_views[i], error, error_bytes);
        if (app->projectors[i] == NULL) goto out_destroy;
    }
    if ((app->config.roles & STOCKD_ROLE_API) && app->handler != NULL && app->projectors[3] != NULL) {
        app->outcome_board = outcome_board_create(app->config.http_waits_max);
        if (app->outcome_board == NULL || handler_outcome_board_set(app->handler, app->outcome_board) != 0) {
            snprintf(error, error_bytes, "out of memory");
            goto out_destroy;
        }
    }
    if ((app->config.roles & STOCKD_ROLE_API) && app_api_create(app, error, error_bytes) != 0)
        goto out_destroy;
    return app;
out_destroy:
    app_destroy(app);
    return NULL;
}

static int router_stage_run(void *stage, const atomic_bool *stop)
{
    return router_run(stage, stop);
}

static int handler_stage_run(void *stage, const atomic_bool *stop)
{
    return handler_run(stage, stop);
}

static int orders_stage_run(void *stage, const atomic_bool *stop)
{
    return orders_run(stage, stop);
}

static int projector_stage_run(void *stage, const atomic_bool *stop)
{
    return projector_run(stage, stop);
}

/* Runs one stage; a stage that fails raises the stop flag for all the others. */
static void *stage_thread(void *argument)
{
    struct app_stage *stage = argument;
    thread_name_set(stage->name, NULL);
    if (stage->run(stage->stage, stage->app->stop) != 0) {
        atomic_store(&stage->app->failed, 1);
        atomic_store(stage->app->stop, true);
    }
    return NULL;
}

int app_run(struct app *app, atomic_bool *stop)
{
    assert(app != NULL && stop != NULL);
    app->stop = stop;
    struct app_stage stages[3 + APP_VIEWS_COUNT];
    int stage_count = 0;
    if (app->router != NULL)
        stages[stage_count++] = (struct app_stage){"router", app, router_stage_run, app->router};
    if (app->handler != NULL)
        stages[stage_count++] = (struct app_stage){"handler", app, handler_stage_run, app->handler};
    if (app->orders != NULL)
        stages[stage_count++] = (struct app_stage){"orders", app, orders_stage_run, app->orders};
    for (int i = 0; i < APP_VIEWS_COUNT; i++) {
        if (app->projectors[i] != NULL)
            stages[stage_count++] =
                (struct app_stage){app_views[i]->name, app, projector_stage_run, app->projectors[i]};
    }
    pthread_t threads[3 + APP_VIEWS_COUNT];
    int thread_count = 0;
    for (int i = 0; i < stage_count; i++) {
        if (pthread_create(&threads[thread_count], NULL, stage_thread, &stages[i]) == 0) {
            thread_count++;
        } else {
            log_error(COMPONENT, "cannot start a stage thread: stopping");
            atomic_store(&app->failed, 1);
            atomic_store(stop, true);
            break;
        }
    }
    if (app->api != NULL && !atomic_load(stop)) {
        char error[512];
        if (api_start(app->api, error, sizeof(error)) != 0) {
            log_error(COMPONENT, "%s", error);
            atomic_store(&app->failed, 1);
            atomic_store(stop, true);
        }
    }
    log_info(COMPONENT, "instance %s running %d stage(s) against %s", app->config.instance_id, thread_count,
             app->config.kafka_bootstrap);
    while (!atomic_load(stop)) {
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
    log_info(COMPONENT, "stopping");
    api_stop(app->api);
    for (int i = 0; i < thread_count; i++)
        pthread_join(threads[i], NULL);
    return atomic_load(&app->failed) ? -1 : 0;
}

void app_destroy(struct app *app)
{
    if (app == NULL) return;
    api_destroy(app->api);
    for (int i = 0; i < APP_VIEWS_COUNT; i++)
        projector_destroy(app->projectors[i]);
    orders_destroy(app->orders);
    handler_destroy(app->handler);
    outcome_board_destroy(app->outcome_board);
    router_destroy(app->router);
    if (app->mock_owner != NULL) rd_kafka_destroy(app->mock_owner);
    free(app);
}

/* Blocks at least this large are mmapped (a fixed value also stops glibc raising it after each free of a
 * mmapped block, which had moved the consumers' 1 MiB fetch buffers onto fragmented heaps), and free memory
 * above the top of a heap beyond this much is returned. */
#define APP_MALLOC_MMAP_THRESHOLD (128 * 1024)
#define APP_MALLOC_TRIM_THRESHOLD (128 * 1024)
#define APP_MALLOC_ARENAS_MAX     64

void app_malloc_tune(void)
{
    if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL) mallopt(M_MMAP_THRESHOLD, APP_MALLOC_MMAP_THRESHOLD);
    if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL) mallopt(M_TRIM_THRESHOLD, APP_MALLOC_TRIM_THRESHOLD);
    if (getenv("MALLOC_ARENA_MAX") == NULL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (cores < 1) cores = 1;
        if (cores > APP_MALLOC_ARENAS_MAX) cores = APP_MALLOC_ARENAS_MAX;
        mallopt(M_ARENA_MAX, (int)cores);
    }
}
