/* main.c - the stockd command line: picks a mode from argv and wires configuration to it.
 *
 * Wiring only: --help, --version and --check-config are answered here, everything else comes from
 * config.c. The service stages (api, router, handler, projector) are not built yet, so a normal start
 * says so and exits 3 instead of pretending to serve. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include "config.h"

enum {
    EXIT_CONFIG = 2,    /* the configuration is invalid: the message says which key and why */
    EXIT_NOT_BUILT = 3, /* a normal start was asked for, but this version has no stages to run */
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

/* A normal start. No stage exists yet: says what would run, and that it cannot, honestly. */
static int run_service(const struct stockd_config *config)
{
    char roles[64];
    if (stockd_config_roles_format(config->roles, roles, sizeof roles) != 0) roles[0] = '\0';
    fprintf(stderr,
            "stockd: configuration: instance %s, roles %s, kafka %s (topic prefix %s, %d partitions), "
            "data_dir %s, http %s\n",
            config->instance_id, roles,
            config->embedded_kafka ? "embedded mock cluster" : config->kafka_bootstrap, config->topic_prefix,
            (int)config->partitions, config->data_dir, config->http_listen);
    fputs("stockd: no service stages are built yet in this version; use --check-config\n", stderr);
    return EXIT_NOT_BUILT;
}

int main(int argc, char **argv)
{
    if (argv_has(argc, argv, "--help")) return run_help();
    if (argv_has(argc, argv, "--version")) return run_version();
    static struct stockd_config config; /* static: about 130 KiB of properties, kept off the stack */
    if (load_config(&config, argc, argv) != 0) return EXIT_CONFIG;
    if (argv_has(argc, argv, "--check-config")) return run_check_config(&config);
    return run_service(&config);
}
