/* harness.c - stockd subprocesses, a command producer, whole-topic readers and the invariant checks of
 * the real-broker integration tests.
 *
 * Runs in the test process: librdkafka clients of its own, fork/exec for stockd, the domain and shard
 * modules to fold events and read shard files. Never changes stockd's topics or files, only reads them. */
#include "harness.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/codec.h"
#include "kafka/murmur2.h"
#include "store/shard.h"

/* How long librdkafka calls of the harness may block: the broker is local, anything longer is a hang. */
#define HARNESS_KAFKA_TIMEOUT_MS 30000
/* A reader that got something returns after this long without more. */
#define HARNESS_QUIET_MS 200

/* ---- string set ------------------------------------------------------------------------------------ */

struct harness_set {
    char **keys;
    size_t *values;
    size_t capacity; /* a power of two, at most half full */
    size_t count;
};

static uint64_t set_hash(const char *key)
{
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)key; *c != '\0'; c++)
        hash = (hash ^ *c) * 1099511628211ULL;
    return hash;
}

static struct harness_set *set_new(void)
{
    struct harness_set *set = calloc(1, sizeof(*set));
    assert(set != NULL);
    set->capacity = 1024;
    set->keys = calloc(set->capacity, sizeof(*set->keys));
    set->values = calloc(set->capacity, sizeof(*set->values));
    assert(set->keys != NULL && set->values != NULL);
    return set;
}

static void set_free(struct harness_set *set)
{
    if (set == NULL) return;
    for (size_t i = 0; i < set->capacity; i++)
        free(set->keys[i]);
    free(set->keys);
    free(set->values);
    free(set);
}

/* The slot of key: where it is, or the empty slot where it would go. */
static size_t set_slot(const struct harness_set *set, const char *key)
{
    size_t slot = (size_t)set_hash(key) & (set->capacity - 1);
    while (set->keys[slot] != NULL && strcmp(set->keys[slot], key) != 0)
        slot = (slot + 1) & (set->capacity - 1);
    return slot;
}

/* The value of key, or SIZE_MAX when absent. */
static size_t set_get(const struct harness_set *set, const char *key)
{
    size_t slot = set_slot(set, key);
    return set->keys[slot] == NULL ? SIZE_MAX : set->values[slot];
}

static void set_grow(struct harness_set *set)
{
    struct harness_set old = *set;
    set->capacity *= 2;
    set->keys = calloc(set->capacity, sizeof(*set->keys));
    set->values = calloc(set->capacity, sizeof(*set->values));
    assert(set->keys != NULL && set->values != NULL);
    for (size_t i = 0; i < old.capacity; i++) {
        if (old.keys[i] == NULL) continue;
        size_t slot = set_slot(set, old.keys[i]);
        set->keys[slot] = old.keys[i];
        set->values[slot] = old.values[i];
    }
    free(old.keys);
    free(old.values);
}

/* Adds key with value; returns false (changing nothing) when key is there already. */
static bool set_put(struct harness_set *set, const char *key, size_t value)
{
    if ((set->count + 1) * 2 > set->capacity) set_grow(set);
    size_t slot = set_slot(set, key);
    if (set->keys[slot] != NULL) return false;
    set->keys[slot] = strdup(key);
    assert(set->keys[slot] != NULL);
    set->values[slot] = value;
    set->count++;
    return true;
}

/* ---- the run --------------------------------------------------------------------------------------- */

/* Every stockd of every live run, so that a failing test (or exit) never leaves one behind. */
static struct harness_stockd *stockd_all[HARNESS_STOCKD_MAX * 4];

static void stockd_kill_all(void)
{
    for (size_t i = 0; i < sizeof(stockd_all) / sizeof(stockd_all[0]); i++) {
        if (stockd_all[i] != NULL) harness_stockd_kill(stockd_all[i]);
    }
}

int64_t harness_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void harness_sleep_ms(int milliseconds)
{
    struct timespec pause = {milliseconds / 1000, (long)(milliseconds % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

struct harness *harness_create(const char *test_name, int32_t partitions)
{
    assert(test_name != NULL && partitions > 0 && partitions <= STOCKD_PARTITIONS_MAX);
    const char *binary = getenv("STOCKD_BINARY");
    const char *bootstrap = getenv("STOCKD_TEST_BOOTSTRAP");
    if (binary == NULL || bootstrap == NULL || binary[0] == '\0' || bootstrap[0] == '\0') {
        fprintf(stderr, "harness: STOCKD_BINARY and STOCKD_TEST_BOOTSTRAP must be set (ctest sets them)\n");
        return NULL;
    }
    static bool exit_hook;
    if (!exit_hook) exit_hook = atexit(stockd_kill_all) == 0;
    struct harness *harness = calloc(1, sizeof(*harness));
    assert(harness != NULL);
    unsigned random_value = 0;
    int random_fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (random_fd < 0 || read(random_fd, &random_value, sizeof(random_value)) != sizeof(random_value))
        random_value = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (random_fd >= 0) close(random_fd);
    snprintf(harness->test_name, sizeof(harness->test_name), "%s", test_name);
    snprintf(harness->prefix, sizeof(harness->prefix), "it-%.24s-%ld-%08x", test_name, (long)getpid(),
             random_value);
    snprintf(harness->binary, sizeof(harness->binary), "%s", binary);
    snprintf(harness->bootstrap, sizeof(harness->bootstrap), "%s", bootstrap);
    harness->partitions = partitions;
    kafka_topics_names(harness->prefix, &harness->topics);
    const char *tmp = getenv("TMPDIR");
    snprintf(harness->root_dir, sizeof(harness->root_dir), "%s/stockd-%s",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", harness->prefix);
    if (mkdir(harness->root_dir, 0700) != 0) {
        fprintf(stderr, "harness: mkdir %s: %s\n", harness->root_dir, strerror(errno));
        free(harness);
        return NULL;
    }
    fprintf(stderr, "harness: %s: prefix %s, files in %s\n", test_name, harness->prefix, harness->root_dir);
    return harness;
}

/* Deletes the run's four topics and its consumer groups (best effort: leftovers only cost the broker
 * some disk). */
static void topics_delete(const struct harness *harness)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", harness->bootstrap, error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return;
    }
    rd_kafka_t *admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (admin == NULL) return;
    const char *names[4] = {harness->topics.commands, harness->topics.by_sku, harness->topics.events,
                            harness->topics.dlq};
    rd_kafka_DeleteTopic_t *topics[4];
    for (int i = 0; i < 4; i++)
        topics[i] = rd_kafka_DeleteTopic_new(names[i]);
    char group_names[2][STOCKD_SKU_BYTES_MAX + 32];
    snprintf(group_names[0], sizeof(group_names[0]), "%s-router", harness->prefix);
    snprintf(group_names[1], sizeof(group_names[1]), "%s-handler", harness->prefix);
    rd_kafka_DeleteGroup_t *groups[2] = {rd_kafka_DeleteGroup_new(group_names[0]),
                                         rd_kafka_DeleteGroup_new(group_names[1])};
    rd_kafka_queue_t *queue = rd_kafka_queue_new(admin);
    rd_kafka_DeleteTopics(admin, topics, 4, NULL, queue);
    rd_kafka_DeleteGroups(admin, groups, 2, NULL, queue);
    for (int i = 0; i < 2; i++) {
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, HARNESS_KAFKA_TIMEOUT_MS);
        if (event != NULL) rd_kafka_event_destroy(event);
    }
    rd_kafka_DeleteTopic_destroy_array(topics, 4);
    rd_kafka_DeleteGroup_destroy_array(groups, 2);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(admin);
}

void harness_destroy(struct harness *harness)
{
    if (harness == NULL) return;
    for (size_t i = 0; i < sizeof(stockd_all) / sizeof(stockd_all[0]); i++) {
        struct harness_stockd *stockd = stockd_all[i];
        if (stockd == NULL || stockd->harness != harness) continue;
        harness_stockd_kill(stockd);
        stockd_all[i] = NULL;
        free(stockd);
    }
    const char *keep = getenv("STOCKD_IT_KEEP"); /* 1: keep files and topics of a passing run too */
    if (harness->passed && (keep == NULL || strcmp(keep, "1") != 0)) {
        topics_delete(harness);
        char command[HARNESS_PATH_BYTES_MAX + 32];
        snprintf(command, sizeof(command), "rm -rf '%s'", harness->root_dir);
        int ignored = system(command);
        (void)ignored;
    } else {
        fprintf(stderr, "harness: %s %s: keeping %s and the topics %s.*\n", harness->test_name,
                harness->passed ? "passed" : "did not pass", harness->root_dir, harness->prefix);
    }
    free(harness);
}

void harness_fail_at(struct harness *harness, const char *file, int line, const char *format, ...)
{
    char message[HARNESS_ERROR_BYTES];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof(message), format, arguments);
    va_end(arguments);
    for (size_t i = 0; i < sizeof(stockd_all) / sizeof(stockd_all[0]); i++) {
        const struct harness_stockd *stockd = stockd_all[i];
        if (stockd != NULL && stockd->harness == harness)
            harness_stockd_log_tail(stockd, HARNESS_LOG_TAIL_LINES);
    }
    fprintf(stderr, "harness: FAILED at %s:%d: %s\n", file, line, message);
    print_error("%s:%d: %s\n", file, line, message);
    _fail(file, line);
    abort(); /* _fail jumps back into CMocka; never reached */
}

/* ---- stockd processes ------------------------------------------------------------------------------ */

struct harness_stockd *harness_stockd_new(struct harness *harness, const char *instance_id,
                                          const char *const *extra_args)
{
    assert(harness != NULL && instance_id != NULL);
    size_t free_slot = SIZE_MAX;
    int of_run = 0;
    for (size_t i = 0; i < sizeof(stockd_all) / sizeof(stockd_all[0]); i++) {
        if (stockd_all[i] == NULL && free_slot == SIZE_MAX) free_slot = i;
        if (stockd_all[i] != NULL && stockd_all[i]->harness == harness) of_run++;
    }
    if (free_slot == SIZE_MAX || of_run >= HARNESS_STOCKD_MAX) return NULL;
    struct harness_stockd *stockd = calloc(1, sizeof(*stockd));
    assert(stockd != NULL);
    stockd->harness = harness;
    snprintf(stockd->instance_id, sizeof(stockd->instance_id), "%s", instance_id);
    snprintf(stockd->data_dir, sizeof(stockd->data_dir), "%s/%s", harness->root_dir, instance_id);
    snprintf(stockd->log_path, sizeof(stockd->log_path), "%s/%s.log", harness->root_dir, instance_id);
    for (int i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        assert(i < HARNESS_STOCKD_ARGS_MAX);
        snprintf(stockd->args[i], sizeof(stockd->args[i]), "%s", extra_args[i]);
        stockd->arg_count = i + 1;
    }
    stockd_all[free_slot] = stockd;
    return stockd;
}

int harness_stockd_start(struct harness_stockd *stockd)
{
    assert(stockd != NULL && stockd->pid == 0);
    const struct harness *harness = stockd->harness;
    char flags[8][HARNESS_PATH_BYTES_MAX + 96];
    snprintf(flags[0], sizeof(flags[0]), "--kafka.bootstrap=%s", harness->bootstrap);
    snprintf(flags[1], sizeof(flags[1]), "--kafka.topic_prefix=%s", harness->prefix);
    snprintf(flags[2], sizeof(flags[2]), "--kafka.partitions=%d", (int)harness->partitions);
    snprintf(flags[3], sizeof(flags[3]), "--data_dir=%s", stockd->data_dir);
    snprintf(flags[4], sizeof(flags[4]), "--instance.id=%s", stockd->instance_id);
    snprintf(flags[5], sizeof(flags[5]), "--roles=router,handler");
    snprintf(flags[6], sizeof(flags[6]), "--log.level=info");
    /* Two handler threads by default whatever the machine's cores (handler.threads' default), so that
     * every write-path test runs with two consumers and transactional producers per instance. */
    const char *threads = getenv("STOCKD_TEST_HANDLER_THREADS");
    snprintf(flags[7], sizeof(flags[7]), "--handler.threads=%s", threads != NULL ? threads : "2");
    stockd->handler_threads = atoi(flags[7] + strlen("--handler.threads="));
    for (int i = 0; i < stockd->arg_count; i++) {
        if (strncmp(stockd->args[i], "--handler.threads=", strlen("--handler.threads=")) == 0)
            stockd->handler_threads = atoi(stockd->args[i] + strlen("--handler.threads="));
    }
    if (stockd->handler_threads < 1 || stockd->handler_threads > HARNESS_STAGE_WORKERS_MAX)
        stockd->handler_threads = 1; /* stockd itself refuses the value: it will not start */
    char *argv[1 + 8 + HARNESS_STOCKD_ARGS_MAX + 1];
    int argc = 0;
    argv[argc++] = stockd->harness->binary;
    for (int i = 0; i < 8; i++)
        argv[argc++] = flags[i];
    for (int i = 0; i < stockd->arg_count; i++)
        argv[argc++] = stockd->args[i];
    argv[argc] = NULL;

    int log_fd = open(stockd->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) return -1;
    struct stat log_stat;
    stockd->log_start = fstat(log_fd, &log_stat) == 0 ? log_stat.st_size : 0;
    char banner[160];
    int banner_bytes = snprintf(banner, sizeof(banner), "==== harness: start %d of %s ====\n",
                                stockd->starts + 1, stockd->instance_id);
    ssize_t ignored = write(log_fd, banner, (size_t)banner_bytes);
    (void)ignored;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(log_fd);
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec: the test process has librdkafka threads. */
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test killed by its timeout takes stockd with it */
        if (getppid() != parent) _exit(127);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(log_fd);
    stockd->pid = pid;
    stockd->starts++;
    return 0;
}

bool harness_stockd_running(struct harness_stockd *stockd)
{
    if (stockd->pid == 0) return false;
    int status = 0;
    if (waitpid(stockd->pid, &status, WNOHANG) == stockd->pid) {
        fprintf(stderr, "harness: stockd %s (pid %d) exited by itself: %s %d\n", stockd->instance_id,
                (int)stockd->pid, WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        stockd->pid = 0;
        return false;
    }
    return true;
}

/* The stage's worker a log line speaks for: " handler: " is worker 0, " handler/3: " worker 3
 * (handler.threads); *rest points past ": ". Returns -1 when the line is not the stage's. */
static int stage_worker_of(const char *line, const char *stage, const char **rest)
{
    size_t stage_length = strlen(stage);
    for (const char *found = strstr(line, stage); found != NULL; found = strstr(found + 1, stage)) {
        if (found == line || found[-1] != ' ') continue;
        const char *cursor = found + stage_length;
        long worker = 0;
        if (*cursor == '/') {
            char *end = NULL;
            worker = strtol(cursor + 1, &end, 10);
            if (end == cursor + 1 || worker < 1 || worker >= HARNESS_STAGE_WORKERS_MAX) continue;
            cursor = end;
        }
        if (cursor[0] != ':' || cursor[1] != ' ') continue;
        *rest = cursor + 2;
        return (int)worker;
    }
    return -1;
}

/* Looks for a line holding every needle in the log from offset start. */
static bool log_find(const char *path, off_t start, const char *const *needles, char *line_out,
                     size_t line_bytes)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) return false;
    bool found = false;
    if (fseeko(file, start, SEEK_SET) == 0) {
        char *line = NULL;
        size_t capacity = 0;
        while (!found && getline(&line, &capacity, file) > 0) {
            found = true;
            for (int i = 0; needles[i] != NULL && found; i++)
                found = strstr(line, needles[i]) != NULL;
            if (found && line_out != NULL) snprintf(line_out, line_bytes, "%s", line);
        }
        free(line);
    }
    fclose(file);
    return found;
}

int harness_stockd_wait_line(struct harness_stockd *stockd, const char *const *needles, int timeout_ms,
                             char *line_out, size_t line_bytes)
{
    assert(stockd != NULL && needles != NULL && needles[0] != NULL);
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    for (;;) {
        if (log_find(stockd->log_path, stockd->log_start, needles, line_out, line_bytes)) return 0;
        if (!harness_stockd_running(stockd) || harness_now_ms() > deadline_ms) return -1;
        harness_sleep_ms(100);
    }
}

/* Counts the lines of stage (any of its workers) from start on whose message begins with message_prefix;
 * copies the first into line_out when given. */
static int stage_lines_count(const char *path, off_t start, const char *stage, const char *message_prefix,
                             char *line_out, size_t line_bytes)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) return 0;
    int count = 0;
    if (fseeko(file, start, SEEK_SET) == 0) {
        char *line = NULL;
        size_t capacity = 0;
        while (getline(&line, &capacity, file) > 0) {
            const char *rest = NULL;
            if (stage_worker_of(line, stage, &rest) < 0 ||
                strncmp(rest, message_prefix, strlen(message_prefix)))
                continue;
            if (count++ == 0 && line_out != NULL) snprintf(line_out, line_bytes, "%s", line);
        }
        free(line);
    }
    fclose(file);
    return count;
}

int harness_stockd_wait_stage_line(struct harness_stockd *stockd, const char *stage,
                                   const char *message_prefix, int timeout_ms, char *line_out,
                                   size_t line_bytes)
{
    assert(stockd != NULL && stage != NULL && message_prefix != NULL);
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    for (;;) {
        if (stage_lines_count(stockd->log_path, stockd->log_start, stage, message_prefix, line_out,
                              line_bytes) > 0)
            return 0;
        if (!harness_stockd_running(stockd) || harness_now_ms() > deadline_ms) return -1;
        harness_sleep_ms(100);
    }
}

int harness_stockd_stage_log_count(const struct harness_stockd *stockd, const char *stage,
                                   const char *message_prefix)
{
    return stage_lines_count(stockd->log_path, 0, stage, message_prefix, NULL, 0);
}

int harness_stockd_wait_assigned(struct harness_stockd *stockd, int timeout_ms)
{
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    for (int worker = 0; worker < stockd->handler_threads; worker++) {
        char stage[32];
        char needle[48];
        snprintf(stage, sizeof(stage), worker == 0 ? "handler" : "handler/%d", worker);
        snprintf(needle, sizeof(needle), " %s: ", stage);
        const char *const needles[] = {needle, "assigned partitions [", NULL};
        int remaining_ms = (int)(deadline_ms - harness_now_ms());
        if (harness_stockd_wait_line(stockd, needles, remaining_ms > 0 ? remaining_ms : 0, NULL, 0) != 0)
            return -1;
    }
    return 0;
}

/* How long a handler must stay up after its assignment to count as ready: a failed take-over (see
 * harness_stockd_wait_ready) stops it about 100 ms after the assignment line. */
#define HARNESS_READY_GRACE_MS 1500

int harness_stockd_wait_ready(struct harness_stockd *stockd, int timeout_ms)
{
    if (harness_stockd_wait_assigned(stockd, timeout_ms) != 0) return -1;
    int64_t grace_end_ms = harness_now_ms() + HARNESS_READY_GRACE_MS;
    while (harness_now_ms() < grace_end_ms && harness_stockd_running(stockd))
        harness_sleep_ms(50);
    return harness_stockd_running(stockd) ? 0 : -1;
}

int harness_stockd_stop(struct harness_stockd *stockd, int timeout_ms)
{
    assert(stockd != NULL);
    if (stockd->pid == 0) return -1;
    /* stockd installs its SIGTERM handler just before it logs that it starts: a SIGTERM sent earlier
     * (right after a restart) would kill it like SIGKILL, which is not what a clean stop means. */
    static const char *const started[] = {" stockd: stockd ", " starting: ", NULL};
    if (harness_stockd_wait_line(stockd, started, timeout_ms, NULL, 0) != 0) {
        fprintf(stderr, "harness: stockd %s never logged its start\n", stockd->instance_id);
        harness_stockd_kill(stockd);
        return -1;
    }
    kill(stockd->pid, SIGTERM);
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    int status = 0;
    while (waitpid(stockd->pid, &status, WNOHANG) == 0) {
        if (harness_now_ms() > deadline_ms) {
            fprintf(stderr, "harness: stockd %s did not stop within %d ms of SIGTERM: killing it\n",
                    stockd->instance_id, timeout_ms);
            harness_stockd_kill(stockd);
            return -1;
        }
        harness_sleep_ms(50);
    }
    stockd->pid = 0;
    if (!WIFEXITED(status)) {
        fprintf(stderr, "harness: stockd %s died of signal %d after SIGTERM\n", stockd->instance_id,
                WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

void harness_stockd_kill(struct harness_stockd *stockd)
{
    if (stockd == NULL || stockd->pid == 0) return;
    kill(stockd->pid, SIGKILL);
    int status = 0;
    while (waitpid(stockd->pid, &status, 0) < 0 && errno == EINTR) {
    }
    stockd->pid = 0;
}

void harness_stockd_log_tail(const struct harness_stockd *stockd, int lines)
{
    char command[HARNESS_PATH_BYTES_MAX + 160];
    fprintf(stderr, "---- last %d lines of %s ----\n", lines, stockd->log_path);
    fflush(stderr);
    snprintf(command, sizeof(command), "tail -n %d '%s' >&2", lines, stockd->log_path);
    int ignored = system(command);
    (void)ignored;
    fprintf(stderr, "---- end of %s ----\n", stockd->log_path);
}

/* Marks the partitions of a "[0,3,5]" list in owned; returns how many were listed. */
static int partitions_parse(const char *list, bool *owned, int32_t partitions)
{
    int count = 0;
    const char *cursor = strchr(list, '[');
    if (cursor == NULL) return 0;
    cursor++;
    while (*cursor != ']' && *cursor != '\0') {
        char *end = NULL;
        long partition = strtol(cursor, &end, 10);
        if (end == cursor) break;
        if (partition >= 0 && partition < partitions) {
            owned[partition] = true;
            count++;
        }
        cursor = *end == ',' ? end + 1 : end;
    }
    return count;
}

/* Reads the assignment of every worker of stage from the current incarnation's log into by_worker
 * (HARNESS_STAGE_WORKERS_MAX rows of partitions). Returns true when any worker logged an assignment. */
static bool workers_assignment(const struct harness_stockd *stockd, const char *stage, bool *by_worker,
                               int32_t partitions)
{
    static const char assigned[] = "assigned partitions [";
    static const char revoked[] = "revoked partitions [";
    memset(by_worker, 0, (size_t)HARNESS_STAGE_WORKERS_MAX * (size_t)partitions * sizeof(*by_worker));
    bool logged = false;
    FILE *file = fopen(stockd->log_path, "r");
    if (file == NULL) return false;
    if (fseeko(file, stockd->log_start, SEEK_SET) == 0) {
        char *line = NULL;
        size_t capacity = 0;
        while (getline(&line, &capacity, file) > 0) {
            const char *rest = NULL;
            int worker = stage_worker_of(line, stage, &rest);
            if (worker < 0) continue;
            bool *worker_owned = by_worker + (size_t)worker * (size_t)partitions;
            if (strncmp(rest, assigned, sizeof(assigned) - 1) == 0) {
                memset(worker_owned, 0, (size_t)partitions * sizeof(*worker_owned));
                partitions_parse(rest, worker_owned, partitions);
                logged = true;
            } else if (strncmp(rest, revoked, sizeof(revoked) - 1) == 0) {
                memset(worker_owned, 0, (size_t)partitions * sizeof(*worker_owned));
            }
        }
        free(line);
    }
    fclose(file);
    return logged;
}

int harness_stockd_worker_assignment(const struct harness_stockd *stockd, const char *stage, int worker,
                                     bool *owned, int32_t partitions)
{
    assert(worker >= 0 && worker < HARNESS_STAGE_WORKERS_MAX);
    bool *by_worker = calloc((size_t)HARNESS_STAGE_WORKERS_MAX * (size_t)partitions, sizeof(*by_worker));
    assert(by_worker != NULL);
    bool logged = workers_assignment(stockd, stage, by_worker, partitions);
    int count = 0;
    for (int32_t p = 0; p < partitions; p++) {
        owned[p] = by_worker[(size_t)worker * (size_t)partitions + (size_t)p];
        count += owned[p];
    }
    free(by_worker);
    return logged ? count : -1;
}

int harness_stockd_assignment(const struct harness_stockd *stockd, const char *stage, bool *owned,
                              int32_t partitions)
{
    bool *by_worker = calloc((size_t)HARNESS_STAGE_WORKERS_MAX * (size_t)partitions, sizeof(*by_worker));
    assert(by_worker != NULL);
    bool logged = workers_assignment(stockd, stage, by_worker, partitions);
    int count = 0;
    for (int32_t p = 0; p < partitions; p++) {
        owned[p] = false;
        for (int worker = 0; worker < HARNESS_STAGE_WORKERS_MAX && !owned[p]; worker++)
            owned[p] = by_worker[(size_t)worker * (size_t)partitions + (size_t)p];
        count += owned[p];
    }
    free(by_worker);
    return logged ? count : -1;
}

int harness_stockd_log_count(const struct harness_stockd *stockd, const char *needle)
{
    FILE *file = fopen(stockd->log_path, "r");
    if (file == NULL) return 0;
    int count = 0;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, file) > 0)
        count += strstr(line, needle) != NULL;
    free(line);
    fclose(file);
    return count;
}

/* ---- producing ------------------------------------------------------------------------------------- */

struct producer_state {
    atomic_ulong delivered;
    atomic_ulong failed;
    char first_error[256];
};

static void producer_delivered(rd_kafka_t *producer, const rd_kafka_message_t *message, void *opaque)
{
    (void)producer;
    struct producer_state *state = opaque;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&state->delivered, 1);
        return;
    }
    if (atomic_fetch_add(&state->failed, 1) == 0)
        snprintf(state->first_error, sizeof(state->first_error), "%s", rd_kafka_err2str(message->err));
}

rd_kafka_t *harness_producer_create(struct harness *harness)
{
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const settings[][2] = {
        {"enable.idempotence", "true"},    {"acks", "all"},
        {"partitioner", "murmur2_random"}, {"linger.ms", "5"},
        {"client.id", "it-producer"},
    };
    if (rd_kafka_conf_set(conf, "bootstrap.servers", harness->bootstrap, error, sizeof(error)) !=
        RD_KAFKA_CONF_OK)
        goto out_conf;
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], error, sizeof(error)) != RD_KAFKA_CONF_OK)
            goto out_conf;
    }
    struct producer_state *state = calloc(1, sizeof(*state));
    assert(state != NULL);
    rd_kafka_conf_set_opaque(conf, state);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_delivered);
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
    if (producer == NULL) {
        free(state);
        goto out_conf;
    }
    return producer; /* rd_kafka_new took conf */
out_conf:
    rd_kafka_conf_destroy(conf);
    snprintf(harness->error, sizeof(harness->error), "producer: %s", error);
    return NULL;
}

int harness_produce(rd_kafka_t *producer, const char *topic, int32_t partition, const void *key,
                    size_t key_bytes, const void *value, size_t value_bytes)
{
    assert(producer != NULL && topic != NULL);
    for (;;) {
        rd_kafka_resp_err_t status =
            rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_KEY(key, key_bytes), RD_KAFKA_V_VALUE((void *)value, value_bytes),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (status == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (status != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "harness: produce to %s: %s\n", topic, rd_kafka_err2str(status));
            return -1;
        }
        rd_kafka_poll(producer, 10); /* backpressure: serve delivery reports, then retry */
    }
    rd_kafka_poll(producer, 0);
    return 0;
}

int harness_produce_command(struct harness *harness, rd_kafka_t *producer, const struct command *command,
                            const char *key)
{
    char *value = codec_command_encode(command);
    assert(value != NULL);
    const char *record_key = key != NULL ? key : command->command_id;
    int status = harness_produce(producer, harness->topics.commands, RD_KAFKA_PARTITION_UA, record_key,
                                 strlen(record_key), value, strlen(value));
    free(value);
    return status;
}

int harness_producer_flush(rd_kafka_t *producer, int timeout_ms)
{
    const struct producer_state *state = rd_kafka_opaque(producer);
    rd_kafka_resp_err_t status = rd_kafka_flush(producer, timeout_ms);
    if (status != RD_KAFKA_RESP_ERR_NO_ERROR || atomic_load(&state->failed) > 0) {
        fprintf(stderr, "harness: flush: %s, %lu deliveries failed (first: %s)\n", rd_kafka_err2str(status),
                (unsigned long)atomic_load(&state->failed), state->first_error);
        return -1;
    }
    return 0;
}

void harness_producer_destroy(rd_kafka_t *producer)
{
    if (producer == NULL) return;
    struct producer_state *state = rd_kafka_opaque(producer);
    rd_kafka_flush(producer, HARNESS_KAFKA_TIMEOUT_MS);
    rd_kafka_destroy(producer);
    free(state);
}

void harness_command_init(struct command *command, enum command_type type, const char *command_id,
                          const char *sku)
{
    memset(command, 0, sizeof(*command));
    command->type = type;
    snprintf(command->command_id, sizeof(command->command_id), "%s", command_id);
    snprintf(command->sku, sizeof(command->sku), "%s", sku);
}

void harness_command_create_sku(struct command *out, const char *id, const char *sku, const char *name,
                                int64_t reorder_point)
{
    harness_command_init(out, COMMAND_CREATE_SKU, id, sku);
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->reorder_point = reorder_point;
}

void harness_command_receive(struct command *out, const char *id, const char *sku, const char *location,
                             int64_t quantity)
{
    harness_command_init(out, COMMAND_RECEIVE_STOCK, id, sku);
    snprintf(out->location, sizeof(out->location), "%s", location);
    out->quantity = quantity;
}

void harness_command_reserve(struct command *out, const char *id, const char *sku, const char *reservation_id,
                             const char *location, int64_t quantity, int64_t ttl_s)
{
    harness_command_init(out, COMMAND_RESERVE_STOCK, id, sku);
    snprintf(out->reservation_id, sizeof(out->reservation_id), "%s", reservation_id);
    snprintf(out->location, sizeof(out->location), "%s", location);
    out->quantity = quantity;
    out->ttl_s = ttl_s;
}

void harness_command_settle(struct command *out, enum command_type type, const char *id, const char *sku,
                            const char *reservation_id)
{
    assert(type == COMMAND_RELEASE_RESERVATION || type == COMMAND_FULFIL_RESERVATION);
    harness_command_init(out, type, id, sku);
    snprintf(out->reservation_id, sizeof(out->reservation_id), "%s", reservation_id);
}

void harness_command_transfer(struct command *out, const char *id, const char *sku, const char *from,
                              const char *to, int64_t quantity)
{
    harness_command_init(out, COMMAND_TRANSFER_STOCK, id, sku);
    snprintf(out->location, sizeof(out->location), "%s", from);
    snprintf(out->to_location, sizeof(out->to_location), "%s", to);
    out->quantity = quantity;
}

void harness_command_adjust(struct command *out, const char *id, const char *sku, const char *location,
                            bool counted_set, int64_t amount, const char *reason)
{
    harness_command_init(out, COMMAND_ADJUST_STOCK, id, sku);
    snprintf(out->location, sizeof(out->location), "%s", location);
    out->counted_set = counted_set;
    if (counted_set)
        out->counted = amount;
    else
        out->delta = amount;
    snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

/* ---- reading --------------------------------------------------------------------------------------- */

static int topic_partition_count(rd_kafka_t *client, const char *topic, char *error, size_t error_bytes)
{
    rd_kafka_topic_t *handle = rd_kafka_topic_new(client, topic, NULL);
    const rd_kafka_metadata_t *metadata = NULL;
    int count = -1;
    for (int attempt = 0; attempt < 50 && count <= 0; attempt++) {
        rd_kafka_resp_err_t status =
            rd_kafka_metadata(client, 0, handle, &metadata, HARNESS_KAFKA_TIMEOUT_MS);
        if (status != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(error, error_bytes, "metadata of %s: %s", topic, rd_kafka_err2str(status));
            break;
        }
        if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            count = metadata->topics[0].partition_cnt;
        else
            snprintf(error, error_bytes, "topic %s: %s", topic,
                     metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : "missing");
        rd_kafka_metadata_destroy(metadata);
        if (count <= 0) harness_sleep_ms(200);
    }
    rd_kafka_topic_destroy(handle);
    return count;
}

struct harness_reader *harness_reader_create(struct harness *harness, const char *topic)
{
    char error[512] = "";
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[STOCKD_SKU_BYTES_MAX + 32];
    snprintf(group, sizeof(group), "%s-it-reader", harness->prefix);
    const char *settings[][2] = {
        {"bootstrap.servers", harness->bootstrap},
        {"group.id", group}, /* never joined: assign only, nothing committed */
        {"enable.auto.commit", "false"},
        {"isolation.level", "read_committed"},
        {"auto.offset.reset", "earliest"},
        {"client.id", "it-reader"},
    };
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], error, sizeof(error)) !=
            RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            snprintf(harness->error, sizeof(harness->error), "reader: %s", error);
            return NULL;
        }
    }
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
    if (consumer == NULL) {
        rd_kafka_conf_destroy(conf);
        snprintf(harness->error, sizeof(harness->error), "reader: %s", error);
        return NULL;
    }
    int count = topic_partition_count(consumer, topic, error, sizeof(error));
    if (count <= 0) {
        rd_kafka_destroy(consumer);
        snprintf(harness->error, sizeof(harness->error), "reader: %s", error);
        return NULL;
    }
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new(count);
    for (int32_t partition = 0; partition < count; partition++)
        rd_kafka_topic_partition_list_add(assignment, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(consumer, assignment);
    rd_kafka_topic_partition_list_destroy(assignment);
    struct harness_reader *reader = calloc(1, sizeof(*reader));
    assert(reader != NULL);
    reader->consumer = consumer;
    reader->partition_count = count;
    reader->command_ids = set_new();
    snprintf(reader->topic, sizeof(reader->topic), "%s", topic);
    return reader;
}

static void record_free(struct harness_record *record)
{
    free(record->key);
    free(record->value);
    for (int i = 0; i < record->header_count; i++) {
        free(record->headers[i].name);
        free(record->headers[i].value);
    }
}

void harness_reader_destroy(struct harness_reader *reader)
{
    if (reader == NULL) return;
    rd_kafka_consumer_close(reader->consumer);
    rd_kafka_destroy(reader->consumer);
    for (size_t i = 0; i < reader->count; i++)
        record_free(&reader->records[i]);
    free(reader->records);
    set_free(reader->command_ids);
    free(reader);
}

static char *bytes_copy(const void *bytes, size_t size)
{
    if (bytes == NULL) return NULL;
    char *copy = malloc(size + 1);
    assert(copy != NULL);
    memcpy(copy, bytes, size);
    copy[size] = '\0';
    return copy;
}

/* Keeps a copy of a consumed message. */
static void reader_keep(struct harness_reader *reader, rd_kafka_message_t *message)
{
    if (reader->count == reader->capacity) {
        reader->capacity = reader->capacity == 0 ? 4096 : reader->capacity * 2;
        reader->records = realloc(reader->records, reader->capacity * sizeof(*reader->records));
        assert(reader->records != NULL);
    }
    struct harness_record *record = &reader->records[reader->count++];
    memset(record, 0, sizeof(*record));
    record->partition = message->partition;
    record->offset = message->offset;
    record->key = bytes_copy(message->key, message->key_len);
    record->key_bytes = message->key_len;
    record->value = bytes_copy(message->payload, message->len);
    record->value_bytes = message->len;
    rd_kafka_headers_t *headers = NULL;
    if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    const char *name = NULL;
    const void *value = NULL;
    size_t value_bytes = 0;
    for (size_t i = 0; record->header_count < HARNESS_HEADERS_MAX &&
                       rd_kafka_header_get_all(headers, i, &name, &value, &value_bytes) == 0;
         i++) {
        record->headers[record->header_count].name = strdup(name);
        record->headers[record->header_count].value = bytes_copy(value, value_bytes);
        record->header_count++;
    }
    const char *command_id = harness_record_header(record, "stockd_command_id");
    if (command_id != NULL) set_put(reader->command_ids, command_id, 0);
}

int harness_reader_poll(struct harness_reader *reader, int timeout_ms)
{
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    int64_t quiet_since_ms = -1;
    int added = 0;
    while (harness_now_ms() < deadline_ms) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(reader->consumer, 50);
        if (message == NULL) {
            if (added > 0 && quiet_since_ms < 0) quiet_since_ms = harness_now_ms();
            if (quiet_since_ms >= 0 && harness_now_ms() - quiet_since_ms >= HARNESS_QUIET_MS) break;
            continue;
        }
        quiet_since_ms = -1;
        if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            bool fatal = message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF;
            if (fatal)
                fprintf(stderr, "harness: reader of %s: %s\n", reader->topic,
                        rd_kafka_message_errstr(message));
            rd_kafka_message_destroy(message);
            if (fatal) return -1;
            continue;
        }
        reader_keep(reader, message);
        rd_kafka_message_destroy(message);
        added++;
    }
    return added;
}

int harness_reader_wait_ids(struct harness *harness, struct harness_reader *reader, const char *const *ids,
                            size_t count, int timeout_ms)
{
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    size_t missing = count;
    size_t checked = 0; /* ids before this index were all seen */
    for (;;) {
        while (checked < count && set_get(reader->command_ids, ids[checked]) != SIZE_MAX)
            checked++;
        missing = count - checked;
        if (missing == 0) return 0;
        if (harness_now_ms() > deadline_ms) break;
        if (harness_reader_poll(reader, 1000) < 0) break;
    }
    size_t really_missing = 0;
    const char *first = NULL;
    for (size_t i = checked; i < count; i++) {
        if (set_get(reader->command_ids, ids[i]) != SIZE_MAX) continue;
        if (first == NULL) first = ids[i];
        really_missing++;
    }
    snprintf(harness->error, sizeof(harness->error),
             "%zu of %zu command ids never decided on %s within %d ms (first: %s; %zu records read)",
             really_missing, count, reader->topic, timeout_ms, first != NULL ? first : "-", reader->count);
    return -1;
}

int harness_reader_wait_count(struct harness_reader *reader, size_t count, int timeout_ms)
{
    int64_t deadline_ms = harness_now_ms() + timeout_ms;
    while (reader->count < count) {
        if (harness_now_ms() > deadline_ms) return -1;
        if (harness_reader_poll(reader, 1000) < 0) return -1;
    }
    return 0;
}

size_t harness_reader_distinct_ids(const struct harness_reader *reader)
{
    return reader->command_ids->count;
}

const char *harness_record_header(const struct harness_record *record, const char *name)
{
    for (int i = 0; i < record->header_count; i++) {
        if (strcmp(record->headers[i].name, name) == 0) return record->headers[i].value;
    }
    return NULL;
}

/* ---- id lists -------------------------------------------------------------------------------------- */

void harness_ids_add(struct harness_ids *ids, const char *id)
{
    if (ids->count == ids->capacity) {
        ids->capacity = ids->capacity == 0 ? 256 : ids->capacity * 2;
        ids->items = realloc(ids->items, ids->capacity * sizeof(*ids->items));
        assert(ids->items != NULL);
    }
    ids->items[ids->count] = strdup(id);
    assert(ids->items[ids->count] != NULL);
    ids->count++;
}

void harness_ids_free(struct harness_ids *ids)
{
    for (size_t i = 0; i < ids->count; i++)
        free(ids->items[i]);
    free(ids->items);
    memset(ids, 0, sizeof(*ids));
}

/* ---- the fold -------------------------------------------------------------------------------------- */

struct fold_sku {
    struct sku_state state;
    int32_t partition;
    struct reservation_state *reservations;
    size_t reservation_count;
    size_t reservation_capacity;
    struct harness_set *reservation_index;
};

struct harness_fold {
    int32_t partitions;
    struct fold_sku **skus;
    size_t sku_count;
    size_t sku_capacity;
    struct harness_set *sku_index;
    struct harness_decision *decisions;
    size_t decision_count;
    size_t decision_capacity;
    struct harness_set *decision_index;
    size_t event_counts[EVENT_TYPE_COUNT];
    size_t reject_counts[REJECT_REASON_COUNT];
    size_t total_events;
    int64_t *last_offset; /* per partition, -1 when it has no events */
};

void harness_fold_destroy(struct harness_fold *fold)
{
    if (fold == NULL) return;
    for (size_t i = 0; i < fold->sku_count; i++) {
        free(fold->skus[i]->reservations);
        set_free(fold->skus[i]->reservation_index);
        free(fold->skus[i]);
    }
    free(fold->skus);
    set_free(fold->sku_index);
    for (size_t i = 0; i < fold->decision_count; i++)
        free(fold->decisions[i].command_id);
    free(fold->decisions);
    set_free(fold->decision_index);
    free(fold->last_offset);
    free(fold);
}

static struct fold_sku *fold_sku_get(struct harness_fold *fold, const char *sku, int32_t partition)
{
    size_t index = set_get(fold->sku_index, sku);
    if (index != SIZE_MAX) return fold->skus[index];
    if (fold->sku_count == fold->sku_capacity) {
        fold->sku_capacity = fold->sku_capacity == 0 ? 64 : fold->sku_capacity * 2;
        fold->skus = realloc(fold->skus, fold->sku_capacity * sizeof(*fold->skus));
        assert(fold->skus != NULL);
    }
    struct fold_sku *entry = calloc(1, sizeof(*entry));
    assert(entry != NULL);
    domain_sku_state_init(&entry->state, sku);
    entry->partition = partition;
    entry->reservation_index = set_new();
    set_put(fold->sku_index, sku, fold->sku_count);
    fold->skus[fold->sku_count++] = entry;
    return entry;
}

/* Writes the reservations of an evolved set back into the SKU's list. */
static void fold_reservations_store(struct fold_sku *entry, const struct reservation_set *set)
{
    for (uint32_t i = 0; i < set->count; i++) {
        size_t index = set_get(entry->reservation_index, set->items[i].reservation_id);
        if (index == SIZE_MAX) {
            if (entry->reservation_count == entry->reservation_capacity) {
                entry->reservation_capacity =
                    entry->reservation_capacity == 0 ? 16 : entry->reservation_capacity * 2;
                entry->reservations =
                    realloc(entry->reservations, entry->reservation_capacity * sizeof(*entry->reservations));
                assert(entry->reservations != NULL);
            }
            index = entry->reservation_count++;
            set_put(entry->reservation_index, set->items[i].reservation_id, index);
        }
        entry->reservations[index] = set->items[i];
    }
}

/* Checks a record's headers against its decoded event. Returns 0 or -1 with a message. */
static int fold_headers_check(const struct harness_record *record, const struct event *event, char *error,
                              size_t error_bytes)
{
    char expected_id[STOCKD_SKU_BYTES_MAX + 32];
    char expected_type[64];
    snprintf(expected_id, sizeof(expected_id), "%s:%llu", event->sku, (unsigned long long)event->sequence);
    snprintf(expected_type, sizeof(expected_type), "stockd.%s", domain_event_type_name(event->type));
    const char *expected[][2] = {
        {"ce_specversion", "1.0"},
        {"ce_id", expected_id},
        {"ce_type", expected_type},
        {"ce_subject", event->sku},
        {"content-type", "application/json"},
        {"stockd_command_id", event->command_id},
        {"ce_source", NULL},
        {"ce_time", NULL},
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const char *value = harness_record_header(record, expected[i][0]);
        if (value == NULL || value[0] == '\0' ||
            (expected[i][1] != NULL && strcmp(value, expected[i][1]) != 0)) {
            snprintf(error, error_bytes, "[%d] offset %lld: header %s is %s%s%s, expected %s",
                     (int)record->partition, (long long)record->offset, expected[i][0],
                     value == NULL ? "absent" : "\"", value == NULL ? "" : value, value == NULL ? "" : "\"",
                     expected[i][1] != NULL ? expected[i][1] : "a value");
            return -1;
        }
    }
    if (record->key == NULL || strcmp(record->key, event->sku) != 0) {
        snprintf(error, error_bytes, "[%d] offset %lld: key %s is not the SKU %s", (int)record->partition,
                 (long long)record->offset, record->key != NULL ? record->key : "(null)", event->sku);
        return -1;
    }
    return 0;
}

/* Files an event under its command id: a new decision, or the next event of the current one. */
static int fold_decision_add(struct harness_fold *fold, const struct harness_record *record,
                             const struct event *event, char *error, size_t error_bytes)
{
    size_t index = set_get(fold->decision_index, event->command_id);
    if (index == SIZE_MAX) {
        if (fold->decision_count == fold->decision_capacity) {
            fold->decision_capacity = fold->decision_capacity == 0 ? 1024 : fold->decision_capacity * 2;
            fold->decisions = realloc(fold->decisions, fold->decision_capacity * sizeof(*fold->decisions));
            assert(fold->decisions != NULL);
        }
        struct harness_decision *decision = &fold->decisions[fold->decision_count];
        memset(decision, 0, sizeof(*decision));
        decision->command_id = strdup(event->command_id);
        snprintf(decision->sku, sizeof(decision->sku), "%s", event->sku);
        decision->partition = record->partition;
        decision->first_sequence = event->sequence;
        decision->event_count = 1;
        decision->first_type = event->type;
        decision->reject_reason = event->type == EVENT_COMMAND_REJECTED ? event->reject_reason : REJECT_NONE;
        set_put(fold->decision_index, event->command_id, fold->decision_count++);
        return 0;
    }
    struct harness_decision *decision = &fold->decisions[index];
    if (strcmp(decision->sku, event->sku) != 0 ||
        decision->first_sequence + decision->event_count != event->sequence) {
        snprintf(error, error_bytes,
                 "command id %s decided twice: events %s:%llu..%llu and again %s:%llu ([%d] offset %lld)",
                 event->command_id, decision->sku, (unsigned long long)decision->first_sequence,
                 (unsigned long long)(decision->first_sequence + decision->event_count - 1), event->sku,
                 (unsigned long long)event->sequence, (int)record->partition, (long long)record->offset);
        return -1;
    }
    if (decision->first_type == EVENT_COMMAND_REJECTED || event->type == EVENT_COMMAND_REJECTED) {
        snprintf(error, error_bytes, "command id %s: a CommandRejected among other events (%s:%llu)",
                 event->command_id, event->sku, (unsigned long long)event->sequence);
        return -1;
    }
    decision->event_count++;
    return 0;
}

/* Decodes, checks and folds one events record. Returns 0 or -1 with a message. */
static int fold_record(struct harness_fold *fold, const struct harness_record *record, char *error,
                       size_t error_bytes)
{
    static struct event event;
    static struct reservation_set set;
    struct codec_error codec_error;
    if (codec_event_decode(record->value != NULL ? record->value : "", record->value_bytes, &event,
                           &codec_error) != 0) {
        snprintf(error, error_bytes, "[%d] offset %lld is not an event: %s", (int)record->partition,
                 (long long)record->offset, codec_error.message);
        return -1;
    }
    if (fold_headers_check(record, &event, error, error_bytes) != 0) return -1;
    int32_t expected = murmur2_partition(event.sku, strlen(event.sku), fold->partitions);
    if (expected != record->partition) {
        snprintf(error, error_bytes, "SKU %s on partition %d, but murmur2 says %d (offset %lld)", event.sku,
                 (int)record->partition, (int)expected, (long long)record->offset);
        return -1;
    }
    struct fold_sku *entry = fold_sku_get(fold, event.sku, record->partition);
    if (event.sequence != entry->state.sequence + 1) {
        snprintf(error, error_bytes, "SKU %s: sequence %llu follows %llu ([%d] offset %lld, command %s)",
                 event.sku, (unsigned long long)event.sequence, (unsigned long long)entry->state.sequence,
                 (int)record->partition, (long long)record->offset, event.command_id);
        return -1;
    }
    if (fold_decision_add(fold, record, &event, error, error_bytes) != 0) return -1;
    set.count = 0;
    size_t index =
        event.reservation_id[0] != '\0' ? set_get(entry->reservation_index, event.reservation_id) : SIZE_MAX;
    if (index != SIZE_MAX) set.items[set.count++] = entry->reservations[index];
    if (domain_evolve(&entry->state, &set, &event) != 0 || domain_sku_state_check(&entry->state) != 0) {
        snprintf(error, error_bytes,
                 "SKU %s: event %s seq %llu does not follow from the state ([%d] offset %lld)", event.sku,
                 domain_event_type_name(event.type), (unsigned long long)event.sequence,
                 (int)record->partition, (long long)record->offset);
        return -1;
    }
    fold_reservations_store(entry, &set);
    fold->event_counts[event.type]++;
    if (event.type == EVENT_COMMAND_REJECTED && event.reject_reason < REJECT_REASON_COUNT)
        fold->reject_counts[event.reject_reason]++;
    fold->total_events++;
    if (record->offset > fold->last_offset[record->partition])
        fold->last_offset[record->partition] = record->offset;
    return 0;
}

struct harness_fold *harness_fold_create(struct harness *harness, const struct harness_reader *events,
                                         int32_t partitions)
{
    assert(partitions > 0);
    if (events->partition_count != partitions) {
        snprintf(harness->error, sizeof(harness->error), "%s has %d partitions, expected %d", events->topic,
                 (int)events->partition_count, (int)partitions);
        return NULL;
    }
    struct harness_fold *fold = calloc(1, sizeof(*fold));
    assert(fold != NULL);
    fold->partitions = partitions;
    fold->sku_index = set_new();
    fold->decision_index = set_new();
    fold->last_offset = malloc((size_t)partitions * sizeof(*fold->last_offset));
    assert(fold->last_offset != NULL);
    for (int32_t i = 0; i < partitions; i++)
        fold->last_offset[i] = -1;
    for (size_t i = 0; i < events->count; i++) {
        if (fold_record(fold, &events->records[i], harness->error, sizeof(harness->error)) != 0) {
            harness_fold_destroy(fold);
            return NULL;
        }
    }
    return fold;
}

int harness_fold_expect(struct harness *harness, const struct harness_fold *fold,
                        const struct harness_ids *expected)
{
    struct harness_set *wanted = set_new();
    size_t missing = 0;
    const char *first_missing = NULL;
    for (size_t i = 0; i < expected->count; i++) {
        set_put(wanted, expected->items[i], i);
        if (set_get(fold->decision_index, expected->items[i]) != SIZE_MAX) continue;
        if (missing++ == 0) first_missing = expected->items[i];
    }
    size_t unexpected = 0;
    const char *first_unexpected = NULL;
    for (size_t i = 0; i < fold->decision_count; i++) {
        const char *id = fold->decisions[i].command_id;
        if (set_get(wanted, id) != SIZE_MAX || strncmp(id, "expire.", 7) == 0) continue;
        if (unexpected++ == 0) first_unexpected = id;
    }
    set_free(wanted);
    if (missing == 0 && unexpected == 0) return 0;
    snprintf(
        harness->error, sizeof(harness->error),
        "%zu expected command ids have no decision (first %s), %zu decided ids were never sent (first %s)",
        missing, first_missing != NULL ? first_missing : "-", unexpected,
        first_unexpected != NULL ? first_unexpected : "-");
    return -1;
}

const struct harness_decision *harness_fold_decision(const struct harness_fold *fold, const char *command_id)
{
    size_t index = set_get(fold->decision_index, command_id);
    return index == SIZE_MAX ? NULL : &fold->decisions[index];
}

size_t harness_fold_event_count(const struct harness_fold *fold, enum event_type type)
{
    return type < EVENT_TYPE_COUNT ? fold->event_counts[type] : 0;
}

size_t harness_fold_reject_count(const struct harness_fold *fold, enum reject_reason reason)
{
    return reason < REJECT_REASON_COUNT ? fold->reject_counts[reason] : 0;
}

size_t harness_fold_total_events(const struct harness_fold *fold)
{
    return fold->total_events;
}

size_t harness_fold_sku_count(const struct harness_fold *fold)
{
    return fold->sku_count;
}

const struct sku_state *harness_fold_sku(const struct harness_fold *fold, const char *sku)
{
    size_t index = set_get(fold->sku_index, sku);
    return index == SIZE_MAX ? NULL : &fold->skus[index]->state;
}

const struct reservation_state *harness_fold_reservation(const struct harness_fold *fold, const char *sku,
                                                         const char *reservation_id)
{
    size_t index = set_get(fold->sku_index, sku);
    if (index == SIZE_MAX) return NULL;
    const struct fold_sku *entry = fold->skus[index];
    size_t found = set_get(entry->reservation_index, reservation_id);
    return found == SIZE_MAX ? NULL : &entry->reservations[found];
}

/* ---- shards against the fold ---------------------------------------------------------------------- */

static int sku_compare(const struct sku_state *folded, const struct sku_state *stored, char *error,
                       size_t error_bytes)
{
    if (folded->exists != stored->exists || strcmp(folded->name, stored->name) != 0 ||
        folded->reorder_point != stored->reorder_point || folded->sequence != stored->sequence ||
        folded->location_count != stored->location_count) {
        snprintf(error, error_bytes,
                 "SKU %s: fold has exists %d name \"%s\" reorder %lld sequence %llu locations %u, shard has "
                 "%d \"%s\" %lld %llu %u",
                 folded->sku, folded->exists, folded->name, (long long)folded->reorder_point,
                 (unsigned long long)folded->sequence, folded->location_count, stored->exists, stored->name,
                 (long long)stored->reorder_point, (unsigned long long)stored->sequence,
                 stored->location_count);
        return -1;
    }
    for (uint32_t i = 0; i < folded->location_count; i++) {
        const struct location_stock *a = &folded->locations[i];
        const struct location_stock *b = &stored->locations[i];
        if (strcmp(a->location, b->location) != 0 || a->on_hand != b->on_hand || a->reserved != b->reserved) {
            snprintf(
                error, error_bytes,
                "SKU %s location slot %u: fold has %s on_hand %lld reserved %lld, shard has %s %lld %lld",
                folded->sku, i, a->location, (long long)a->on_hand, (long long)a->reserved, b->location,
                (long long)b->on_hand, (long long)b->reserved);
            return -1;
        }
    }
    return 0;
}

static int reservation_compare(const char *sku, const struct reservation_state *a,
                               const struct reservation_state *b, char *error, size_t error_bytes)
{
    if (strcmp(a->location, b->location) == 0 && a->quantity == b->quantity && a->status == b->status &&
        a->expires_at_ms == b->expires_at_ms && a->created_ms == b->created_ms &&
        a->updated_ms == b->updated_ms)
        return 0;
    snprintf(
        error, error_bytes,
        "reservation %s/%s: fold has %s qty %lld status %d expires %lld created %lld updated %lld, shard "
        "has %s %lld %d %lld %lld %lld",
        sku, a->reservation_id, a->location, (long long)a->quantity, (int)a->status,
        (long long)a->expires_at_ms, (long long)a->created_ms, (long long)a->updated_ms, b->location,
        (long long)b->quantity, (int)b->status, (long long)b->expires_at_ms, (long long)b->created_ms,
        (long long)b->updated_ms);
    return -1;
}

/* Counts the rows of a table of a shard file (read-only connection). Returns the count or -1. */
static int64_t shard_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    int64_t count = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
        sqlite3_stmt *statement = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) == SQLITE_OK &&
            sqlite3_step(statement) == SQLITE_ROW)
            count = sqlite3_column_int64(statement, 0);
        sqlite3_finalize(statement);
    }
    sqlite3_close(db);
    return count;
}

/* Compares the SKUs, reservations and command records of one partition with its shard. */
static int shard_compare(const struct harness_fold *fold, struct shard *shard, int32_t partition,
                         size_t *sku_rows, size_t *reservation_rows, size_t *command_rows, char *error,
                         size_t error_bytes)
{
    static struct sku_state stored;
    static struct reservation_set set;
    for (size_t i = 0; i < fold->sku_count; i++) {
        const struct fold_sku *entry = fold->skus[i];
        if (entry->partition != partition) continue;
        (*sku_rows)++;
        if (shard_sku_load(shard, entry->state.sku, &stored, error, error_bytes) != 0) return -1;
        if (sku_compare(&entry->state, &stored, error, error_bytes) != 0) return -1;
        for (size_t r = 0; r < entry->reservation_count; r++) {
            const struct reservation_state *folded = &entry->reservations[r];
            set.count = 0;
            int found = shard_reservation_load(shard, entry->state.sku, folded->reservation_id, &set, error,
                                               error_bytes);
            if (found < 0) return -1;
            if (found == 0) {
                snprintf(error, error_bytes, "reservation %s/%s is not in the shard", entry->state.sku,
                         folded->reservation_id);
                return -1;
            }
            if (reservation_compare(entry->state.sku, folded, &set.items[0], error, error_bytes) != 0)
                return -1;
        }
        *reservation_rows += entry->reservation_count;
    }
    for (size_t i = 0; i < fold->decision_count; i++) {
        const struct harness_decision *decision = &fold->decisions[i];
        if (decision->partition != partition) continue;
        (*command_rows)++;
        struct shard_command_outcome outcome;
        int found = shard_command_find(shard, decision->command_id, &outcome, error, error_bytes);
        if (found < 0) return -1;
        if (found == 0 || strcmp(outcome.sku, decision->sku) != 0 ||
            outcome.first_sequence != decision->first_sequence ||
            outcome.event_count != decision->event_count ||
            outcome.rejected != (decision->first_type == EVENT_COMMAND_REJECTED)) {
            snprintf(error, error_bytes, "command %s: fold has %s:%llu x%u rejected %d, shard has %s",
                     decision->command_id, decision->sku, (unsigned long long)decision->first_sequence,
                     decision->event_count, decision->first_type == EVENT_COMMAND_REJECTED,
                     found == 0 ? "no record" : "another record");
            return -1;
        }
    }
    return 0;
}

int harness_shards_check(struct harness *harness, const struct harness_fold *fold, const char *data_dir,
                         bool require_all)
{
    char *error = harness->error;
    size_t error_bytes = sizeof(harness->error);
    int compared = 0;
    for (int32_t partition = 0; partition < fold->partitions; partition++) {
        char path[HARNESS_PATH_BYTES_MAX + 64];
        if (shard_path(data_dir, partition, path, sizeof(path)) != 0) {
            snprintf(error, error_bytes, "shard path too long for %s", data_dir);
            return -1;
        }
        bool has_events = fold->last_offset[partition] >= 0;
        if (access(path, F_OK) != 0) {
            if (!has_events || !require_all) continue;
            snprintf(error, error_bytes, "partition %d has events but no shard file %s", (int)partition,
                     path);
            return -1;
        }
        char open_error[512];
        struct shard *shard = shard_open(data_dir, partition, open_error, sizeof(open_error));
        if (shard == NULL) {
            snprintf(error, error_bytes, "shard %d: %s", (int)partition, open_error);
            return -1;
        }
        int64_t checkpoint = shard_checkpoint(shard);
        size_t sku_rows = 0, reservation_rows = 0, command_rows = 0;
        int status = shard_compare(fold, shard, partition, &sku_rows, &reservation_rows, &command_rows, error,
                                   error_bytes);
        shard_close(shard);
        if (status != 0) {
            char detail[HARNESS_ERROR_BYTES];
            snprintf(detail, sizeof(detail), "%s", error);
            snprintf(error, error_bytes, "shard %d: %.1900s", (int)partition, detail);
            return -1;
        }
        if (checkpoint <= fold->last_offset[partition]) {
            snprintf(error, error_bytes, "shard %d: checkpoint %lld is not past the last event offset %lld",
                     (int)partition, (long long)checkpoint, (long long)fold->last_offset[partition]);
            return -1;
        }
        int64_t rows[3] = {shard_rows(path, "skus"), shard_rows(path, "reservations"),
                           shard_rows(path, "commands")};
        size_t expected[3] = {sku_rows, reservation_rows, command_rows};
        static const char *const tables[3] = {"skus", "reservations", "commands"};
        for (int t = 0; t < 3; t++) {
            if (rows[t] == (int64_t)expected[t]) continue;
            snprintf(error, error_bytes, "shard %d: %lld rows in %s, the fold has %zu", (int)partition,
                     (long long)rows[t], tables[t], expected[t]);
            return -1;
        }
        compared++;
    }
    return compared;
}

/* ---- the command stream model ---------------------------------------------------------------------- */

#define MODEL_LOCATIONS     3
#define MODEL_ACTIVE_MAX    64
#define MODEL_SKU_COUNT_MAX 1000

static const char *const model_locations[MODEL_LOCATIONS] = {"WH-1", "WH-2", "STORE-1"};

struct model_reservation {
    char id[32];
    int location;
    int64_t quantity;
};

/* What the model believes a SKU holds. */
struct model_sku {
    char sku[16];
    bool created;
    int64_t on_hand[MODEL_LOCATIONS];
    int64_t reserved[MODEL_LOCATIONS];
    int reservations_drawn;
    struct model_reservation active[MODEL_ACTIVE_MAX];
    int active_count;
    bool has_settled;
    struct model_reservation settled; /* the last released or fulfilled one */
};

struct harness_model {
    uint64_t random_state;
    int sku_count;
    struct model_sku *skus;
    size_t rejections[REJECT_REASON_COUNT];
    struct command command; /* scratch: a command is a few KiB */
};

struct harness_model *harness_model_create(int sku_count, uint64_t seed)
{
    assert(sku_count > 0 && sku_count <= MODEL_SKU_COUNT_MAX);
    struct harness_model *model = calloc(1, sizeof(*model));
    assert(model != NULL);
    model->skus = calloc((size_t)sku_count, sizeof(*model->skus));
    assert(model->skus != NULL);
    model->sku_count = sku_count;
    model->random_state = seed != 0 ? seed : 0x5eed5eed12345678ULL;
    for (int i = 0; i < sku_count; i++)
        snprintf(model->skus[i].sku, sizeof(model->skus[i].sku), "SKU-%03d", i);
    return model;
}

void harness_model_destroy(struct harness_model *model)
{
    if (model == NULL) return;
    free(model->skus);
    free(model);
}

static uint32_t model_random(struct harness_model *model)
{
    uint64_t x = model->random_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    model->random_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A uniform draw in [low, high]. */
static int64_t model_between(struct harness_model *model, int64_t low, int64_t high)
{
    assert(low <= high);
    return low + (int64_t)(model_random(model) % (uint64_t)(high - low + 1));
}

static int64_t model_available(const struct model_sku *sku, int location)
{
    return sku->on_hand[location] - sku->reserved[location];
}

static int64_t model_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* A location with something available, or -1. */
static int model_location_available(struct harness_model *model, const struct model_sku *sku)
{
    int start = (int)model_between(model, 0, MODEL_LOCATIONS - 1);
    for (int i = 0; i < MODEL_LOCATIONS; i++) {
        int location = (start + i) % MODEL_LOCATIONS;
        if (model_available(sku, location) > 0) return location;
    }
    return -1;
}

static void model_receive(struct harness_model *model, struct model_sku *sku, const char *id)
{
    int location = (int)model_between(model, 0, MODEL_LOCATIONS - 1);
    int64_t quantity = model_between(model, 1, 50);
    harness_command_receive(&model->command, id, sku->sku, model_locations[location], quantity);
    sku->on_hand[location] += quantity;
}

static void model_reserve(struct harness_model *model, struct model_sku *sku, const char *id)
{
    int location = model_location_available(model, sku);
    if (location < 0 || sku->active_count == MODEL_ACTIVE_MAX) {
        model_receive(model, sku, id);
        return;
    }
    char id_text[sizeof(sku->active[0].id)];
    snprintf(id_text, sizeof(id_text), "r-%s-%d", sku->sku, sku->reservations_drawn++);
    struct model_reservation *reservation = &sku->active[sku->active_count++];
    memcpy(reservation->id, id_text, sizeof(id_text));
    reservation->location = location;
    reservation->quantity = model_between(model, 1, model_min(model_available(sku, location), 10));
    sku->reserved[location] += reservation->quantity;
    harness_command_reserve(&model->command, id, sku->sku, reservation->id, model_locations[location],
                            reservation->quantity, 0);
}

static void model_settle(struct harness_model *model, struct model_sku *sku, const char *id,
                         enum command_type type)
{
    if (sku->active_count == 0) {
        model_receive(model, sku, id);
        return;
    }
    int pick = (int)model_between(model, 0, sku->active_count - 1);
    sku->settled = sku->active[pick];
    sku->has_settled = true;
    sku->active[pick] = sku->active[--sku->active_count];
    sku->reserved[sku->settled.location] -= sku->settled.quantity;
    if (type == COMMAND_FULFIL_RESERVATION) sku->on_hand[sku->settled.location] -= sku->settled.quantity;
    harness_command_settle(&model->command, type, id, sku->sku, sku->settled.id);
}

static void model_transfer(struct harness_model *model, struct model_sku *sku, const char *id)
{
    int from = model_location_available(model, sku);
    if (from < 0) {
        model_receive(model, sku, id);
        return;
    }
    int to = (from + (int)model_between(model, 1, MODEL_LOCATIONS - 1)) % MODEL_LOCATIONS;
    int64_t quantity = model_between(model, 1, model_min(model_available(sku, from), 20));
    sku->on_hand[from] -= quantity;
    sku->on_hand[to] += quantity;
    harness_command_transfer(&model->command, id, sku->sku, model_locations[from], model_locations[to],
                             quantity);
}

static void model_adjust(struct harness_model *model, struct model_sku *sku, const char *id)
{
    int location = (int)model_between(model, 0, MODEL_LOCATIONS - 1);
    if (model_between(model, 0, 3) == 0) { /* a count: from what is reserved to a little more */
        int64_t counted =
            sku->reserved[location] + model_between(model, 0, model_available(sku, location) + 5);
        if (counted == sku->on_hand[location]) counted++;
        harness_command_adjust(&model->command, id, sku->sku, model_locations[location], true, counted,
                               "cycle count");
        sku->on_hand[location] = counted;
        return;
    }
    int64_t delta = model_available(sku, location) > 0 && model_between(model, 0, 1) == 0
                        ? -model_between(model, 1, model_min(model_available(sku, location), 5))
                        : model_between(model, 1, 5);
    harness_command_adjust(&model->command, id, sku->sku, model_locations[location], false, delta,
                           "damaged or found");
    sku->on_hand[location] += delta;
}

/* A command that must be rejected, for a reason the model knows. */
static void model_rejected(struct harness_model *model, struct model_sku *sku, const char *id)
{
    struct command *command = &model->command;
    int kind = (int)model_between(model, 0, 4);
    enum reject_reason reason = REJECT_SAME_LOCATION;
    if (kind == 0) {
        harness_command_create_sku(command, id, sku->sku, "Again", 0);
        reason = REJECT_SKU_EXISTS;
    } else if (kind == 1) {
        int location = (int)model_between(model, 0, MODEL_LOCATIONS - 1);
        harness_command_reserve(command, id, sku->sku, "r-too-big", model_locations[location],
                                model_available(sku, location) + 1, 0);
        reason = REJECT_INSUFFICIENT_STOCK;
    } else if (kind == 2) {
        harness_command_settle(command, COMMAND_RELEASE_RESERVATION, id, sku->sku, "r-never-made");
        reason = REJECT_UNKNOWN_RESERVATION;
    } else if (kind == 3 && sku->has_settled) {
        harness_command_settle(command, COMMAND_FULFIL_RESERVATION, id, sku->sku, sku->settled.id);
        reason = REJECT_RESERVATION_NOT_ACTIVE;
    } else if (sku->reservations_drawn > 0) {
        char reservation_id[32];
        snprintf(reservation_id, sizeof(reservation_id), "r-%s-0", sku->sku);
        harness_command_reserve(command, id, sku->sku, reservation_id, model_locations[0], 1, 0);
        reason = REJECT_RESERVATION_EXISTS;
    } else {
        harness_command_transfer(command, id, sku->sku, model_locations[1], model_locations[1], 1);
    }
    model->rejections[reason]++;
}

char *harness_model_next(struct harness_model *model, const char *command_id, char *sku_out, size_t sku_bytes)
{
    struct model_sku *sku = &model->skus[model_between(model, 0, model->sku_count - 1)];
    int roll = (int)model_between(model, 0, 99);
    if (!sku->created && roll < 3) {
        harness_command_receive(&model->command, command_id, sku->sku, model_locations[0], 1);
        model->rejections[REJECT_UNKNOWN_SKU]++;
    } else if (!sku->created) {
        harness_command_create_sku(&model->command, command_id, sku->sku, "Widget",
                                   model_between(model, 0, 20));
        sku->created = true;
    } else if (roll < 25) {
        model_receive(model, sku, command_id);
    } else if (roll < 55) {
        model_reserve(model, sku, command_id);
    } else if (roll < 65) {
        model_settle(model, sku, command_id, COMMAND_RELEASE_RESERVATION);
    } else if (roll < 80) {
        model_settle(model, sku, command_id, COMMAND_FULFIL_RESERVATION);
    } else if (roll < 88) {
        model_transfer(model, sku, command_id);
    } else if (roll < 95) {
        model_adjust(model, sku, command_id);
    } else {
        model_rejected(model, sku, command_id);
    }
    snprintf(sku_out, sku_bytes, "%s", sku->sku);
    char *json = codec_command_encode(&model->command);
    assert(json != NULL);
    return json;
}

int harness_model_check(struct harness *harness, const struct harness_model *model,
                        const struct harness_fold *fold)
{
    for (int i = 0; i < model->sku_count; i++) {
        const struct model_sku *expected = &model->skus[i];
        const struct sku_state *state = harness_fold_sku(fold, expected->sku);
        bool exists = state != NULL && state->exists;
        if (exists != expected->created) {
            snprintf(harness->error, sizeof(harness->error), "SKU %s: exists %d, the model says %d",
                     expected->sku, exists, expected->created);
            return -1;
        }
        for (int l = 0; l < MODEL_LOCATIONS && state != NULL; l++) {
            const struct location_stock *stock = domain_location_find(state, model_locations[l]);
            int64_t on_hand = stock != NULL ? stock->on_hand : 0;
            int64_t reserved = stock != NULL ? stock->reserved : 0;
            if (on_hand == expected->on_hand[l] && reserved == expected->reserved[l]) continue;
            snprintf(harness->error, sizeof(harness->error),
                     "SKU %s at %s: %lld on hand, %lld reserved; the model says %lld, %lld", expected->sku,
                     model_locations[l], (long long)on_hand, (long long)reserved,
                     (long long)expected->on_hand[l], (long long)expected->reserved[l]);
            return -1;
        }
    }
    for (int reason = 1; reason < REJECT_REASON_COUNT; reason++) {
        size_t found = harness_fold_reject_count(fold, (enum reject_reason)reason);
        if (found == model->rejections[reason]) continue;
        snprintf(harness->error, sizeof(harness->error), "%zu rejections %s, the model says %zu", found,
                 domain_reject_reason_code((enum reject_reason)reason), model->rejections[reason]);
        return -1;
    }
    return 0;
}
