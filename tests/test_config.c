/* test_config.c - tests of config.c: defaults, file < environment < flags, and every refusal by name.
 *
 * Each refusal asserts the exact message. Environments are arrays built here and passed as envp, never
 * the process's; files live in one mkdtemp directory removed at the end. The last test runs the stockd
 * binary for its exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0]) - 1)) /* argv arrays end in NULL */
#define FILES_MAX    128

static char temp_dir[64];
static int files_written;

static struct stockd_config loaded; /* static: about 130 KiB, kept off the stack */
static struct stockd_config_error error;
static char *no_env[] = {NULL};

static int group_setup(void **state)
{
    (void)state;
    snprintf(temp_dir, sizeof temp_dir, "/tmp/test_config.XXXXXX");
    return mkdtemp(temp_dir) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char path[128];
    for (int i = 0; i < files_written; i++) {
        snprintf(path, sizeof path, "%s/file-%d", temp_dir, i);
        unlink(path);
    }
    return rmdir(temp_dir);
}

/* Writes length bytes of contents to a new file in the temp dir; its path goes to path (128 bytes). */
static void write_bytes(char *path, const char *contents, size_t length)
{
    assert_true(files_written < FILES_MAX);
    snprintf(path, 128, "%s/file-%d", temp_dir, files_written++);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(contents, 1, length, file), length);
    assert_int_equal(fclose(file), 0);
}

static void write_file(char *path, const char *contents)
{
    write_bytes(path, contents, strlen(contents));
}

/* Loads with argv = {"stockd", arguments...} and envp. Returns stockd_config_load's result. */
static int load(int argc, char **argv, char **envp)
{
    memset(&error, 0, sizeof error);
    return stockd_config_load(&loaded, argc, argv, envp, &error);
}

/* Loads a config file whose contents are given, no environment, no other flags. */
static int load_file(char *path, const char *contents)
{
    write_file(path, contents);
    char *argv[] = {"stockd", "--config", path, NULL};
    return load(COUNT(argv), argv, no_env);
}

/* Asserts that loading failed with exactly expected. */
static void assert_failed_with(int rc, const char *expected)
{
    assert_int_equal(rc, -1);
    assert_string_equal(error.message, expected);
}

/* Asserts the load failed with "config file <path>: <rest>". */
static void assert_file_failed_with(int rc, const char *path, const char *rest)
{
    char expected[600];
    snprintf(expected, sizeof expected, "config file %s: %s", path, rest);
    assert_failed_with(rc, expected);
}

/* Asserts the load failed with "<reason> (from config file <path>)". */
static void assert_file_value_failed_with(int rc, const char *reason, const char *path)
{
    char expected[600];
    snprintf(expected, sizeof expected, "%s (from config file %s)", reason, path);
    assert_failed_with(rc, expected);
}

/* Sets key=value on a defaulted config and asserts the exact message of the refusal. */
static void assert_set_rejected(const char *key, const char *value, const char *expected)
{
    stockd_config_defaults(&loaded);
    assert_int_equal(stockd_config_set(&loaded, key, value, &error), -1);
    assert_string_equal(error.message, expected);
}

/* ---- defaults and precedence ------------------------------------------------------------------------- */

static void test_defaults_valid(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    assert_int_equal(stockd_config_validate(&loaded, &error), 0);
    assert_int_equal(loaded.roles, STOCKD_ROLE_ALL);
    assert_string_equal(loaded.data_dir, "./var/data");
    assert_string_equal(loaded.log_level, "info");
    assert_string_equal(loaded.kafka_bootstrap, "127.0.0.1:19092");
    assert_string_equal(loaded.topic_prefix, "stockd");
    assert_int_equal(loaded.partitions, 6);
    assert_int_equal(loaded.replication_factor, 0);
    assert_int_equal(loaded.min_insync_replicas, 0);
    assert_false(loaded.embedded_kafka);
    assert_int_equal(loaded.kafka_property_count, 0);
    assert_int_equal(loaded.handler_batch_max, 5000);
    assert_int_equal(loaded.handler_poll_timeout_ms, 0);
    assert_int_equal(loaded.handler_dedup_retention_s, 604800);
    assert_int_equal(loaded.handler_punctuate_interval_ms, 1000);
    assert_string_equal(loaded.http_listen, "127.0.0.1:8080");
    assert_int_equal(loaded.http_threads, 64);
    assert_int_equal(loaded.http_body_bytes_max, 65536);
    assert_int_equal(loaded.views_lag_max, 1000);
}

static void test_default_instance_id_is_stockd_hostname_in_charset(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    assert_int_equal(strncmp(loaded.instance_id, "stockd", 6), 0);
    size_t length = strlen(loaded.instance_id);
    assert_true(length >= 6 && length <= STOCKD_ID_BYTES_MAX);
    assert_int_equal(
        strspn(loaded.instance_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-"),
        length);
}

static void test_load_without_sources_gives_defaults(void **state)
{
    (void)state;
    char *argv[] = {"stockd", NULL};
    char *env[] = {"PATH=/bin", "STOCKD_UNRELATED=1", NULL}; /* other STOCKD_ names are not ours */
    assert_int_equal(load(COUNT(argv), argv, env), 0);
    assert_string_equal(loaded.kafka_bootstrap, "127.0.0.1:19092");
    assert_int_equal(loaded.partitions, 6);
}

static void test_string_precedence_file_env_flag(void **state)
{
    (void)state;
    char path[128];
    write_file(path, "{\"kafka\": {\"bootstrap\": \"file:1\"}}");
    char *env[] = {"STOCKD_KAFKA_BOOTSTRAP=env:2", NULL};
    char *file_only[] = {"stockd", "--config", path, NULL};
    assert_int_equal(load(COUNT(file_only), file_only, no_env), 0);
    assert_string_equal(loaded.kafka_bootstrap, "file:1");
    assert_int_equal(load(COUNT(file_only), file_only, env), 0);
    assert_string_equal(loaded.kafka_bootstrap, "env:2");
    char *with_flag[] = {"stockd", "--kafka.bootstrap=flag:3", "--config", path, NULL};
    assert_int_equal(load(COUNT(with_flag), with_flag, env), 0);
    assert_string_equal(loaded.kafka_bootstrap, "flag:3");
}

static void test_int_precedence_file_env_flag(void **state)
{
    (void)state;
    char path[128];
    write_file(path, "{\"handler\": {\"batch_max\": 100}}");
    char *env[] = {"STOCKD_HANDLER_BATCH_MAX=200", NULL};
    char config_flag[160];
    snprintf(config_flag, sizeof config_flag, "--config=%s", path);
    char *file_only[] = {"stockd", config_flag, NULL};
    assert_int_equal(load(COUNT(file_only), file_only, no_env), 0);
    assert_int_equal(loaded.handler_batch_max, 100);
    assert_int_equal(load(COUNT(file_only), file_only, env), 0);
    assert_int_equal(loaded.handler_batch_max, 200);
    char *with_flag[] = {"stockd", config_flag, "--handler.batch_max", "300", NULL};
    assert_int_equal(load(COUNT(with_flag), with_flag, env), 0);
    assert_int_equal(loaded.handler_batch_max, 300);
}

static void test_property_precedence_file_env_flag(void **state)
{
    (void)state;
    char path[128];
    write_file(
        path,
        "{\"kafka\": {\"properties\": {\"security.protocol\": \"PLAINTEXT\", \"client.rack\": \"r1\"}}}");
    char *env[] = {"STOCKD_KAFKA_PROPERTIES={\"security.protocol\": \"SSL\"}", NULL};
    char *file_only[] = {"stockd", "--config", path, NULL};
    assert_int_equal(load(COUNT(file_only), file_only, no_env), 0);
    assert_int_equal(loaded.kafka_property_count, 2);
    assert_string_equal(loaded.kafka_properties[0].value, "PLAINTEXT");
    assert_int_equal(load(COUNT(file_only), file_only, env), 0);
    assert_int_equal(loaded.kafka_property_count, 2); /* merged by name, not replaced */
    assert_string_equal(loaded.kafka_properties[0].value, "SSL");
    assert_string_equal(loaded.kafka_properties[1].value, "r1");
    char *with_flag[] = {"stockd", "--config", path, "--kafka.properties.security.protocol=SASL_SSL", NULL};
    assert_int_equal(load(COUNT(with_flag), with_flag, env), 0);
    assert_int_equal(loaded.kafka_property_count, 2);
    assert_string_equal(loaded.kafka_properties[0].name, "security.protocol");
    assert_string_equal(loaded.kafka_properties[0].value, "SASL_SSL");
}

static void test_config_path_flag_beats_env(void **state)
{
    (void)state;
    char from_env[128], from_flag[128];
    write_file(from_env, "{\"data_dir\": \"/env\"}");
    write_file(from_flag, "{\"data_dir\": \"/flag\"}");
    char env_entry[160];
    snprintf(env_entry, sizeof env_entry, "STOCKD_CONFIG=%s", from_env);
    char *env[] = {env_entry, NULL};
    char *none[] = {"stockd", NULL};
    assert_int_equal(load(COUNT(none), none, env), 0);
    assert_string_equal(loaded.data_dir, "/env");
    char *argv[] = {"stockd", "--config", from_flag, NULL};
    assert_int_equal(load(COUNT(argv), argv, env), 0);
    assert_string_equal(loaded.data_dir, "/flag");
}

static void test_bool_flag_alone_means_true_and_embedded_kafka_alias(void **state)
{
    (void)state;
    char *bare[] = {"stockd", "--kafka.embedded", NULL};
    assert_int_equal(load(COUNT(bare), bare, no_env), 0);
    assert_true(loaded.embedded_kafka);
    char *alias[] = {"stockd", "--embedded-kafka", NULL};
    assert_int_equal(load(COUNT(alias), alias, no_env), 0);
    assert_true(loaded.embedded_kafka);
    char *env[] = {"STOCKD_KAFKA_EMBEDDED=true", NULL};
    char *off[] = {"stockd", "--kafka.embedded=false", NULL};
    assert_int_equal(load(COUNT(off), off, env), 0);
    assert_false(loaded.embedded_kafka);
}

static void test_main_flags_skipped_and_repeated_flag_last_wins(void **state)
{
    (void)state;
    char *argv[] = {"stockd",           "--help",         "--version", "--check-config",
                    "--http.threads=2", "--http.threads", "3",         NULL};
    assert_int_equal(load(COUNT(argv), argv, no_env), 0);
    assert_int_equal(loaded.http_threads, 3);
}

/* ---- messages: environment and flags ----------------------------------------------------------------- */

static void test_kafka_bootstrap_empty_rejected(void **state)
{
    (void)state;
    assert_set_rejected("kafka.bootstrap", "", "kafka.bootstrap: empty");
    char *env[] = {"STOCKD_KAFKA_BOOTSTRAP=", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(load(COUNT(argv), argv, env), "kafka.bootstrap: empty (from STOCKD_KAFKA_BOOTSTRAP)");
}

static void test_min_insync_replicas_above_replication_factor_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--kafka.replication_factor=3", "--kafka.min_insync_replicas=4", NULL};
    char *env[] = {NULL};
    assert_failed_with(load(COUNT(argv), argv, env),
                       "kafka.min_insync_replicas: 4 is more than kafka.replication_factor 3");
    char *cluster[] = {"stockd", "--kafka.replication_factor=3", "--kafka.min_insync_replicas=2", NULL};
    assert_int_equal(load(COUNT(cluster), cluster, env), 0);
    assert_int_equal(loaded.replication_factor, 3);
    assert_int_equal(loaded.min_insync_replicas, 2);
    /* The broker's default replication factor is not known here: any min ISR up to the bound passes. */
    char *broker_default[] = {"stockd", "--kafka.min_insync_replicas=2", NULL};
    assert_int_equal(load(COUNT(broker_default), broker_default, env), 0);
}

static void test_env_partitions_zero_names_key_and_source(void **state)
{
    (void)state;
    char *env[] = {"STOCKD_KAFKA_PARTITIONS=0", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(
        load(COUNT(argv), argv, env),
        "kafka.partitions: must be an integer in [1, 1024], got \"0\" (from STOCKD_KAFKA_PARTITIONS)");
}

static void test_flag_unknown_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--kafka.bootstrapp=x:1", NULL};
    assert_failed_with(load(COUNT(argv), argv, no_env), "unknown flag \"--kafka.bootstrapp\" (see --help)");
    char *secret[] = {"stockd", "--sasl.password=hunter2", NULL}; /* the value is never echoed */
    assert_failed_with(load(COUNT(secret), secret, no_env), "unknown flag \"--sasl.password\" (see --help)");
    char *empty_property[] = {"stockd", "--kafka.properties.=x", NULL};
    assert_failed_with(load(COUNT(empty_property), empty_property, no_env),
                       "unknown flag \"--kafka.properties.\" (see --help)");
}

static void test_flag_missing_value_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--http.listen", NULL};
    assert_failed_with(load(COUNT(argv), argv, no_env), "flag \"--http.listen\": missing value");
    char *config[] = {"stockd", "--config", NULL};
    assert_failed_with(load(COUNT(config), config, no_env), "flag \"--config\": missing value");
    char *empty[] = {"stockd", "--config=", NULL};
    assert_failed_with(load(COUNT(empty), empty, no_env), "config file: empty path (from --config)");
}

static void test_flag_main_with_value_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--check-config=yes", NULL};
    assert_failed_with(load(COUNT(argv), argv, no_env), "flag \"--check-config\" takes no value");
}

static void test_positional_argument_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "serve", NULL};
    assert_failed_with(load(COUNT(argv), argv, no_env),
                       "unexpected argument \"serve\" (flags are --key=value; see --help)");
    char *bool_value[] = {"stockd", "--kafka.embedded", "false", NULL}; /* bools take =VALUE only */
    assert_failed_with(load(COUNT(bool_value), bool_value, no_env),
                       "unexpected argument \"false\" (flags are --key=value; see --help)");
}

static void test_set_unknown_key_rejected(void **state)
{
    (void)state;
    assert_set_rejected("kafka.Bootstrap", "x", "unknown key \"kafka.Bootstrap\"");
}

static void test_env_config_empty_path_rejected(void **state)
{
    (void)state;
    char *env[] = {"STOCKD_CONFIG=", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(load(COUNT(argv), argv, env), "config file: empty path (from STOCKD_CONFIG)");
}

/* ---- messages: the file ------------------------------------------------------------------------------ */

static void test_file_unknown_key_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{\"kafka\": {\"bootstrapp\": \"x:1\"}}"), path,
                            "unknown key \"kafka.bootstrapp\"");
    assert_file_failed_with(load_file(path, "{\"colour\": \"blue\"}"), path, "unknown key \"colour\"");
}

static void test_file_key_case_variant_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{\"Kafka\": {\"bootstrap\": \"x:1\"}}"), path,
                            "unknown key \"Kafka\"");
    assert_file_failed_with(load_file(path, "{\"kafka\": {\"Bootstrap\": \"x:1\"}}"), path,
                            "unknown key \"kafka.Bootstrap\"");
}

static void test_file_dotted_key_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(
        load_file(path, "{\"kafka.bootstrap\": \"x:1\"}"), path,
        "unknown key \"kafka.bootstrap\" (nest sections: {\"kafka\": {\"bootstrap\": ...}})");
}

static void test_file_duplicate_key_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{\"kafka\": {\"bootstrap\": \"a:1\", \"bootstrap\": \"b:1\"}}"),
                            path, "duplicate key \"kafka.bootstrap\"");
    assert_file_failed_with(
        load_file(path, "{\"kafka\": {\"partitions\": 2}, \"kafka\": {\"partitions\": 3}}"), path,
        "duplicate key \"kafka\"");
}

static void test_file_duplicate_property_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_value_failed_with(
        load_file(path, "{\"kafka\": {\"properties\": {\"client.rack\": \"a\", \"client.rack\": \"b\"}}}"),
        "kafka.properties: duplicate property \"client.rack\"", path);
}

static void test_file_wrong_type_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"partitions\": \"6\"}}"),
                                  "kafka.partitions: must be an integer in [1, 1024], got a string", path);
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"embedded\": \"true\"}}"),
                                  "kafka.embedded: must be true or false, got a string", path);
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"bootstrap\": null}}"),
                                  "kafka.bootstrap: must be a string, got null", path);
    assert_file_value_failed_with(load_file(path, "{\"roles\": [\"api\"]}"),
                                  "roles: must be a string, got an array", path);
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"properties\": [\"a=b\"]}}"),
                                  "kafka.properties: must be an object of name: string, got an array", path);
    assert_file_failed_with(load_file(path, "{\"kafka\": 1}"), path,
                            "\"kafka\" must be an object, got a number");
}

static void test_file_too_big_rejected(void **state)
{
    (void)state;
    char *text = malloc(STOCKD_CONFIG_FILE_BYTES_MAX + 1);
    assert_non_null(text);
    memset(text, ' ', STOCKD_CONFIG_FILE_BYTES_MAX + 1);
    memcpy(text, "{}", 2);
    char at_limit[128], over_limit[128];
    write_bytes(at_limit, text, STOCKD_CONFIG_FILE_BYTES_MAX);
    write_bytes(over_limit, text, STOCKD_CONFIG_FILE_BYTES_MAX + 1);
    free(text);
    char *argv[] = {"stockd", "--config", at_limit, NULL};
    assert_int_equal(load(COUNT(argv), argv, no_env), 0);
    argv[2] = over_limit;
    assert_file_failed_with(load(COUNT(argv), argv, no_env), over_limit, "larger than 262144 bytes");
}

static void test_file_unreadable_rejected(void **state)
{
    (void)state;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no-such-file.json", temp_dir);
    char *argv[] = {"stockd", "--config", missing, NULL};
    assert_file_failed_with(load(COUNT(argv), argv, no_env), missing,
                            "cannot open: No such file or directory");
    argv[2] = temp_dir;
    assert_file_failed_with(load(COUNT(argv), argv, no_env), temp_dir, "not a regular file");
}

static void test_file_malformed_json_names_line_and_column(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{\n  \"data_dir\": \"/x\"\n  \"log\": {}\n}"), path,
                            "malformed JSON at line 3, column 3 (byte offset 23)"); /* the missing comma */
    /* cJSON stops one byte after a stray comma: the position is where the parser gave up. */
    assert_file_failed_with(load_file(path, "{\n  \"data_dir\": \"/x\",\n  ,\n}"), path,
                            "malformed JSON at line 3, column 4 (byte offset 25)");
    assert_file_failed_with(load_file(path, ""), path, "malformed JSON at line 1, column 1 (byte offset 0)");
}

static void test_file_trailing_garbage_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{} {}"), path,
                            "malformed JSON at line 1, column 4 (byte offset 3)");
}

static void test_file_nul_rejected_not_truncated(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "{\"data_dir\": \"/a\\u0000/b\"}"), path,
                            "NUL character (\\u0000) at line 1, column 17 (byte offset 16)");
    /* An escaped backslash before u0000 is text, not an escape. */
    assert_int_equal(load_file(path, "{\"data_dir\": \"/a\\\\u0000\"}"), 0);
    assert_string_equal(loaded.data_dir, "/a\\u0000");
    write_bytes(path, "{\"data_dir\": \"/a\0\"}", 19);
    char *argv[] = {"stockd", "--config", path, NULL};
    assert_file_failed_with(load(COUNT(argv), argv, no_env), path,
                            "NUL character (byte 0) at line 1, column 17 (byte offset 16)");
}

static void test_file_top_level_not_object_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_failed_with(load_file(path, "[1, 2]"), path, "top level must be a JSON object, got an array");
}

/* ---- messages: values -------------------------------------------------------------------------------- */

static void test_int_non_integral_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_value_failed_with(load_file(path, "{\"handler\": {\"batch_max\": 100.5}}"),
                                  "handler.batch_max: must be an integer in [1, 100000], got 100.5", path);
    char *argv[] = {"stockd", "--handler.batch_max=1.5", NULL};
    assert_failed_with(
        load(COUNT(argv), argv, no_env),
        "handler.batch_max: must be an integer in [1, 100000], got \"1.5\" (from --handler.batch_max)");
}

static void test_int_1e309_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_value_failed_with(load_file(path, "{\"views\": {\"lag_max\": 1e309}}"),
                                  "views.lag_max: must be an integer in [0, 1000000000], got inf", path);
    assert_file_value_failed_with(load_file(path, "{\"views\": {\"lag_max\": -1e309}}"),
                                  "views.lag_max: must be an integer in [0, 1000000000], got -inf", path);
    assert_set_rejected("views.lag_max", "1e309",
                        "views.lag_max: must be an integer in [0, 1000000000], got \"1e309\"");
}

static void test_int_out_of_range_rejected(void **state)
{
    (void)state;
    char path[128];
    /* 2^31 + 6: valueint would saturate; valuedouble says what was written. */
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"partitions\": 2147483654}}"),
                                  "kafka.partitions: must be an integer in [1, 1024], got 2147483654", path);
    assert_set_rejected("http.threads", "-1", "http.threads: must be an integer in [1, 256], got \"-1\"");
    assert_set_rejected("http.threads", "257", "http.threads: must be an integer in [1, 256], got \"257\"");
    assert_set_rejected("views.lag_max", "9223372036854775808",
                        "views.lag_max: must be an integer in [0, 1000000000], got \"9223372036854775808\"");
    assert_set_rejected("http.body_bytes_max", "65537",
                        "http.body_bytes_max: must be an integer in [1024, 65536], got \"65537\"");
    stockd_config_defaults(&loaded);
    assert_int_equal(stockd_config_set(&loaded, "handler.poll_timeout_ms", "0", &error),
                     0); /* bounds are inclusive */
    assert_int_equal(stockd_config_set(&loaded, "handler.dedup_retention_s", "31536000", &error), 0);
    assert_int_equal(loaded.handler_dedup_retention_s, 31536000);
}

static void test_int_text_not_decimal_rejected(void **state)
{
    (void)state;
    static const char *const values[] = {"", " 6", "6 ", "+6", "0x10", "1e3", "6abc", "-"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char expected[128];
        snprintf(expected, sizeof expected, "kafka.partitions: must be an integer in [1, 1024], got \"%s\"",
                 values[i]);
        assert_set_rejected("kafka.partitions", values[i], expected);
    }
}

static void test_string_too_long_rejected_not_truncated(void **state)
{
    (void)state;
    char value[STOCKD_CONFIG_STRING_BYTES_MAX + 1];
    memset(value, 'd', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    assert_set_rejected("data_dir", value, "data_dir: longer than 1023 bytes (got 1024)");
    assert_string_equal(loaded.data_dir, "./var/data"); /* unchanged, not cut */
    value[sizeof value - 2] = '\0';
    assert_int_equal(stockd_config_set(&loaded, "data_dir", value, &error), 0);
    assert_int_equal(strlen(loaded.data_dir), 1023);
    char path[128], text[2048];
    memset(value, 'i', STOCKD_ID_BYTES_MAX + 1);
    value[STOCKD_ID_BYTES_MAX + 1] = '\0';
    snprintf(text, sizeof text, "{\"instance\": {\"id\": \"%s\"}}", value);
    assert_file_value_failed_with(load_file(path, text), "instance.id: longer than 128 bytes (got 129)",
                                  path);
}

static void test_instance_id_charset_rejected(void **state)
{
    (void)state;
    assert_set_rejected("instance.id", "stockd/1", "instance.id: byte 7 is not in [A-Za-z0-9._:-]");
    assert_set_rejected("instance.id", "stöckd", "instance.id: byte 3 is not in [A-Za-z0-9._:-]");
    assert_int_equal(stockd_config_set(&loaded, "instance.id", "eu-1:stockd_a.b", &error), 0);
}

static void test_topic_prefix_charset_and_length_rejected(void **state)
{
    (void)state;
    assert_set_rejected("kafka.topic_prefix", "inv:prod",
                        "kafka.topic_prefix: byte 4 is not in [A-Za-z0-9._-] (Kafka topic characters)");
    char value[STOCKD_SKU_BYTES_MAX + 2];
    memset(value, 'p', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    assert_set_rejected("kafka.topic_prefix", value, "kafka.topic_prefix: longer than 64 bytes (got 65)");
}

static void test_log_level_unknown_rejected(void **state)
{
    (void)state;
    assert_set_rejected("log.level", "verbose",
                        "log.level: must be one of error, warn, info, debug, got \"verbose\"");
    assert_set_rejected("log.level", "INFO",
                        "log.level: must be one of error, warn, info, debug, got \"INFO\"");
}

static void test_catalog_source_precedence_parsed_and_refused(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    assert_string_equal(loaded.catalog_source_precedence, ""); /* none: the most recent source wins */
    assert_int_equal(stockd_config_set(&loaded, "catalog.source_precedence", "erp, pim,web", &error), 0);
    assert_string_equal(loaded.catalog_source_precedence, "erp, pim,web");
    assert_int_equal(stockd_config_set(&loaded, "catalog.source_precedence", "", &error), 0);
    assert_set_rejected("catalog.source_precedence", "erp,,web",
                        "catalog.source_precedence: source 2: must be 1 to 32 of [A-Za-z0-9._:-]");
    assert_set_rejected("catalog.source_precedence", "erp,web,erp",
                        "catalog.source_precedence: source erp is named twice");
    assert_set_rejected("catalog.source_precedence", "erp,w b",
                        "catalog.source_precedence: source 2 (w b): must be [A-Za-z0-9._:-] starting with a "
                        "letter or digit");
}

static void test_http_listen_rejected(void **state)
{
    (void)state;
    static const char *const bad_port[] = {"8080",       ":8080",    "host:",      "host:0",
                                           "host:65536", "host:80a", "host:123456"};
    for (size_t i = 0; i < sizeof bad_port / sizeof bad_port[0]; i++) {
        char expected[160];
        snprintf(expected, sizeof expected,
                 "http.listen: must be host:port with a port in [1, 65535], got \"%s\"", bad_port[i]);
        assert_set_rejected("http.listen", bad_port[i], expected);
    }
    assert_set_rejected("http.listen", "a:1,b:2",
                        "http.listen: must be one host:port without commas or spaces, got \"a:1,b:2\"");
    assert_set_rejected("http.listen", "::1:8080",
                        "http.listen: an IPv6 host needs brackets, like [::1]:8080, got \"::1:8080\"");
    assert_int_equal(stockd_config_set(&loaded, "http.listen", "[::1]:65535", &error), 0);
    assert_int_equal(stockd_config_set(&loaded, "http.listen", "0.0.0.0:1", &error), 0);
}

static void test_bool_text_rejected(void **state)
{
    (void)state;
    assert_set_rejected("kafka.embedded", "yes", "kafka.embedded: must be true or false, got \"yes\"");
}

static void test_roles_unknown_rejected(void **state)
{
    (void)state;
    assert_set_rejected("roles", "api,routr",
                        "roles: unknown role \"routr\" (expected api, router, handler, projector or orders)");
    char *env[] = {"STOCKD_ROLES=API", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(load(COUNT(argv), argv, env), "roles: unknown role \"API\" (expected api, router, "
                                                     "handler, projector or orders) (from STOCKD_ROLES)");
}

static void test_roles_empty_rejected(void **state)
{
    (void)state;
    assert_set_rejected("roles", "", "roles: empty");
    assert_set_rejected("roles", "  ", "roles: empty");
    assert_set_rejected("roles", "api,,router", "roles: empty role name in \"api,,router\"");
    assert_set_rejected("roles", "api,", "roles: empty role name in \"api,\"");
    assert_set_rejected("roles", "api,router,api", "roles: role \"api\" listed twice");
}

static void test_roles_parsed_with_spaces(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    assert_int_equal(stockd_config_set(&loaded, "roles", " projector , api", &error), 0);
    assert_int_equal(loaded.roles, STOCKD_ROLE_API | STOCKD_ROLE_PROJECTOR);
    char text[32];
    assert_int_equal(stockd_config_roles_format(loaded.roles, text, sizeof text), 0);
    assert_string_equal(text, "api,projector");
    assert_int_equal(stockd_config_roles_format(STOCKD_ROLE_ALL, text, 8), -1);
}

/* ---- kafka.properties -------------------------------------------------------------------------------- */

static void test_properties_override_and_limit(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    char name[32];
    for (int i = 0; i < STOCKD_CONFIG_PROPERTIES_MAX; i++) {
        snprintf(name, sizeof name, "kafka.properties.p%d", i);
        assert_int_equal(stockd_config_set(&loaded, name, "v", &error), 0);
    }
    assert_int_equal(stockd_config_set(&loaded, "kafka.properties.p7", "again", &error), 0); /* override */
    assert_int_equal(loaded.kafka_property_count, STOCKD_CONFIG_PROPERTIES_MAX);
    assert_string_equal(loaded.kafka_properties[7].value, "again");
    assert_int_equal(stockd_config_set(&loaded, "kafka.properties.one.more", "v", &error), -1);
    assert_string_equal(error.message, "kafka.properties: more than 64 properties (adding one.more)");
    assert_int_equal(loaded.kafka_property_count, STOCKD_CONFIG_PROPERTIES_MAX);
}

static void test_properties_env_per_name_rejected(void **state)
{
    (void)state;
    char *env[] = {"STOCKD_KAFKA_PROPERTIES_SASL_USERNAME=u", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(
        load(COUNT(argv), argv, env),
        "STOCKD_KAFKA_PROPERTIES_SASL_USERNAME: kafka properties cannot be set one by one from the "
        "environment (dots and underscores look alike); use STOCKD_KAFKA_PROPERTIES='{\"name\": "
        "\"value\"}', the config file or --kafka.properties.<name>=VALUE");
}

static void test_properties_env_malformed_json_rejected(void **state)
{
    (void)state;
    char *env[] = {"STOCKD_KAFKA_PROPERTIES=security.protocol=SSL", NULL};
    char *argv[] = {"stockd", NULL};
    assert_failed_with(load(COUNT(argv), argv, env), "kafka.properties: malformed JSON at line 1, column 1 "
                                                     "(byte offset 0) (from STOCKD_KAFKA_PROPERTIES)");
    char *not_object[] = {"STOCKD_KAFKA_PROPERTIES=[]", NULL};
    assert_failed_with(
        load(COUNT(argv), argv, not_object),
        "kafka.properties: must be an object of name: string, got an array (from STOCKD_KAFKA_PROPERTIES)");
}

static void test_properties_reserved_and_bad_names_rejected(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--kafka.properties.transactional.id=t", NULL};
    assert_failed_with(
        load(COUNT(argv), argv, no_env),
        "kafka.properties: transactional.id is set by stockd: stockd derives it from instance.id "
        "(from --kafka.properties.transactional.id)");
    assert_set_rejected("kafka.properties.bootstrap.servers", "b:1",
                        "kafka.properties: bootstrap.servers is set by stockd: use kafka.bootstrap");
    assert_set_rejected(
        "kafka.properties.sasl mechanism", "PLAIN",
        "kafka.properties: property name \"sasl mechanism\" is not [A-Za-z0-9._-] of at most 1023 bytes");
    char path[128];
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"properties\": {\"\": \"x\"}}}"),
                                  "kafka.properties: empty property name", path);
}

static void test_properties_file_non_string_rejected(void **state)
{
    (void)state;
    char path[128];
    assert_file_value_failed_with(load_file(path, "{\"kafka\": {\"properties\": {\"linger.ms\": 5}}}"),
                                  "kafka.properties: value of \"linger.ms\" must be a string, got a number",
                                  path);
}

static void test_property_value_too_long_rejected(void **state)
{
    (void)state;
    char value[STOCKD_CONFIG_STRING_BYTES_MAX + 1];
    memset(value, 'x', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    assert_set_rejected("kafka.properties.sasl.password", value,
                        "kafka.properties: value of sasl.password longer than 1023 bytes (got 1024)");
    assert_null(strstr(error.message, "xxx")); /* a secret is never echoed */
}

static void test_secret_properties_masked_in_json(void **state)
{
    (void)state;
    static const char *const secret[] = {"sasl.password",
                                         "ssl.key.password",
                                         "ssl.keystore.password",
                                         "sasl.oauthbearer.config",
                                         "sasl.oauthbearer.client.secret",
                                         "SSL.KEY.PEM"};
    stockd_config_defaults(&loaded);
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        char key[96];
        snprintf(key, sizeof key, "kafka.properties.%s", secret[i]);
        assert_int_equal(stockd_config_set(&loaded, key, "hunter2", &error), 0);
    }
    assert_int_equal(stockd_config_set(&loaded, "kafka.properties.sasl.username", "alice", &error), 0);
    char *json = stockd_config_to_json(&loaded);
    assert_non_null(json);
    assert_null(strstr(json, "hunter2"));
    assert_non_null(strstr(json, "\"alice\""));
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
        char masked[96];
        snprintf(masked, sizeof masked, "\"%s\":\t\"***\"", secret[i]);
        assert_non_null(strstr(json, masked));
    }
    free(json);
}

/* ---- dump, help, validate ---------------------------------------------------------------------------- */

static void test_to_json_round_trips_as_config_file(void **state)
{
    (void)state;
    char *argv[] = {"stockd",
                    "--roles=router,handler",
                    "--kafka.partitions=12",
                    "--kafka.embedded",
                    "--kafka.properties.client.rack=r1",
                    "--handler.dedup_retention_s=86400",
                    "--instance.id=a",
                    NULL};
    assert_int_equal(load(COUNT(argv), argv, no_env), 0);
    char *first = stockd_config_to_json(&loaded);
    assert_non_null(first);
    char path[128];
    assert_int_equal(load_file(path, first), 0);
    char *second = stockd_config_to_json(&loaded);
    assert_non_null(second);
    assert_string_equal(first, second);
    assert_int_equal(loaded.roles, STOCKD_ROLE_ROUTER | STOCKD_ROLE_HANDLER);
    free(first);
    free(second);
}

static void test_help_lists_every_key_with_env_var(void **state)
{
    (void)state;
    static const char *const expected[] = {
        "--instance.id=",
        "STOCKD_INSTANCE_ID",
        "--roles=",
        "STOCKD_ROLES",
        "--data_dir=",
        "STOCKD_DATA_DIR",
        "--log.level=",
        "STOCKD_LOG_LEVEL",
        "--kafka.bootstrap=",
        "STOCKD_KAFKA_BOOTSTRAP, default 127.0.0.1:19092",
        "--kafka.topic_prefix=",
        "STOCKD_KAFKA_TOPIC_PREFIX",
        "--kafka.partitions=",
        "STOCKD_KAFKA_PARTITIONS, default 6",
        "--kafka.replication_factor=",
        "STOCKD_KAFKA_REPLICATION_FACTOR",
        "--kafka.embedded=",
        "STOCKD_KAFKA_EMBEDDED",
        "--kafka.properties.<name>=",
        "STOCKD_KAFKA_PROPERTIES=",
        "--handler.batch_max=",
        "STOCKD_HANDLER_BATCH_MAX",
        "--handler.poll_timeout_ms=",
        "STOCKD_HANDLER_POLL_TIMEOUT_MS",
        "--handler.dedup_retention_s=",
        "STOCKD_HANDLER_DEDUP_RETENTION_S",
        "--handler.punctuate_interval_ms=",
        "STOCKD_HANDLER_PUNCTUATE_INTERVAL_MS",
        "--http.listen=",
        "STOCKD_HTTP_LISTEN",
        "--http.threads=",
        "STOCKD_HTTP_THREADS",
        "--http.body_bytes_max=",
        "STOCKD_HTTP_BODY_BYTES_MAX",
        "--views.lag_max=",
        "STOCKD_VIEWS_LAG_MAX, default 1000",
        "STOCKD_HTTP_API_KEYS, default none)", /* an empty default is shown by its word */
        "--catalog.source_precedence=TEXT  (env STOCKD_CATALOG_SOURCE_PRECEDENCE, default none)",
    };
    char *help = stockd_config_help();
    assert_non_null(help);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        if (strstr(help, expected[i]) == NULL) fail_msg("help lacks %s", expected[i]);
    }
    free(help);
}

static void test_validate_rejects_hand_built_values(void **state)
{
    (void)state;
    stockd_config_defaults(&loaded);
    loaded.partitions = 0;
    assert_int_equal(stockd_config_validate(&loaded, &error), -1);
    assert_string_equal(error.message, "kafka.partitions: must be an integer in [1, 1024], got 0");
    stockd_config_defaults(&loaded);
    loaded.roles = 0;
    assert_int_equal(stockd_config_validate(&loaded, &error), -1);
    assert_string_equal(error.message, "roles: empty");
    stockd_config_defaults(&loaded);
    loaded.kafka_bootstrap[0] = '\0';
    assert_int_equal(stockd_config_validate(&loaded, &error), -1);
    assert_string_equal(error.message, "kafka.bootstrap: empty");
}

/* ---- the binary -------------------------------------------------------------------------------------- */

/* Runs the stockd binary with arguments and an empty environment; returns its exit status and writes
 * the start of its stdout and stderr. */
static int run_stockd(char **argv, char *out, size_t out_bytes, char *err, size_t err_bytes)
{
    char out_path[128], err_path[128];
    snprintf(out_path, sizeof out_path, "%s/stdout", temp_dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", temp_dir);
    posix_spawn_file_actions_t actions;
    assert_int_equal(posix_spawn_file_actions_init(&actions), 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *env[] = {NULL};
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &actions, NULL, argv, env), 0);
    posix_spawn_file_actions_destroy(&actions);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    char *buffers[] = {out, err};
    size_t sizes[] = {out_bytes, err_bytes};
    const char *paths[] = {out_path, err_path};
    for (int i = 0; i < 2; i++) {
        FILE *file = fopen(paths[i], "rb");
        assert_non_null(file);
        size_t got = fread(buffers[i], 1, sizes[i] - 1, file);
        buffers[i][got] = '\0';
        fclose(file);
        unlink(paths[i]);
    }
    return WEXITSTATUS(status);
}

static void test_stockd_binary_modes_and_exit_codes(void **state)
{
    (void)state;
    char binary[512], out[8192], err[1024];
    snprintf(binary, sizeof binary, "%s/stockd", STOCKD_BINARY_DIR);
    if (access(binary, X_OK) != 0) skip(); /* built by the `stockd` target, not by this test's */
    char *help[] = {binary, "--help", NULL};
    assert_int_equal(run_stockd(help, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "STOCKD_VIEWS_LAG_MAX"));
    char *version[] = {binary, "--version", NULL};
    assert_int_equal(run_stockd(version, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strncmp(out, "stockd " STOCKD_VERSION "\nlibrdkafka ", 19 + strlen(STOCKD_VERSION)), 0);
    char *check[] = {binary, "--check-config", "--kafka.properties.sasl.password=hunter2", NULL};
    assert_int_equal(run_stockd(check, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "\"***\""));
    assert_null(strstr(out, "hunter2"));
    char *bad[] = {binary, "--check-config", "--kafka.partitions=0", NULL};
    assert_int_equal(run_stockd(bad, out, sizeof out, err, sizeof err), 2);
    assert_string_equal(err, "stockd: kafka.partitions: must be an integer in [1, 1024], got \"0\" "
                             "(from --kafka.partitions)\n");
    char *start[] = {binary, "--roles=router,cashier", NULL};
    assert_int_equal(run_stockd(start, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "roles"));
}

static void test_api_keys_parse_roles_expiry_and_refusals(void **state)
{
    (void)state;
    struct stockd_api_key keys[STOCKD_API_KEYS_MAX];
    char reason[256];
    assert_int_equal(stockd_config_api_keys_parse("", keys, reason, sizeof reason), 0);
    assert_int_equal(stockd_config_api_keys_parse("read:aaaaaaaaaaaaaaaa,admin:bbbbbbbbbbbbbbbb:1700000000",
                                                  keys, reason, sizeof reason),
                     2);
    assert_int_equal(keys[0].role, 1);
    assert_string_equal(keys[0].key, "aaaaaaaaaaaaaaaa");
    assert_int_equal(keys[0].not_after_s, 0);
    assert_int_equal(keys[1].role, 3);
    assert_int_equal(keys[1].not_after_s, 1700000000);
    assert_int_equal(stockd_config_api_keys_parse("root:aaaaaaaaaaaaaaaa", keys, reason, sizeof reason), -1);
    assert_non_null(strstr(reason, "entry 1"));
    assert_int_equal(stockd_config_api_keys_parse("read:short", keys, reason, sizeof reason), -1);
    assert_null(strstr(reason, "short")); /* a key is never echoed */
    assert_int_equal(stockd_config_api_keys_parse("read:aaaaaaaaaaaaaaaa,write:aaaaaaaaaaaaaaaa", keys,
                                                  reason, sizeof reason),
                     -1);
    assert_int_equal(stockd_config_api_keys_parse("read:aaaaaaaaaaaaaaaa:12x", keys, reason, sizeof reason),
                     -1);
    assert_int_equal(stockd_config_api_keys_parse("read:aaaa aaaaaaaaaaaa", keys, reason, sizeof reason), -1);
}

static void test_api_keys_masked_in_check_config(void **state)
{
    (void)state;
    char *argv[] = {"stockd", "--http.api_keys=write:secretsecretsecret42", NULL};
    assert_int_equal(load(COUNT(argv), argv, no_env), 0);
    char *json = stockd_config_to_json(&loaded);
    assert_non_null(json);
    assert_null(strstr(json, "secretsecretsecret42"));
    assert_non_null(strstr(json, "***"));
    free(json);
    char *bad[] = {"stockd", "--http.api_keys=write:short", NULL};
    assert_int_equal(load(COUNT(bad), bad, no_env), -1);
    assert_null(strstr(error.message, "short"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_valid),
        cmocka_unit_test(test_min_insync_replicas_above_replication_factor_rejected),
        cmocka_unit_test(test_api_keys_parse_roles_expiry_and_refusals),
        cmocka_unit_test(test_api_keys_masked_in_check_config),
        cmocka_unit_test(test_default_instance_id_is_stockd_hostname_in_charset),
        cmocka_unit_test(test_load_without_sources_gives_defaults),
        cmocka_unit_test(test_string_precedence_file_env_flag),
        cmocka_unit_test(test_int_precedence_file_env_flag),
        cmocka_unit_test(test_property_precedence_file_env_flag),
        cmocka_unit_test(test_config_path_flag_beats_env),
        cmocka_unit_test(test_bool_flag_alone_means_true_and_embedded_kafka_alias),
        cmocka_unit_test(test_main_flags_skipped_and_repeated_flag_last_wins),
        cmocka_unit_test(test_kafka_bootstrap_empty_rejected),
        cmocka_unit_test(test_env_partitions_zero_names_key_and_source),
        cmocka_unit_test(test_flag_unknown_rejected),
        cmocka_unit_test(test_flag_missing_value_rejected),
        cmocka_unit_test(test_flag_main_with_value_rejected),
        cmocka_unit_test(test_positional_argument_rejected),
        cmocka_unit_test(test_set_unknown_key_rejected),
        cmocka_unit_test(test_env_config_empty_path_rejected),
        cmocka_unit_test(test_file_unknown_key_rejected),
        cmocka_unit_test(test_file_key_case_variant_rejected),
        cmocka_unit_test(test_file_dotted_key_rejected),
        cmocka_unit_test(test_file_duplicate_key_rejected),
        cmocka_unit_test(test_file_duplicate_property_rejected),
        cmocka_unit_test(test_file_wrong_type_rejected),
        cmocka_unit_test(test_file_too_big_rejected),
        cmocka_unit_test(test_file_unreadable_rejected),
        cmocka_unit_test(test_file_malformed_json_names_line_and_column),
        cmocka_unit_test(test_file_trailing_garbage_rejected),
        cmocka_unit_test(test_file_nul_rejected_not_truncated),
        cmocka_unit_test(test_file_top_level_not_object_rejected),
        cmocka_unit_test(test_int_non_integral_rejected),
        cmocka_unit_test(test_int_1e309_rejected),
        cmocka_unit_test(test_int_out_of_range_rejected),
        cmocka_unit_test(test_int_text_not_decimal_rejected),
        cmocka_unit_test(test_string_too_long_rejected_not_truncated),
        cmocka_unit_test(test_instance_id_charset_rejected),
        cmocka_unit_test(test_topic_prefix_charset_and_length_rejected),
        cmocka_unit_test(test_log_level_unknown_rejected),
        cmocka_unit_test(test_catalog_source_precedence_parsed_and_refused),
        cmocka_unit_test(test_http_listen_rejected),
        cmocka_unit_test(test_bool_text_rejected),
        cmocka_unit_test(test_roles_unknown_rejected),
        cmocka_unit_test(test_roles_empty_rejected),
        cmocka_unit_test(test_roles_parsed_with_spaces),
        cmocka_unit_test(test_properties_override_and_limit),
        cmocka_unit_test(test_properties_env_per_name_rejected),
        cmocka_unit_test(test_properties_env_malformed_json_rejected),
        cmocka_unit_test(test_properties_reserved_and_bad_names_rejected),
        cmocka_unit_test(test_properties_file_non_string_rejected),
        cmocka_unit_test(test_property_value_too_long_rejected),
        cmocka_unit_test(test_secret_properties_masked_in_json),
        cmocka_unit_test(test_to_json_round_trips_as_config_file),
        cmocka_unit_test(test_help_lists_every_key_with_env_var),
        cmocka_unit_test(test_validate_rejects_hand_built_values),
        cmocka_unit_test(test_stockd_binary_modes_and_exit_codes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
