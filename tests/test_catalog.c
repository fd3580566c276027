/* test_catalog.c - catalog data: normal text, attribute keys, GTIN check digits, the UpdateCatalog codec
 * and decision, FTS5 query quoting, and the catalog view's fold, merge, search and duplicates.
 *
 * The pure parts are tested on their own; the view on a fresh migrated database fed CatalogUpdated events
 * in transactions as the projector feeds them, queried through a read-only connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "domain/catalog.h"
#include "domain/codec.h"
#include "domain/domain.h"
#include "store/sqlite_util.h"
#include "views/catalog.h"
#include "views/query.h"
#include "verify_catalog.h"

#define NOW_MS INT64_C(1764000000000)

/* ---- normal text ----------------------------------------------------------------------------------------
 */

static void normal_is(const char *in, const char *expected)
{
    char out[64];
    const char *problem = NULL;
    int length = catalog_text_normalise(in, strlen(in), out, sizeof(out), &problem);
    if (length < 0) fail_msg("normalising \"%s\" refused: %s", in, problem);
    assert_string_equal(out, expected);
    assert_int_equal(length, (int)strlen(expected));
    assert_true(catalog_text_is_normal(out));
}

static void normal_refused(const char *in, size_t in_bytes, size_t out_bytes, const char *problem_expected)
{
    char out[64];
    const char *problem = NULL;
    assert_true(out_bytes <= sizeof(out));
    assert_int_equal(catalog_text_normalise(in, in_bytes, out, out_bytes, &problem), -1);
    assert_non_null(problem);
    assert_non_null(strstr(problem, problem_expected));
}

static void test_normalise_trims_and_collapses_unicode_white_space(void **state)
{
    (void)state;
    normal_is("  Blue   widget\t", "Blue widget");
    normal_is("\r\nBlue\n\nwidget\r\n", "Blue widget");
    normal_is("\xC2\xA0"
              "Blue\xE3\x80\x80\xE2\x80\x83widget\xC2\xA0",
              "Blue widget");                                           /* NBSP, U+3000, EM SP */
    normal_is("Caf\xC3\xA9  cr\xC3\xA8me", "Caf\xC3\xA9 cr\xC3\xA8me"); /* bytes kept as they are */
    normal_is("   ", "");
    normal_is("", "");
}

/* "é" composed (U+00E9) and decomposed ("e" + U+0301 COMBINING ACUTE ACCENT). */
#define E_ACUTE_NFC "\xC3\xA9"
#define E_ACUTE_NFD "e\xCC\x81"

static void test_normalise_composes_to_nfc(void **state)
{
    (void)state;
    normal_is(E_ACUTE_NFD, E_ACUTE_NFC);
    normal_is(E_ACUTE_NFC, E_ACUTE_NFC);
    normal_is("  Caf" E_ACUTE_NFD " \t cre\xCC\x80me  ", "Caf" E_ACUTE_NFC " cr\xC3\xA8me");
    normal_is("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", "\xEA\xB0\x81"); /* Hangul jamo G+A+G: one syllable */
    normal_is("\xE2\x84\xAB", "\xC3\x85");                             /* ANGSTROM SIGN: A with ring */
    normal_is("a\xCC\x82\xCC\xA3", "\xE1\xBA\xAD");                    /* marks reordered, then composed */
    normal_is("\xE0\xA5\x98", "\xE0\xA4\x95\xE0\xA4\xBC");             /* excluded from composition: grows */
    normal_is("e \xCC\x81", "e \xCC\x81"); /* a mark after a space composes with nothing */
}

static void test_nfc_refuses_invalid_utf8_and_growth_past_the_bound(void **state)
{
    (void)state;
    char out[8];
    const char *problem = NULL;
    assert_int_equal(catalog_text_nfc("\xE0\xA5\x98", out, sizeof(out), &problem), 6);
    assert_int_equal(catalog_text_nfc("\xE0\xA5\x98", out, 6, &problem), -1); /* 3 bytes in, 6 out */
    assert_string_equal(problem, "too long");
    assert_int_equal(catalog_text_nfc("e\xCC", out, sizeof(out), &problem), -1);
    assert_string_equal(problem, "not valid UTF-8");
    char text[16] = E_ACUTE_NFD "t" E_ACUTE_NFD; /* in place: out is the text itself */
    assert_int_equal(catalog_text_nfc(text, text, sizeof(text), &problem), 5);
    assert_string_equal(text, E_ACUTE_NFC "t" E_ACUTE_NFC);
}

static void test_normalise_refuses_bad_utf8_controls_and_overflow(void **state)
{
    (void)state;
    normal_refused("Blue \xC3", 6, 64, "UTF-8");             /* cut short */
    normal_refused("\xC0\xAF", 2, 64, "UTF-8");              /* overlong '/' */
    normal_refused("\xED\xA0\x80", 3, 64, "UTF-8");          /* surrogate */
    normal_refused("Blue\x01widget", 11, 64, "control");     /* C0 control that is not white space */
    normal_refused("Blue\xC2\x9Bwidget", 12, 64, "control"); /* C1 control */
    normal_refused("Blue\0widget", 11, 64, "control");       /* NUL inside the bytes */
    normal_refused("Blue widget", 11, 11, "too long");       /* the NUL needs a byte too */
}

static void test_text_is_normal_refuses_what_normalise_would_change(void **state)
{
    (void)state;
    assert_true(catalog_text_is_normal("Blue widget"));
    assert_true(catalog_text_is_normal(""));
    assert_false(catalog_text_is_normal(" Blue"));
    assert_false(catalog_text_is_normal("Blue "));
    assert_false(catalog_text_is_normal("Blue  widget"));
    assert_false(catalog_text_is_normal("Blue\twidget"));
    assert_false(catalog_text_is_normal("Blue\xC2\xA0widget"));
    assert_false(catalog_text_is_normal("Blue \xC3"));
}

static void test_key_normalise_lower_cases_and_joins_words(void **state)
{
    (void)state;
    char key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1];
    const char *problem = NULL;
    assert_int_equal(catalog_key_normalise("  Colour  Name ", 15, key, &problem), 11);
    assert_string_equal(key, "colour_name");
    assert_int_equal(catalog_key_normalise("GTIN", 4, key, &problem), 4);
    assert_string_equal(key, "gtin");
    assert_int_equal(catalog_key_normalise("Gr\xC3\xB6\xC3\x9F"
                                           "e",
                                           7, key, &problem),
                     -1);
    assert_int_equal(catalog_key_normalise("_size", 5, key, &problem), -1);
    assert_int_equal(catalog_key_normalise("   ", 3, key, &problem), -1);
    assert_non_null(strstr(problem, "empty"));
    char long_key[STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof(long_key));
    assert_int_equal(catalog_key_normalise(long_key, sizeof(long_key), key, &problem), -1);
}

/* ---- GTIN -----------------------------------------------------------------------------------------------
 */

static void test_gtin_check_digits_of_every_length(void **state)
{
    (void)state;
    assert_true(catalog_gtin_valid("4006381333931"));  /* EAN-13 */
    assert_true(catalog_gtin_valid("036000291452"));   /* UPC-A */
    assert_true(catalog_gtin_valid("96385074"));       /* GTIN-8 */
    assert_true(catalog_gtin_valid("00036000291452")); /* GTIN-14 */
    assert_false(catalog_gtin_valid("4006381333932")); /* wrong check digit */
    assert_false(catalog_gtin_valid("036000291453"));
    assert_false(catalog_gtin_valid("40063813339")); /* 11 digits */
    assert_false(catalog_gtin_valid("400638133393100"));
    assert_false(catalog_gtin_valid("40063813339x1"));
    assert_false(catalog_gtin_valid(""));
    assert_false(catalog_gtin_valid(" 4006381333931"));
}

static void test_gtin_canonical_pads_so_upc_and_ean_compare_equal(void **state)
{
    (void)state;
    char upc[CATALOG_GTIN_DIGITS + 1];
    char ean[CATALOG_GTIN_DIGITS + 1];
    catalog_gtin_canonical("036000291452", upc);
    catalog_gtin_canonical("0036000291452", ean);
    assert_string_equal(upc, "00036000291452");
    assert_string_equal(upc, ean);
}

/* ---- codec and decide -----------------------------------------------------------------------------------
 */

static void command_refused(const char *json, const char *field_or_message)
{
    struct command command;
    struct codec_error error;
    if (codec_command_decode(json, strlen(json), &command, &error) == 0) fail_msg("accepted: %s", json);
    if (strstr(error.message, field_or_message) == NULL)
        fail_msg("refusal of %s says \"%s\", not \"%s\"", json, error.message, field_or_message);
}

static void test_update_catalog_round_trips_with_sorted_attributes(void **state)
{
    (void)state;
    const char *json = "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":\"SKU-1\",\"data\":{"
                       "\"source\":\"erp\",\"name\":\"Blue widget\",\"attributes\":{\"size\":\"M\","
                       "\"gtin\":\"4006381333931\",\"colour\":\"blue\"}}}";
    struct command command;
    struct codec_error error;
    if (codec_command_decode(json, strlen(json), &command, &error) != 0) fail_msg("%s", error.message);
    assert_int_equal(command.type, COMMAND_UPDATE_CATALOG);
    assert_string_equal(command.catalog.source, "erp");
    assert_string_equal(command.name, "Blue widget");
    assert_string_equal(command.catalog.description, "");
    assert_int_equal(command.catalog.attribute_count, 3);
    assert_string_equal(command.catalog.attributes[0].key, "colour");
    assert_string_equal(command.catalog.attributes[1].key, "gtin");
    assert_string_equal(command.catalog.attributes[2].key, "size");
    char *encoded = codec_command_encode(&command);
    assert_string_equal(encoded,
                        "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":\"SKU-1\",\"data\":{"
                        "\"source\":\"erp\",\"name\":\"Blue widget\",\"attributes\":{\"colour\":\"blue\","
                        "\"gtin\":\"4006381333931\",\"size\":\"M\"}}}");
    struct command again;
    assert_int_equal(codec_command_decode(encoded, strlen(encoded), &again, &error), 0);
    assert_memory_equal(&again.catalog, &command.catalog, sizeof(command.catalog));
    free(encoded);
}

/* A client sending decomposed text gets what a client sending composed text gets: the same command, the
 * same canonical bytes (hence the same event and the same stored, searchable entry). */
static void test_update_catalog_stores_decomposed_text_composed(void **state)
{
    (void)state;
#define CATALOG_TEXTS(e)                                                                                     \
    "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":\"SKU-1\",\"data\":{\"source\":\"erp\","     \
    "\"name\":\"Caf" e "\",\"description\":\"Cr" e "me\",\"brand\":\"" e                                     \
    "co\",\"attributes\":{\"finish\":\"mat" e "\"}}}"
    const char *composed = CATALOG_TEXTS(E_ACUTE_NFC);
    const char *decomposed = CATALOG_TEXTS(E_ACUTE_NFD);
#undef CATALOG_TEXTS
    struct command from_nfc, from_nfd;
    struct codec_error error;
    if (codec_command_decode(composed, strlen(composed), &from_nfc, &error) != 0)
        fail_msg("%s", error.message);
    if (codec_command_decode(decomposed, strlen(decomposed), &from_nfd, &error) != 0)
        fail_msg("%s", error.message);
    assert_string_equal(from_nfd.name, "Caf" E_ACUTE_NFC);
    assert_string_equal(from_nfd.catalog.attributes[0].value, "mat" E_ACUTE_NFC);
    assert_memory_equal(&from_nfd.catalog, &from_nfc.catalog, sizeof(from_nfc.catalog));
    char *encoded_nfc = codec_command_encode(&from_nfc);
    char *encoded_nfd = codec_command_encode(&from_nfd);
    assert_string_equal(encoded_nfd, encoded_nfc);
    free(encoded_nfc);
    free(encoded_nfd);
    /* The same through the API's decoders: the envelope of /v1/commands, the body of /v1/skus/{sku}/catalog.
     */
    if (codec_command_request_decode(decomposed, strlen(decomposed), &from_nfd, &error) != 0)
        fail_msg("%s", error.message);
    assert_string_equal(from_nfd.catalog.brand, E_ACUTE_NFC "co");
    const char *body = "{\"source\":\"erp\",\"name\":\"Caf" E_ACUTE_NFD "\"}";
    if (codec_command_body_decode(COMMAND_UPDATE_CATALOG, body, strlen(body), CODEC_BODY_SKU_NONE, false,
                                  &from_nfd, &error) != 0)
        fail_msg("%s", error.message);
    assert_string_equal(from_nfd.name, "Caf" E_ACUTE_NFC);
}

static void test_update_catalog_refuses_what_is_not_clean(void **state)
{
    (void)state;
#define CATALOG_JSON(data)                                                                                   \
    "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":\"SKU-1\",\"data\":" data "}"
    command_refused(CATALOG_JSON("{\"name\":\"x\"}"), "data.source: missing");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"name\":\" Blue\"}"), "data.name: must be normalised");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"brand\":\"Acme  Inc\"}"), "data.brand");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"name\":\"\"}"), "must not be empty");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"attributes\":{\"Colour\":\"blue\"}}"), "lower-case");
    command_refused(
        CATALOG_JSON("{\"source\":\"erp\",\"attributes\":{\"colour\":\"blue\",\"colour\":\"red\"}}"),
        "duplicate key");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"attributes\":{\"colour\":1}}"), "strings");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"attributes\":{\"colour\":\"\"}}"), "1 to 128 bytes");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"attributes\":[\"blue\"]}"), "must be an object");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"attributes\":{\"gtin\":\"4006381333932\"}}"),
                    "data.attributes.gtin: must be 8, 12, 13 or 14 digits with a valid GS1 check digit");
    command_refused(CATALOG_JSON("{\"source\":\"e r p\"}"), "data.source");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"colour\":\"blue\"}"), "unknown key");
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"name\":\"Caf\xC3\"}"), "UTF-8");       /* cut short */
    command_refused(CATALOG_JSON("{\"source\":\"erp\",\"brand\":\"\xED\xA0\x80\"}"), "UTF-8"); /* surrogate */
    /* 40 x U+0958 is 120 bytes as sent, 240 once composed (it decomposes, and NFC keeps it apart). */
    char grows[1024];
    int length = snprintf(grows, sizeof(grows), "%s",
                          "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":\"SKU-1\","
                          "\"data\":{\"source\":\"erp\",\"attributes\":{\"script\":\"");
    for (int i = 0; i < 40; i++)
        length += snprintf(grows + length, sizeof(grows) - (size_t)length, "\xE0\xA5\x98");
    snprintf(grows + length, sizeof(grows) - (size_t)length, "\"}}}");
    command_refused(grows, "data.attributes.script: is longer than its bound once composed (NFC)");
    char json[4096];
    int used = snprintf(json, sizeof(json), "%s",
                        "{\"command_id\":\"c-1\",\"type\":\"UpdateCatalog\",\"sku\":"
                        "\"SKU-1\",\"data\":{\"source\":\"erp\",\"attributes\":{");
    for (int i = 0; i <= STOCKD_CATALOG_ATTRIBUTES_MAX; i++)
        used += snprintf(json + used, sizeof(json) - (size_t)used, "%s\"k%02d\":\"v\"", i ? "," : "", i);
    snprintf(json + used, sizeof(json) - (size_t)used, "}}}");
    command_refused(json, "more than 16 attributes");
#undef CATALOG_JSON
}

static void test_update_catalog_for_unknown_sku_is_rejected_and_for_known_one_emitted(void **state)
{
    (void)state;
    struct sku_state sku;
    struct reservation_set set = {.count = 0};
    domain_sku_state_init(&sku, "SKU-1");
    struct command command = {.type = COMMAND_UPDATE_CATALOG};
    strcpy(command.command_id, "c-1");
    strcpy(command.sku, "SKU-1");
    strcpy(command.catalog.source, "erp");
    strcpy(command.name, "Blue widget");
    assert_int_equal(catalog_attribute_put(&command.catalog, "gtin", "4006381333931"), 0);
    static struct decision decision;
    domain_decide(&sku, &set, &command, NOW_MS, &decision);
    assert_int_equal(decision.events[0].type, EVENT_COMMAND_REJECTED);
    assert_int_equal(decision.events[0].reject_reason, REJECT_UNKNOWN_SKU);

    sku.exists = true;
    strcpy(sku.name, "Widget");
    domain_decide(&sku, &set, &command, NOW_MS, &decision);
    assert_int_equal(decision.event_count, 1);
    const struct event *event = &decision.events[0];
    assert_int_equal(event->type, EVENT_CATALOG_UPDATED);
    assert_string_equal(event->name, "Blue widget");
    assert_memory_equal(&event->catalog, &command.catalog, sizeof(command.catalog));
    assert_int_equal(event->quantity, 0);
    assert_int_equal(domain_evolve(&sku, &set, event), 0);
    assert_int_equal(sku.sequence, 1);
    assert_string_equal(sku.name, "Widget"); /* the shard's name is CreateSku's; the catalog has its own */

    /* A command built in code with a wrong check digit never went through the codec: decide refuses it. */
    strcpy(command.catalog.attributes[0].value, "4006381333932");
    domain_decide(&sku, &set, &command, NOW_MS, &decision);
    assert_int_equal(decision.events[0].reject_reason, REJECT_INVALID_COMMAND);
    assert_non_null(strstr(decision.events[0].detail, "data.attributes.gtin: must be"));
}

/* ---- FTS5 quoting ---------------------------------------------------------------------------------------
 */

static void fts_is(const char *query, const char *expected)
{
    char out[VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1];
    char error[256];
    if (view_catalog_fts_query(query, strlen(query), out, sizeof(out), error, sizeof(error)) != 0)
        fail_msg("\"%s\" refused: %s", query, error);
    assert_string_equal(out, expected);
}

static void fts_refused(const char *query, size_t query_bytes, const char *message)
{
    char out[VIEW_CATALOG_FTS_QUERY_BYTES_MAX + 1];
    char error[256] = "";
    assert_int_equal(view_catalog_fts_query(query, query_bytes, out, sizeof(out), error, sizeof(error)),
                     VIEW_QUERY_INVALID);
    if (strstr(error, message) == NULL) fail_msg("refusal says \"%s\", not \"%s\"", error, message);
}

static void test_fts_query_quotes_every_term(void **state)
{
    (void)state;
    fts_is("blue widget", "\"blue\" \"widget\"");
    fts_is("  blue \t\n widget  ", "\"blue\" \"widget\"");
    fts_is("AND", "\"AND\""); /* an operator word is a plain word once quoted */
    fts_is("blue OR NOT red", "\"blue\" \"OR\" \"NOT\" \"red\"");
    fts_is("NEAR -x 3/4", "\"NEAR\" \"-x\" \"3/4\"");
    fts_is("caf\xC3\xA9", "\"caf\xC3\xA9\"");
}

static void test_fts_query_refuses_hostile_input(void **state)
{
    (void)state;
    fts_refused("blue\"", 5, "syntax");
    fts_refused("wid*", 4, "syntax");
    fts_refused("NEAR(a b)", 9, "syntax");
    fts_refused("name:blue", 9, "syntax");
    fts_refused("^blue", 5, "syntax");
    fts_refused("{name brand}: blue", 18, "syntax");
    fts_refused("a + b", 5, "syntax");
    fts_refused("", 0, "empty");
    fts_refused(" \t ", 3, "empty");
    fts_refused("blue\x01", 5, "control");
    fts_refused("blue \xFF", 6, "UTF-8");
    static char big[10 * 1024];
    memset(big, 'a', sizeof(big));
    fts_refused(big, sizeof(big), "longer than 256 bytes");
    fts_refused("a b c d e f g h i j k l m n o p q", 33, "more than 16 words");
}

/* ---- the view -------------------------------------------------------------------------------------------
 */

#define FIXTURE_EVENTS_MAX 32

struct fixture {
    char dir[256];
    char error[512];
    struct stockd_config config; /* catalog.source_precedence as the test sets it */
    sqlite3 *db;
    void *view;
    sqlite3 *reader;
    int generation;        /* of the database: a rebuild folds into a new one */
    uint64_t sequences[8]; /* per SKU-<n> */
    int64_t offset;
    struct event events[FIXTURE_EVENTS_MAX]; /* every event fed, for a rebuild and for verify */
    size_t event_count;
};

/* Opens a new catalog database <dir>/catalog-<generation>.db with the fixture's configuration, as the
 * projector opens a rebuild's. */
static void catalog_db_open(struct fixture *f)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/catalog-%d.db", f->dir, ++f->generation);
    f->db = sqlite_util_open(path, 1, f->error, sizeof(f->error));
    assert_non_null(f->db);
    assert_int_equal(sqlite_util_migrate(f->db, "views/catalog", f->error, sizeof(f->error)), 1);
    f->view = view_catalog_ops.open(f->db, &f->config, f->error, sizeof(f->error));
    if (f->view == NULL) fail_msg("%s", f->error);
    assert_int_equal(sqlite3_open_v2(path, &f->reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
}

static void catalog_db_close(struct fixture *f)
{
    view_catalog_ops.close(f->view);
    sqlite_util_cached_close(f->reader);
    sqlite3_close(f->db);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/stockd-test-catalog-XXXXXX");
    if (mkdtemp(f->dir) == NULL) return -1;
    stockd_config_defaults(&f->config);
    catalog_db_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    catalog_db_close(f);
    char command[400];
    snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
    int ignored = system(command);
    (void)ignored;
    free(f);
    return 0;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char error[256];
    if (sqlite_util_exec(db, sql, error, sizeof(error)) != 0) fail_msg("%s: %s", sql, error);
}

/* Folds one CatalogUpdated of SKU-<sku_index> from source: attributes as "key=value" strings, NULL-ended. */
static void catalog_feed(struct fixture *f, int sku_index, const char *source, const char *name,
                         const char *description, const char *brand, const char *const *attributes)
{
    struct event event = {.type = EVENT_CATALOG_UPDATED, .time_ms = NOW_MS};
    snprintf(event.sku, sizeof(event.sku), "SKU-%d", sku_index);
    event.sequence = ++f->sequences[sku_index];
    snprintf(event.command_id, sizeof(event.command_id), "c-%d-%llu", sku_index,
             (unsigned long long)event.sequence);
    snprintf(event.catalog.source, sizeof(event.catalog.source), "%s", source);
    snprintf(event.name, sizeof(event.name), "%s", name);
    snprintf(event.catalog.description, sizeof(event.catalog.description), "%s", description);
    snprintf(event.catalog.brand, sizeof(event.catalog.brand), "%s", brand);
    for (size_t i = 0; attributes != NULL && attributes[i] != NULL; i++) {
        char key[64];
        const char *equals = strchr(attributes[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(equals - attributes[i]), attributes[i]);
        assert_int_equal(catalog_attribute_put(&event.catalog, key, equals + 1), 0);
    }
    const char *field = NULL;
    assert_null(catalog_data_check(event.name, &event.catalog, &field));
    assert_true(f->event_count < FIXTURE_EVENTS_MAX);
    f->events[f->event_count++] = event;
    struct view_position position = {.partition = sku_index % 2, .offset = f->offset++};
    exec_ok(f->db, "BEGIN IMMEDIATE");
    if (view_catalog_ops.apply(f->view, &event, position, (struct view_json){NULL, 0}, f->error,
                               sizeof(f->error)) != 0)
        fail_msg("%s", f->error);
    exec_ok(f->db, "COMMIT");
}

/* Folds every event fed so far into a new database, with the fixture's configuration as it is now. */
static void catalog_rebuild(struct fixture *f)
{
    catalog_db_close(f);
    catalog_db_open(f);
    exec_ok(f->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; i < f->event_count; i++) {
        struct view_position position = {.partition = 0, .offset = (int64_t)i};
        if (view_catalog_ops.apply(f->view, &f->events[i], position, (struct view_json){NULL, 0}, f->error,
                                   sizeof(f->error)) != 0)
            fail_msg("%s", f->error);
    }
    exec_ok(f->db, "COMMIT");
}

static struct view_catalog_sku *catalog_get(struct fixture *f, const char *sku, int expected)
{
    struct view_catalog_sku *out = malloc(sizeof(*out));
    assert_non_null(out);
    exec_ok(f->reader, "BEGIN");
    int found = view_catalog_get(f->reader, sku, NULL, out, f->error, sizeof(f->error));
    exec_ok(f->reader, "COMMIT");
    if (found != expected) fail_msg("get %s: %d (%s)", sku, found, f->error);
    return out;
}

static int search(struct fixture *f, const char *query, const char *cursor, uint32_t limit,
                  struct view_catalog_hits *out)
{
    exec_ok(f->reader, "BEGIN");
    int count = view_catalog_search(f->reader, query, cursor, limit, out, f->error, sizeof(f->error));
    exec_ok(f->reader, "COMMIT");
    return count;
}

static void test_view_merges_sources_most_recent_value_first(void **state)
{
    struct fixture *f = *state;
    catalog_feed(f, 1, "erp", "Widget 1", "A widget", "Acme",
                 (const char *const[]){"colour=blue", "size=M", NULL});
    catalog_feed(f, 1, "shop", "Blue widget", "", "", (const char *const[]){"colour=navy", NULL});
    struct view_catalog_sku *entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "Blue widget");     /* shop is more recent */
    assert_string_equal(entry->merged.description, "A widget"); /* shop has none: erp's */
    assert_string_equal(entry->merged.brand, "Acme");
    assert_int_equal(entry->merged.attribute_count, 2);
    assert_string_equal(entry->merged.attributes[0].key, "colour");
    assert_string_equal(entry->merged.attributes[0].value, "navy");
    assert_string_equal(entry->merged.attributes[0].source, "shop");
    assert_string_equal(entry->merged.attributes[1].value, "M");
    assert_string_equal(entry->merged.attributes[1].source, "erp");
    assert_int_equal(entry->source_count, 2);
    assert_string_equal(entry->sources[0].source, "shop");
    assert_string_equal(entry->sources[1].source, "erp");
    assert_int_equal(entry->sources[1].attribute_count, 2);
    free(entry);

    /* erp speaks again: now it is the most recent for every field it has. */
    catalog_feed(f, 1, "erp", "Widget one", "A widget", "Acme", (const char *const[]){"colour=blue", NULL});
    entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "Widget one");
    assert_int_equal(entry->merged.attribute_count, 1);
    assert_string_equal(entry->merged.attributes[0].value, "blue");
    free(entry);

    /* Both withdraw: the SKU has no entry and is found by no search. */
    catalog_feed(f, 1, "erp", "", "", "", NULL);
    catalog_feed(f, 1, "shop", "", "", "", NULL);
    free(catalog_get(f, "SKU-1", 0));
    struct view_catalog_hits *hits = malloc(sizeof(*hits));
    assert_int_equal(search(f, "widget", NULL, 10, hits), 0);
    free(hits);
}

static void test_search_ranks_name_above_description_and_pages_by_cursor(void **state)
{
    struct fixture *f = *state;
    catalog_feed(f, 1, "erp", "Garden hose", "Goes well with a blue widget", "Acme", NULL);
    catalog_feed(f, 2, "erp", "Blue widget", "A widget, blue", "Acme", NULL);
    catalog_feed(f, 3, "erp", "Red widget", "Not blue at all", "Acme", NULL);
    catalog_feed(f, 4, "erp", "Blue widget deluxe", "", "Widgetco",
                 (const char *const[]){"colour=blue", NULL});
    catalog_feed(f, 5, "erp", "Spanner", "", "Acme", NULL);
    struct view_catalog_hits *hits = malloc(sizeof(*hits));
    assert_int_equal(search(f, "blue widget", NULL, 10, hits), 4);
    assert_string_equal(hits->items[0].sku, "SKU-2"); /* both words in the name, and in the description */
    assert_string_equal(hits->items[3].sku, "SKU-1"); /* only in the description */
    assert_string_equal(hits->next_cursor, "");
    for (uint32_t i = 1; i < hits->count; i++)
        assert_true(hits->items[i - 1].score <= hits->items[i].score);

    /* One at a time through the cursor: the same hits in the same order, none twice. */
    struct view_catalog_hits *page = malloc(sizeof(*page));
    char cursor[VIEW_CURSOR_BYTES_MAX + 1] = "";
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(search(f, "blue widget", cursor, 1, page), 1);
        assert_string_equal(page->items[0].sku, hits->items[i].sku);
        snprintf(cursor, sizeof(cursor), "%s", page->next_cursor);
        assert_true(i == 3 ? cursor[0] == '\0' : cursor[0] != '\0');
    }
    /* A cursor is bound to its query, and a made-up one is refused, never a crash. */
    assert_int_equal(search(f, "blue widget", NULL, 1, page), 1);
    assert_int_equal(search(f, "red widget", page->next_cursor, 1, page), VIEW_QUERY_INVALID);
    assert_non_null(strstr(f->error, "another query"));
    assert_int_equal(search(f, "blue", "c3ppppp", 1, page), VIEW_QUERY_INVALID);
    /* Case and diacritics fold; operator words and lone punctuation are plain words. */
    assert_int_equal(search(f, "BLUE WIDGET", NULL, 10, page), 4);
    assert_int_equal(search(f, "AND", NULL, 10, page), 0);
    assert_int_equal(search(f, "NEAR OR NOT", NULL, 10, page), 0);
    assert_int_equal(search(f, "- .", NULL, 10, page), 0);
    assert_int_equal(search(f, "widget(", NULL, 10, page), VIEW_QUERY_INVALID);
    free(page);
    free(hits);
}

static void test_duplicates_group_skus_that_share_a_gtin(void **state)
{
    struct fixture *f = *state;
    catalog_feed(f, 1, "erp", "Cola 330 ml", "", "", (const char *const[]){"gtin=036000291452", NULL});
    catalog_feed(f, 2, "shop", "Cola can", "", "",
                 (const char *const[]){"gtin=0036000291452", NULL}); /* EAN-13 */
    catalog_feed(f, 3, "erp", "Lemonade", "", "", (const char *const[]){"gtin=4006381333931", NULL});
    catalog_feed(f, 3, "shop", "Lemonade", "", "", (const char *const[]){"gtin=4006381333931", NULL});
    catalog_feed(f, 4, "erp", "Water", "", "", (const char *const[]){"gtin=96385074", NULL});
    catalog_feed(f, 5, "erp", "Water too", "", "", (const char *const[]){"gtin=96385074", NULL});
    struct view_catalog_duplicates *page = malloc(sizeof(*page));
    exec_ok(f->reader, "BEGIN");
    int count = view_catalog_duplicates_list(f->reader, NULL, 1, page, f->error, sizeof(f->error));
    assert_int_equal(count, 1);
    assert_string_equal(page->items[0].gtin, "00000096385074");
    assert_int_equal(page->items[0].claim_count, 2);
    assert_string_equal(page->items[0].claims[0].sku, "SKU-4");
    assert_string_equal(page->items[0].claims[1].sku, "SKU-5");
    char cursor[VIEW_CURSOR_BYTES_MAX + 1];
    snprintf(cursor, sizeof(cursor), "%s", page->next_cursor);
    assert_int_equal(view_catalog_duplicates_list(f->reader, cursor, 10, page, f->error, sizeof(f->error)),
                     1);
    assert_string_equal(page->items[0].gtin, "00036000291452"); /* UPC-A and EAN-13 of one product */
    assert_int_equal(page->items[0].claim_count, 2);
    assert_string_equal(page->items[0].claims[0].source, "erp");
    assert_string_equal(page->items[0].claims[1].source, "shop");
    assert_string_equal(page->next_cursor, ""); /* SKU-3's two sources agree on one SKU: no duplicate */
    assert_int_equal(view_catalog_duplicates_list(f->reader, "bad", 10, page, f->error, sizeof(f->error)),
                     VIEW_QUERY_INVALID);
    exec_ok(f->reader, "COMMIT");
    free(page);
}

static void precedence_set(struct fixture *f, const char *list)
{
    snprintf(f->config.catalog_source_precedence, sizeof(f->config.catalog_source_precedence), "%s", list);
}

/* erp outranks pim; shop and web are not named. */
static void feed_four_sources(struct fixture *f)
{
    catalog_feed(f, 1, "erp", "ERP widget", "", "", (const char *const[]){"colour=blue", NULL});
    catalog_feed(f, 1, "pim", "PIM widget", "", "Acme", NULL);
    catalog_feed(f, 1, "shop", "Shop widget", "Shop text", "Shopco",
                 (const char *const[]){"colour=navy", "size=M", NULL});
    catalog_feed(f, 1, "web", "Web widget", "Web text", "", (const char *const[]){"size=L", NULL});
}

static void test_view_merges_by_configured_precedence_then_recency(void **state)
{
    struct fixture *f = *state;
    precedence_set(f, "erp, pim");
    catalog_rebuild(f); /* nothing fed yet: the view as a projector with this setting opens it */
    feed_four_sources(f);
    struct view_catalog_sku *entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "ERP widget");      /* erp's, though three sources spoke later */
    assert_string_equal(entry->merged.brand, "Acme");           /* erp has none: pim's, over later shop's */
    assert_string_equal(entry->merged.description, "Web text"); /* no named source has one: most recent */
    assert_int_equal(entry->merged.attribute_count, 2);
    assert_string_equal(entry->merged.attributes[0].value, "blue"); /* colour: erp over shop */
    assert_string_equal(entry->merged.attributes[0].source, "erp");
    assert_string_equal(entry->merged.attributes[1].value, "L"); /* size: unnamed only, web most recent */
    assert_string_equal(entry->merged.attributes[1].source, "web");
    free(entry);

    /* A lower-ranked source's later word changes nothing erp holds; erp leaving the name lets pim's show. */
    catalog_feed(f, 1, "pim", "PIM widget 2", "", "Acme", (const char *const[]){"colour=teal", NULL});
    entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "ERP widget");
    assert_string_equal(entry->merged.attributes[0].value, "blue");
    free(entry);
    catalog_feed(f, 1, "erp", "", "", "", (const char *const[]){"colour=blue", NULL});
    entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "PIM widget 2");
    free(entry);
}

static void test_precedence_change_applies_on_rebuild(void **state)
{
    struct fixture *f = *state;
    feed_four_sources(f); /* no precedence: the most recent source with a value wins */
    struct view_catalog_sku *entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "Web widget");
    assert_string_equal(entry->merged.brand, "Shopco");
    free(entry);
    precedence_set(f, "pim,erp");
    catalog_rebuild(f);
    entry = catalog_get(f, "SKU-1", 1);
    assert_string_equal(entry->merged.name, "PIM widget");
    assert_string_equal(entry->merged.brand, "Acme");
    assert_string_equal(entry->merged.attributes[0].source, "erp");
    free(entry);
}

static void test_view_refuses_a_malformed_precedence(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = sqlite_util_open(":memory:", 1, f->error, sizeof(f->error));
    assert_non_null(db);
    precedence_set(f, "erp,,web");
    assert_null(view_catalog_ops.open(db, &f->config, f->error, sizeof(f->error)));
    assert_non_null(strstr(f->error, "catalog.source_precedence"));
    sqlite3_close(db);
}

static void difference_count(void *context, const char *text)
{
    (void)text;
    ++*(int *)context;
}

/* Runs stockctl verify's catalog fold over every event fed, with precedence list, against the view. */
static int verify_differences(struct fixture *f, const char *list)
{
    struct catalog_precedence precedence;
    char reason[128];
    assert_int_equal(catalog_precedence_parse(list, &precedence, reason, sizeof(reason)), 0);
    struct verify_catalog *catalog = verify_catalog_create(&precedence);
    assert_non_null(catalog);
    for (size_t i = 0; i < f->event_count; i++)
        assert_int_equal(verify_catalog_add(catalog, &f->events[i]), 0);
    int differences = 0;
    exec_ok(f->reader, "BEGIN");
    assert_int_equal(verify_catalog_compare(catalog, f->reader, difference_count, &differences, f->error,
                                            sizeof(f->error)),
                     0);
    exec_ok(f->reader, "COMMIT");
    verify_catalog_destroy(catalog);
    return differences;
}

static void test_verify_folds_with_the_same_precedence_as_the_view(void **state)
{
    struct fixture *f = *state;
    precedence_set(f, "erp,pim");
    catalog_rebuild(f);
    feed_four_sources(f);
    catalog_feed(f, 1, "pim", "PIM widget 2", "", "Acme", (const char *const[]){"colour=teal", NULL});
    assert_int_equal(verify_differences(f, "erp,pim"), 0);
    assert_int_equal(verify_differences(f, "erp, pim "), 0);
    assert_true(verify_differences(f, "") > 0);        /* most recent wins: name and brand differ */
    assert_true(verify_differences(f, "pim,erp") > 0); /* pim first: the name differs */
}

static void test_precedence_parse_refuses_what_config_must_refuse(void **state)
{
    (void)state;
    struct catalog_precedence precedence;
    char reason[160];
    assert_int_equal(catalog_precedence_parse(" erp , pim,web", &precedence, reason, sizeof(reason)), 0);
    assert_int_equal(precedence.count, 3);
    assert_string_equal(precedence.sources[1], "pim");
    assert_int_equal(catalog_precedence_rank(&precedence, "web"), 2);
    assert_int_equal(catalog_precedence_rank(&precedence, "shop"), 3);
    assert_true(catalog_precedence_wins(&precedence, "erp", 1, "web", 9));
    assert_true(catalog_precedence_wins(&precedence, "shop", 9, "feed", 1)); /* both unnamed: recency */
    assert_int_equal(catalog_precedence_parse("", &precedence, reason, sizeof(reason)), 0);
    assert_int_equal(precedence.count, 0);
    assert_int_equal(catalog_precedence_parse("erp,,web", &precedence, reason, sizeof(reason)), -1);
    assert_int_equal(catalog_precedence_parse("erp,", &precedence, reason, sizeof(reason)), -1);
    assert_int_equal(catalog_precedence_parse("erp,ERP,erp", &precedence, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "twice"));
    assert_int_equal(catalog_precedence_parse("e r p", &precedence, reason, sizeof(reason)), -1);
    assert_int_equal(catalog_precedence_parse("-erp", &precedence, reason, sizeof(reason)), -1);
    char many[1024] = "";
    for (int i = 0; i <= STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%ss%d", i ? "," : "", i);
    assert_int_equal(catalog_precedence_parse(many, &precedence, reason, sizeof(reason)), -1);
    assert_non_null(strstr(reason, "more than 16"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalise_trims_and_collapses_unicode_white_space),
        cmocka_unit_test(test_normalise_composes_to_nfc),
        cmocka_unit_test(test_nfc_refuses_invalid_utf8_and_growth_past_the_bound),
        cmocka_unit_test(test_normalise_refuses_bad_utf8_controls_and_overflow),
        cmocka_unit_test(test_text_is_normal_refuses_what_normalise_would_change),
        cmocka_unit_test(test_key_normalise_lower_cases_and_joins_words),
        cmocka_unit_test(test_gtin_check_digits_of_every_length),
        cmocka_unit_test(test_gtin_canonical_pads_so_upc_and_ean_compare_equal),
        cmocka_unit_test(test_update_catalog_round_trips_with_sorted_attributes),
        cmocka_unit_test(test_update_catalog_stores_decomposed_text_composed),
        cmocka_unit_test(test_update_catalog_refuses_what_is_not_clean),
        cmocka_unit_test(test_update_catalog_for_unknown_sku_is_rejected_and_for_known_one_emitted),
        cmocka_unit_test(test_fts_query_quotes_every_term),
        cmocka_unit_test(test_fts_query_refuses_hostile_input),
        cmocka_unit_test_setup_teardown(test_view_merges_sources_most_recent_value_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_ranks_name_above_description_and_pages_by_cursor, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_group_skus_that_share_a_gtin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_merges_by_configured_precedence_then_recency, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_precedence_change_applies_on_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_view_refuses_a_malformed_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_folds_with_the_same_precedence_as_the_view, setup,
                                        teardown),
        cmocka_unit_test(test_precedence_parse_refuses_what_config_must_refuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
