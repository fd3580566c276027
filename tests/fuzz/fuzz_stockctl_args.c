/* fuzz_stockctl_args.c - libFuzzer target: stockctl's argument parsing, command by command, in process.
 *
 * The input is NUL-separated pieces: the command, then its arguments, exactly as stockctl's main hands them
 * on. The commands that talk to stockd's HTTP API run against a closed port (STOCKCTL_URL
 * http://127.0.0.1:1): every parse, check and request build runs, the connection is refused. Inputs with a
 * '/' are skipped, so that no file or URL outside the working directory is named (the commands run here only
 * read files); the Kafka commands (send, tail, verify) are not run (they would wait on a broker). Standard
 * input is /dev/null. Their messages go to stderr: scripts/fuzz drops stdout only, so that a finding's
 * report is seen. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stockctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Arguments per input: more pieces are ignored. */
#define FUZZ_ARGUMENTS_MAX 24

struct fuzz_command {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct fuzz_command fuzz_commands[] = {
    {"submit", command_submit}, {"get", command_get},           {"history", command_history},
    {"views", command_views},   {"lag", command_lag},           {"rebuild", command_rebuild},
    {"health", command_health}, {"validate", command_validate}, {"partition", command_partition},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0) abort();
    close(null_fd);
    setenv("STOCKCTL_URL", "http://127.0.0.1:1", 1);
    unsetenv("STOCKD_API_KEY");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || memchr(data, '/', size) != NULL) return 0;
    char *copy = malloc(size + 1);
    if (copy == NULL) return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *pieces[FUZZ_ARGUMENTS_MAX + 1];
    int count = 0;
    for (size_t offset = 0; offset < size && count < FUZZ_ARGUMENTS_MAX;) {
        pieces[count++] = copy + offset;
        offset += strlen(copy + offset) + 1;
    }
    pieces[count] = NULL;
    for (size_t i = 0; i < sizeof(fuzz_commands) / sizeof(fuzz_commands[0]); i++) {
        if (strcmp(pieces[0], fuzz_commands[i].name) != 0) continue;
        int status = fuzz_commands[i].run(count - 1, pieces + 1);
        if (status < 0 || status > 5) { /* the exit codes of stockctl --help */
            fprintf(stderr, "stockctl %s returned %d, not an exit code it documents\n", pieces[0], status);
            abort();
        }
        break;
    }
    fflush(stdout);
    free(copy);
    return 0;
}
