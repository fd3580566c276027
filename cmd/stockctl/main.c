/* main.c - stockctl, the operator CLI of stockd: dispatches to the commands.
 *
 * Offline (local_commands.c): validate an envelope, tell a SKU's partition. Against Kafka, configured like
 * stockd (kafka_commands.c): send, tail, verify. Against a running stockd's HTTP API (api_commands.c):
 * submit, get, history, views, lag, rebuild, health. Exit codes are in stockctl.h and the usage text. */
#include <stdio.h>
#include <string.h>

#include "stockctl.h"
#include "version.h"

static const char usage_text[] =
    "Usage: stockctl <command> [arguments]   (stockctl <command> --help for each)\n"
    "\n"
    "Against a running stockd (HTTP API, --url http://HOST[:PORT] or STOCKCTL_URL, default\n"
    "http://127.0.0.1:8080; --key KEY or STOCKD_API_KEY; --json prints stockd's answer as it came):\n"
    "  submit TYPE --FIELD=VALUE... [--id ID] [--wait N]\n"
    "                                  submit a command: create-sku, receive, adjust, transfer, reserve,\n"
    "                                  release, fulfil (--wait N: wait up to N s for the outcome)\n"
    "  submit --file FILE [--wait N]   post each line of FILE (a command envelope) to /v1/commands\n"
    "  get sku SKU | get skus | get reservation ID [--sku S] | get command ID\n"
    "                                  read a SKU's stock, the SKU list, a reservation, a command's outcome\n"
    "  history SKU [--order oldest|newest] [--limit N] [--all]\n"
    "                                  a SKU's events, page by page (--all: to the end)\n"
    "  views                           the read models: state, lag, rebuilds\n"
    "  lag                             each view's position, end and lag per partition\n"
    "  rebuild VIEW                    rebuild a read model from offset 0 (admin)\n"
    "  health [--live]                 is the instance ready (/readyz), or alive (/healthz)\n"
    "  import FILE --source NAME [--format csv|jsonl] [--dry-run]\n"
    "                                  clean catalog rows (CSV or JSON Lines) from the system NAME and\n"
    "                                  send those that change something as UpdateCatalog\n"
    "  get and history take --min-position P (partition:offset,...): read your writes.\n"
    "\n"
    "Against Kafka (stockd's configuration: --kafka.bootstrap=H:P, --kafka.topic_prefix=P,\n"
    "--kafka.properties=..., --config FILE, or STOCKD_* variables; see stockd --help):\n"
    "  send [FILE]                     validate each line of FILE (default: standard input) as a command "
    "and\n"
    "                                  produce the valid ones to <prefix>.commands, keyed by SKU\n"
    "  tail events|dlq [--count N] [--from-beginning] [--json]\n"
    "                                  print events (one decoded line each) or DLQ records until N or "
    "Ctrl-C\n"
    "  verify                          fold <prefix>.events and compare the handler shards (and views) with "
    "it;\n"
    "                                  check every order of <prefix>.orders against its lines' events,\n"
    "                                  and the order stage's shards against the fold of <prefix>.orders\n"
    "\n"
    "Offline:\n"
    "  validate command|event [FILE]   decode one JSON envelope with stockd's strict codec\n"
    "  partition SKU [--partitions P]  the partition of SKU among P (default 6), as Java computes it\n"
    "  --version                       print the version\n"
    "  --help                          print this help\n"
    "\n"
    "Exit codes (stable, for scripts):\n"
    "  0  success (HTTP 2xx; a submitted command accepted or pending)\n"
    "  1  invalid input or a rejected command (HTTP 4xx other than 401, 403, 404; verify: different)\n"
    "  2  usage error: nothing was sent\n"
    "  3  I/O, connection, Kafka or server error (HTTP 5xx, e.g. not ready or --min-position not reached)\n"
    "  4  not found (HTTP 404)\n"
    "  5  not authorised (HTTP 401 or 403: key missing, unknown, expired, or role too low)\n";

struct command_entry {
    const char *name;
    int (*run)(int argc, char **argv);
};

static const struct command_entry commands[] = {
    {"submit", command_submit},       {"get", command_get},       {"history", command_history},
    {"views", command_views},         {"lag", command_lag},       {"rebuild", command_rebuild},
    {"health", command_health},       {"import", command_import}, {"send", command_send},
    {"tail", command_tail},           {"verify", command_verify}, {"validate", command_validate},
    {"partition", command_partition},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(command, "--version") == 0) {
        printf("stockctl %s\n", stockd_version());
        return EXIT_OK;
    }
    for (size_t index = 0; index < sizeof(commands) / sizeof(commands[0]); index++)
        if (strcmp(command, commands[index].name) == 0) return commands[index].run(argc - 2, argv + 2);
    fprintf(stderr, "stockctl: unknown command \"%s\" (see stockctl --help)\n", command);
    return EXIT_USAGE;
}
