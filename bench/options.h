/* options.h - the command line of the benchmarks (bench_handler, bench_replay, bench_e2e): --NAME VALUE
 * pairs from a table, --help, numbers checked against their bounds. Header-only, as workload.h: each
 * bench/ file is its own program.
 *
 * A usage error (an unknown name, a name without its value, a number that is not a whole number within its
 * bounds) prints what is wrong and the usage text to stderr and exits 2; --help or -h prints the usage text
 * to stdout and exits 0. */
#ifndef STOCKD_BENCH_OPTIONS_H
#define STOCKD_BENCH_OPTIONS_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_option {
    const char *name;  /* "--skus" */
    const char **text; /* where a text value goes, or NULL for a number */
    long *number;      /* where a number goes, or NULL for a text */
    long minimum;      /* a number's bounds, inclusive */
    long maximum;
};

static void bench_options_parse(const char *program, const char *usage, int argc, char **argv,
                                const struct bench_option *options, size_t count)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        const struct bench_option *option = NULL;
        for (size_t k = 0; k < count && option == NULL; k++)
            if (strcmp(argv[i], options[k].name) == 0) option = &options[k];
        if (option == NULL) {
            fprintf(stderr, "%s: unknown option %s\n%s", program, argv[i], usage);
            exit(2);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s wants a value\n%s", program, argv[i], usage);
            exit(2);
        }
        const char *value = argv[++i];
        if (option->text != NULL) {
            *option->text = value;
            continue;
        }
        char *end = NULL;
        errno = 0;
        long number = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || number < option->minimum ||
            number > option->maximum) {
            fprintf(stderr, "%s: %s wants a whole number in [%ld, %ld], not '%s'\n%s", program, option->name,
                    option->minimum, option->maximum, value, usage);
            exit(2);
        }
        *option->number = number;
    }
}

#endif
