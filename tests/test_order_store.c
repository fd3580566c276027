/* test_order_store.c - the order stage's SQLite shard (src/store/order_store.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain/order.h"
#include "store/order_store.h"
#include "store/sqlite_util.h"

#define SAGA_TIMEOUT_MS 30000

struct fixture {
    char data_dir[256];
    char error[512];
    struct order_store *store;
};

static int setup(void **state)
{
    sqlite_util_process_init();
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL) return -1;
    snprintf(f->data_dir, sizeof(f->data_dir), "/tmp/stockd-test-order-store-XXXXXX");
    if (mkdtemp(f->data_dir) == NULL) return -1;
    f->store = order_store_open(f->data_dir, 2, f->error, sizeof(f->error));
    if (f->store == NULL) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    order_store_close(f->store);
    char command[512];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->data_dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static struct order_state placed(const char *order_id, int64_t submitted_ms)
{
    struct order_state state;
    memset(&state, 0, sizeof(state));
    struct order_input input;
    memset(&input, 0, sizeof(input));
    input.type = ORDER_INPUT_PLACE;
    snprintf(input.order_id, sizeof(input.order_id), "%s", order_id);
    input.submitted_ms = submitted_ms;
    input.line_count = 1;
    snprintf(input.lines[0].sku, sizeof(input.lines[0].sku), "SKU-1");
    snprintf(input.lines[0].location, sizeof(input.lines[0].location), "WH-1");
    input.lines[0].quantity = 3;
    struct order_effects effects;
    order_apply(&state, &input, &effects);
    return state;
}

static void test_saved_order_loads_and_reads_with_its_checkpoint(void **state)
{
    struct fixture *f = *state;
    struct order_state order = placed("o-1", 1000);
    assert_int_equal(order_store_checkpoint(f->store), 0);
    assert_int_equal(order_store_begin(f->store, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_save(f->store, &order, 7, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    struct order_state loaded;
    assert_int_equal(order_store_load(f->store, "o-1", &loaded, f->error, sizeof(f->error)), 1);
    assert_memory_equal(&loaded, &order, sizeof(order));
    assert_int_equal(order_store_load(f->store, "o-2", &loaded, f->error, sizeof(f->error)), 0);
    assert_int_equal(loaded.status, ORDER_STATUS_NONE);
    assert_int_equal(order_store_commit(f->store, 8, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_checkpoint(f->store), 8);
    int64_t checkpoint = 0;
    assert_int_equal(
        order_store_read(f->data_dir, 2, "o-1", &loaded, &checkpoint, f->error, sizeof(f->error)), 1);
    assert_int_equal(checkpoint, 8);
    assert_memory_equal(&loaded, &order, sizeof(order));
    /* A partition whose file does not exist yet holds nothing. */
    assert_int_equal(
        order_store_read(f->data_dir, 5, "o-1", &loaded, &checkpoint, f->error, sizeof(f->error)), 0);
}

static void test_rollback_forgets_the_batch(void **state)
{
    struct fixture *f = *state;
    struct order_state order = placed("o-1", 1000);
    assert_int_equal(order_store_begin(f->store, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_save(f->store, &order, 0, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    order_store_rollback(f->store);
    struct order_state loaded;
    assert_int_equal(order_store_load(f->store, "o-1", &loaded, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_checkpoint(f->store), 0);
}

static void test_deadline_due_once_then_forgotten_until_it_settles(void **state)
{
    struct fixture *f = *state;
    struct order_state early = placed("early", 1000);
    struct order_state late = placed("late", 5000);
    assert_int_equal(order_store_begin(f->store, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_save(f->store, &late, 0, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_save(f->store, &early, 1, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    char due[4][STOCKD_ORDER_ID_BYTES_MAX + 1];
    assert_int_equal(
        order_store_due(f->store, 1000 + SAGA_TIMEOUT_MS - 1, due, 4, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_due(f->store, 5000 + SAGA_TIMEOUT_MS, due, 4, f->error, sizeof(f->error)),
                     2);
    assert_string_equal(due[0], "early"); /* soonest first */
    assert_int_equal(order_store_due(f->store, 5000 + SAGA_TIMEOUT_MS, due, 1, f->error, sizeof(f->error)),
                     1);
    assert_int_equal(order_store_deadline_sent(f->store, "early", f->error, sizeof(f->error)), 0);
    /* An outcome for the still placing order keeps its deadline forgotten: one OrderDeadline is enough. */
    assert_int_equal(order_store_save(f->store, &early, 2, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_due(f->store, 5000 + SAGA_TIMEOUT_MS, due, 4, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(due[0], "late");
    /* A settled order has no deadline. */
    late.status = ORDER_STATUS_CONFIRMED;
    late.lines[0].status = ORDER_LINE_RESERVED;
    assert_int_equal(order_store_save(f->store, &late, 3, SAGA_TIMEOUT_MS, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_due(f->store, INT64_C(1) << 50, due, 4, f->error, sizeof(f->error)), 0);
    assert_int_equal(order_store_commit(f->store, 4, f->error, sizeof(f->error)), 0);
}

static void test_file_of_another_partition_is_refused(void **state)
{
    struct fixture *f = *state;
    char from[512];
    char to[512];
    assert_int_equal(order_store_path(f->data_dir, 2, from, sizeof(from)), 0);
    assert_int_equal(order_store_path(f->data_dir, 4, to, sizeof(to)), 0);
    order_store_close(f->store);
    f->store = NULL;
    assert_int_equal(rename(from, to), 0);
    assert_null(order_store_open(f->data_dir, 4, f->error, sizeof(f->error)));
    assert_non_null(strstr(f->error, "opened as partition 4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_saved_order_loads_and_reads_with_its_checkpoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback_forgets_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_due_once_then_forgotten_until_it_settles, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_of_another_partition_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
