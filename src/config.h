/* config.h - stockd's configuration: one struct, filled once at start, read-only afterwards.
 *
 * Sources, later ones winning: built-in defaults < JSON file (--config FILE or STOCKD_CONFIG) <
 * environment (STOCKD_<KEY> with dots as underscores, e.g. STOCKD_KAFKA_BOOTSTRAP) < command-line flags
 * (--kafka.bootstrap=VALUE or --kafka.bootstrap VALUE). Every key is validated with a message that names
 * it and says why (`kafka.bootstrap: empty`). */
#ifndef STOCKD_CONFIG_H
#define STOCKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "limits.h"

/* Roles this instance runs (--roles api,router,handler,projector,orders). */
enum stockd_role {
    STOCKD_ROLE_API = 1u << 0,
    STOCKD_ROLE_ROUTER = 1u << 1,
    STOCKD_ROLE_HANDLER = 1u << 2,
    STOCKD_ROLE_PROJECTOR = 1u << 3,
    STOCKD_ROLE_ORDERS = 1u << 4, /* the order saga's stage (src/orders.c) */
    STOCKD_ROLE_ALL = (1u << 5) - 1,
};

struct stockd_kafka_property {
    char name[STOCKD_CONFIG_STRING_BYTES_MAX];
    char value[STOCKD_CONFIG_STRING_BYTES_MAX];
};

/* An API key of http.api_keys. */
#define STOCKD_API_KEYS_MAX      16
#define STOCKD_API_KEY_BYTES_MIN 16
#define STOCKD_API_KEY_BYTES_MAX 128

struct stockd_api_key {
    unsigned role;                          /* 1 read, 2 write, 3 admin: each includes those below */
    char key[STOCKD_API_KEY_BYTES_MAX + 1]; /* a secret: never logged */
    int64_t not_after_s;                    /* Unix seconds after which it is refused; 0: never */
};

struct stockd_config {
    char instance_id[STOCKD_ID_BYTES_MAX + 1];     /* instance.id: stable per instance, names the txn id */
    unsigned roles;                                /* roles: bit set of enum stockd_role */
    char data_dir[STOCKD_CONFIG_STRING_BYTES_MAX]; /* data_dir */
    char log_level[16];                            /* log.level: error, warn, info, debug */

    char kafka_bootstrap[STOCKD_CONFIG_STRING_BYTES_MAX]; /* kafka.bootstrap */
    char topic_prefix[STOCKD_SKU_BYTES_MAX + 1];          /* kafka.topic_prefix */
    int32_t partitions;                                   /* kafka.partitions: P of by-sku and events */
    int32_t replication_factor;                           /* kafka.replication_factor, 0: broker's */
    int32_t min_insync_replicas;                          /* kafka.min_insync_replicas, 0: broker's */
    bool embedded_kafka;                                  /* kafka.embedded: mock cluster, no EOS */
    size_t kafka_property_count;                          /* kafka.properties: librdkafka passthrough */
    struct stockd_kafka_property kafka_properties[STOCKD_CONFIG_PROPERTIES_MAX];

    int32_t handler_batch_max;         /* handler.batch_max: commands per transaction */
    int32_t handler_poll_timeout_ms;   /* handler.poll_timeout_ms: wait for more before the batch commits */
    int64_t handler_dedup_retention_s; /* handler.dedup_retention_s: how long command ids are remembered */
    int32_t router_threads;            /* router.threads: workers routing in parallel */
    int32_t handler_threads;           /* handler.threads: workers deciding partitions in parallel */
    int32_t handler_punctuate_interval_ms; /* handler.punctuate_interval_ms: reservation expiry ticks */
    int32_t orders_saga_timeout_ms;        /* orders.saga_timeout_ms: a placing order gives up after it */

    char http_listen[STOCKD_CONFIG_STRING_BYTES_MAX];   /* http.listen: host:port */
    int32_t http_threads;                               /* http.threads */
    int64_t http_body_bytes_max;                        /* http.body_bytes_max */
    char http_api_keys[STOCKD_CONFIG_STRING_BYTES_MAX]; /* http.api_keys: "" none (a secret) */
    int32_t http_request_timeout_ms;                    /* http.request_timeout_ms */
    int32_t http_wait_ms_max;                           /* http.wait_ms_max */
    int32_t http_waits_max;                             /* http.waits_max */
    int32_t http_idempotency_keys_max;                  /* http.idempotency_keys_max */

    int64_t views_lag_max; /* views.lag_max: events behind before a view is not ready */

    /* catalog.source_precedence: "erp,pim,web", highest first; "" none (catalog_precedence_parse) */
    char catalog_source_precedence[STOCKD_CONFIG_STRING_BYTES_MAX];
};

struct stockd_config_error {
    char message[512]; /* `kafka.partitions: must be an integer in [1, 1024], got 0` */
};

/* Fills *config with the built-in defaults. Never fails. */
void stockd_config_defaults(struct stockd_config *config);

/* Builds the configuration from all sources. argv flags that are not configuration keys (--help,
 * --version, --check-config, --config) are left to the caller: config reads --config FILE itself and
 * skips the others. envp is the environment to read (NULL: the process environment). Returns 0, or -1
 * with *error naming the first bad key; *config is then undefined. */
int stockd_config_load(struct stockd_config *config, int argc, char **argv, char **envp,
                       struct stockd_config_error *error);

/* How many arguments the flag at argv[index] spans, as stockd_config_load reads it: 2 for "--KEY VALUE",
 * 1 for "--KEY=VALUE" or a bare flag, 0 for anything that is not one of stockd's flags (unknown, malformed,
 * or a value missing at the end: the load reports those). */
int stockd_config_flag_span(int argc, char **argv, int index);

/* Applies one key=value (as from a flag or the environment). Returns 0 or -1 with *error set. */
int stockd_config_set(struct stockd_config *config, const char *key, const char *value,
                      struct stockd_config_error *error);

/* Validates cross-key rules (after all sources were applied). Returns 0 or -1 with *error set. */
int stockd_config_validate(const struct stockd_config *config, struct stockd_config_error *error);

/* Writes the effective configuration as JSON (for --check-config), secrets in kafka.properties masked.
 * Returns a malloc'd string or NULL when out of memory. */
char *stockd_config_to_json(const struct stockd_config *config);

/* Writes the help text for every key (name, env var, default, meaning) to a malloc'd string, or returns
 * NULL when out of memory. */
char *stockd_config_help(void);

/* Parses http.api_keys ("role:key[:not_after_unix_s],..."; "" is none) into out. Returns the number of
 * keys (0 .. STOCKD_API_KEYS_MAX), or -1 with a reason that names the entry, never the key. */
int stockd_config_api_keys_parse(const char *text, struct stockd_api_key out[STOCKD_API_KEYS_MAX],
                                 char *reason, size_t reason_bytes);

/* Writes roles as the comma list the roles key accepts ("api,router"). Returns 0, or -1 when it does not
 * fit buffer_bytes (buffer then holds a cut prefix). 32 bytes always fit. */
int stockd_config_roles_format(unsigned roles, char *buffer, size_t buffer_bytes);

#endif
