/* fuzz_config.c - libFuzzer target: the configuration loader, a JSON file and command-line flags.
 *
 * The input is the file's bytes, then after the first NUL byte the flags, one per NUL-separated piece
 * (stockd --config FILE PIECE...), with an empty environment. Beyond "no crash": a configuration that
 * loads, written back as JSON (--check-config) and loaded again as a file, writes the same JSON (unless it
 * holds a secret, which is written masked). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Flags per input: more pieces are ignored. */
#define FUZZ_FLAGS_MAX 16

static char file_path[64];

/* Writes bytes as the whole content of the fuzzer's config file. Returns 0, or -1 when it cannot. */
static int file_write(const char *bytes, size_t length)
{
    if (file_path[0] == '\0') {
        snprintf(file_path, sizeof(file_path), "/tmp/stockd-fuzz-config-XXXXXX");
        int fd = mkstemp(file_path);
        if (fd < 0) return -1;
        close(fd);
    }
    FILE *file = fopen(file_path, "wb");
    if (file == NULL) return -1;
    size_t written = fwrite(bytes, 1, length, file);
    return fclose(file) == 0 && written == length ? 0 : -1;
}

static void round_trip_check(const struct stockd_config *config)
{
    char *json = stockd_config_to_json(config);
    /* Secrets (http.api_keys, passwords in kafka.properties) are written masked: no round trip then. */
    if (json == NULL || strstr(json, "\"***\"") != NULL || file_write(json, strlen(json)) != 0) {
        free(json);
        return;
    }
    char *argv[] = {"stockd", "--config", file_path, NULL};
    char *envp[] = {NULL};
    struct stockd_config again;
    struct stockd_config_error error;
    if (stockd_config_load(&again, 3, argv, envp, &error) != 0) {
        fprintf(stderr, "the written configuration does not load: %s\n%s\n", error.message, json);
        abort();
    }
    char *json_again = stockd_config_to_json(&again);
    if (json_again != NULL && strcmp(json, json_again) != 0) {
        fprintf(stderr, "the configuration differs after a round trip:\n%s\n%s\n", json, json_again);
        abort();
    }
    free(json_again);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1); /* NUL-terminated pieces */
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    size_t file_bytes = strnlen(copy, size);
    char *argv[3 + FUZZ_FLAGS_MAX + 1] = {"stockd", "--config", file_path};
    int argc = 3;
    for (size_t offset = file_bytes + 1; offset < size && argc < 3 + FUZZ_FLAGS_MAX;) {
        argv[argc++] = copy + offset;
        offset += strlen(copy + offset) + 1;
    }
    argv[argc] = NULL;
    if (file_write(copy, file_bytes) == 0) {
        argv[2] = file_path;
        char *envp[] = {NULL};
        struct stockd_config config;
        struct stockd_config_error error;
        if (stockd_config_load(&config, argc, argv, envp, &error) == 0) round_trip_check(&config);
    }
    free(copy);
    return 0;
}
