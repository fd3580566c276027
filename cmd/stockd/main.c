/* main.c - the stockd command line: picks a mode from argv and wires configuration to it.
 *
 * Wiring only: --help, --version and --check-config are answered here; a normal start hands the
 * configuration to app.c, which runs the stages of --roles until SIGINT or SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include "app.h"
#include "config.h"
#include "log.h"
#include "stage_threads.h"

enum {
    EXIT_RUNTIME = 1, /* a stage could not start or failed while running: the log says why */
    EXIT_CONFIG = 2,  /* the configuration is invalid: the message says which key and why */
};

/* True when argv holds flag exactly (main's flags take no value). */
static bool argv_has(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], flag) == 0) return true;
    }
    return false;
}

/* Prints usage and every configuration key to stdout. Returns the exit status. */
static int run_help(void)
{
    char *keys = stockd_config_help();
    if (keys == NULL) {
        fputs("stockd: out of memory\n", stderr);
        return EXIT_FAILURE;
    }
    printf("stockd - CQRS inventory service: HTTP commands in, Kafka events as the source of truth,\n"
           "SQLite views out.\n"
           "\n"
           "Usage: stockd [--config FILE] [--KEY=VALUE | --KEY VALUE]... [--check-config]\n"
           "       stockd --help | --version\n"
           "\n"
           "  --help             print this help and exit\n"
           "  --version          print the versions of stockd and its libraries and exit\n"
           "  --check-config     load and validate the configuration, print it as JSON and exit\n"
           "                     (0 when valid, 2 when not)\n"
           "  --config FILE      read a JSON configuration file (else $STOCKD_CONFIG, if set)\n"
           "  --embedded-kafka   same as --kafka.embedded=true\n"
           "\n"
           "%s",
           keys);
    free(keys);
    return EXIT_SUCCESS;
}

/* Prints stockd's version and the versions of the libraries it is linked with. */
static int run_version(void)
{
    printf("stockd %s\nlibrdkafka %s\nSQLite %s\ncJSON %s\n", STOCKD_VERSION, rd_kafka_version_str(),
           sqlite3_libversion(), cJSON_Version());
    return EXIT_SUCCESS;
}

/* Loads the configuration from argv and the process environment; on error prints it and returns -1. */
static int load_config(struct stockd_config *config, int argc, char **argv)
{
    struct stockd_config_error error;
    if (stockd_config_load(config, argc, argv, NULL, &error) != 0) {
        fprintf(stderr, "stockd: %s\n", error.message);
        return -1;
    }
    return 0;
}

/* Validates the configuration and prints it as JSON (secrets masked). */
static int run_check_config(const struct stockd_config *config)
{
    char *json = stockd_config_to_json(config);
    if (json == NULL) {
        fputs("stockd: out of memory\n", stderr);
        return EXIT_FAILURE;
    }
    puts(json);
    free(json);
    return EXIT_SUCCESS;
}

static atomic_bool stop_requested;

/* Installed but never run (the signals are blocked in every thread): see run_service. */
static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    atomic_store(&stop_requested, true); /* lock-free atomic: async-signal-safe */
}

/* SIGINT and SIGTERM are taken by this one thread, which asks the stages to stop. The signals are blocked
 * before any other thread starts, so every thread stockd and its libraries make inherits the block and no
 * blocking call elsewhere is cut short: the embedded mock cluster's thread, for one, stops for good when a
 * signal ends its poll with EINTR (librdkafka 2.8.0), and a stop would then wait on a broker that is gone. */
static void *stop_signals_wait(void *argument)
{
    const sigset_t *signals = argument;
    thread_name_set("signals", NULL); /* while it waits, /proc shows SIGINT and SIGTERM unblocked here */
    for (;;) {
        int signal_number = 0;
        if (sigwait(signals, &signal_number) == 0) atomic_store(&stop_requested, true);
    }
    return NULL;
}

/* A normal start: runs the stages of --roles until SIGINT or SIGTERM, then stops them in order (each
 * finishes or aborts its open transaction and closes its shards). */
static int run_service(const struct stockd_config *config)
{
    if (log_init(config->log_level) != 0) return EXIT_CONFIG;
    /* A handler first: a shell starts background commands with SIGINT ignored, and an ignored signal never
     * reaches sigwait. Blocked everywhere, the handler itself runs nowhere. */
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    static sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_t signal_thread;
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
        pthread_create(&signal_thread, NULL, stop_signals_wait, &stop_signals) != 0 ||
        pthread_detach(signal_thread) != 0) {
        fprintf(stderr, "stockd: cannot start the thread that takes SIGINT and SIGTERM\n");
        return EXIT_RUNTIME;
    }
    signal(SIGPIPE, SIG_IGN);

    char roles[64];
    if (stockd_config_roles_format(config->roles, roles, sizeof roles) != 0) roles[0] = '\0';
    log_info("stockd",
             "stockd %s starting: instance %s, roles %s, kafka %s (prefix %s, %d partitions), data_dir %s",
             STOCKD_VERSION, config->instance_id, roles,
             config->embedded_kafka ? "embedded mock cluster" : config->kafka_bootstrap, config->topic_prefix,
             (int)config->partitions, config->data_dir);
    char error[1024];
    struct app *app = app_create(config, error, sizeof(error));
    if (app == NULL) {
        fprintf(stderr, "stockd: %s\n", error);
        return EXIT_RUNTIME;
    }
    int status = app_run(app, &stop_requested);
    app_destroy(app);
    log_info("stockd", "stopped%s", status == 0 ? "" : " after a failure");
    return status == 0 ? EXIT_SUCCESS : EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
    if (argv_has(argc, argv, "--help")) return run_help();
    if (argv_has(argc, argv, "--version")) return run_version();
    static struct stockd_config config; /* static: about 130 KiB of properties, kept off the stack */
    if (load_config(&config, argc, argv) != 0) return EXIT_CONFIG;
    if (argv_has(argc, argv, "--check-config")) return run_check_config(&config);
    app_malloc_tune();
    return run_service(&config);
}
