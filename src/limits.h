/* limits.h - every bound stockd enforces, in one place, each with its reason.
 *
 * Untrusted input is checked against these; code that relies on them asserts. Changing one is a
 * compatibility decision: events already on the topic were validated against the old value. */
#ifndef STOCKD_LIMITS_H
#define STOCKD_LIMITS_H

#include <stdint.h>

/* Identifiers (SKU, location, command id, reservation id) are keys in Kafka, file-free SQLite keys and
 * URL path segments: short, printable, no separators that need escaping. */
#define STOCKD_SKU_BYTES_MAX      64
#define STOCKD_LOCATION_BYTES_MAX 64
#define STOCKD_ID_BYTES_MAX       128

/* Free text (SKU name, adjustment reason, rejection detail) is shown to people, not parsed. */
#define STOCKD_NAME_BYTES_MAX   256
#define STOCKD_REASON_BYTES_MAX 256
#define STOCKD_DETAIL_BYTES_MAX 256

/* One command moves at most a billion units: far above any real warehouse movement, and small enough
 * that a location's on-hand (bounded below) plus one command never overflows int64. */
#define STOCKD_QUANTITY_MAX INT64_C(1000000000)

/* On-hand per (SKU, location) stays below 10^15: sums of a million such values still fit in int64 and
 * every value is exactly representable as a JSON number (< 2^53). */
#define STOCKD_ON_HAND_MAX INT64_C(1000000000000000)

/* Reorder points are quantities of stock on hand. */
#define STOCKD_REORDER_POINT_MAX STOCKD_ON_HAND_MAX

/* A SKU's lead time (days from ordering stock to receiving it) is optional (0: unknown) and at most ten
 * years: enough for any supplier, small enough that lead time times daily demand stays far from overflow. */
#define STOCKD_LEAD_TIME_DAYS_MAX 3650

/* The SKU aggregate is loaded whole for each decision; locations per SKU are bounded so that a decision
 * is O(1) in memory and the state fits on the stack. */
#define STOCKD_LOCATIONS_PER_SKU_MAX 32

/* A reservation may live at most 30 days before the punctuator expires it. */
#define STOCKD_RESERVATION_TTL_S_MAX (30 * 24 * 3600)

/* One ExpireReservations decision covers at most this many reservations of one SKU; the punctuator
 * issues more decisions when more are due. */
#define STOCKD_EXPIRE_BATCH_MAX 16

/* A decision emits at most one event per reservation it expires (or one otherwise). */
#define STOCKD_DECISION_EVENTS_MAX STOCKD_EXPIRE_BATCH_MAX

/* A command or event envelope is a few hundred bytes; 64 KiB leaves room and bounds the parser. */
#define STOCKD_MESSAGE_BYTES_MAX (64 * 1024)

/* Envelopes are at most three levels deep (envelope -> data -> nothing deeper); 8 rejects abuse early,
 * before cJSON recurses. */
#define STOCKD_JSON_DEPTH_MAX 8

/* A field path in a codec error ("data.quantity", "data.name[0]") fits struct codec_error.field (64
 * bytes) with its NUL; longer paths (only possible with unknown keys) are cut, never overflowed. */
#define STOCKD_JSON_PATH_BYTES_MAX 63

/* Sequence numbers and timestamps travel as JSON numbers: keep them exact (2^53 - 1). */
#define STOCKD_JSON_INTEGER_MAX INT64_C(9007199254740991)

/* Configuration: a file is small; passthrough librdkafka properties are few. */
#define STOCKD_CONFIG_FILE_BYTES_MAX   (256 * 1024)
#define STOCKD_CONFIG_PROPERTIES_MAX   64
#define STOCKD_CONFIG_STRING_BYTES_MAX 1024

/* Partitions of by-sku and events: each is one SQLite shard file per owning instance. */
#define STOCKD_PARTITIONS_MAX 1024

/* Copies of a topic (kafka.replication_factor, kafka.min_insync_replicas): production runs 3; more than a
 * few dozen brokers holding one partition is a mistyped number, not a plan. */
#define STOCKD_REPLICATION_FACTOR_MAX 32

/* Threads of one stage of an instance (handler.threads, router.threads): each is a consumer in the stage's
 * group with its own transactional producer and librdkafka threads, so a few per core is already too many;
 * more threads than partitions leave the extra ones idle. */
#define STOCKD_STAGE_THREADS_MAX 64

/* Catalog data (UpdateCatalog, CatalogUpdated): descriptive text from other systems. A source names the
 * system it came from (an identifier); a description is a paragraph, not a document; attributes are a
 * small flat map of lower-case keys to short strings (colour, size, gtin), bounded so that one event's
 * JSON stays under VIEW_EVENT_JSON_BYTES_MAX (src/views/query.h) even with every string escaped. */
#define STOCKD_CATALOG_SOURCE_BYTES_MAX          32
#define STOCKD_CATALOG_DESCRIPTION_BYTES_MAX     512
#define STOCKD_CATALOG_BRAND_BYTES_MAX           128
#define STOCKD_CATALOG_ATTRIBUTES_MAX            16
#define STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX   32
#define STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX 128

/* A search query (GET /v1/skus?q=) is a few words typed by a person: longer ones are refused with 400,
 * never cut, so that a 10 KB query cannot make FTS5 do 10 KB of work. */
#define STOCKD_CATALOG_QUERY_BYTES_MAX 256
#define STOCKD_CATALOG_QUERY_TERMS_MAX 16
/* catalog.source_precedence names the sources that outrank the others: a shop has a handful of systems
 * (ERP, PIM, web shop, a few supplier feeds); sixteen is several times that. */
#define STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX 16
/* Orders (src/domain/order.h): an order id is a Kafka key and part of its lines' derived command ids
 * ("order:<order_id>:<line>:release"), which must fit STOCKD_ID_BYTES_MAX. A cart of 32 lines covers real
 * orders; the whole order state is loaded for each decision and fits on the stack. */
#define STOCKD_ORDER_ID_BYTES_MAX 64
#define STOCKD_ORDER_LINES_MAX    32

_Static_assert(STOCKD_QUANTITY_MAX < STOCKD_ON_HAND_MAX, "one command fits in a location");
_Static_assert(STOCKD_ON_HAND_MAX + STOCKD_QUANTITY_MAX < STOCKD_JSON_INTEGER_MAX, "sums stay exact");
_Static_assert(STOCKD_DECISION_EVENTS_MAX >= 1, "a decision emits at least one event");

_Static_assert(STOCKD_CATALOG_SOURCE_BYTES_MAX <= STOCKD_ID_BYTES_MAX, "a source is an identifier");
_Static_assert(STOCKD_CATALOG_QUERY_TERMS_MAX * 2 < STOCKD_CATALOG_QUERY_BYTES_MAX, "terms need bytes");
_Static_assert((STOCKD_CATALOG_SOURCE_BYTES_MAX + 1) * STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX <
                   STOCKD_CONFIG_STRING_BYTES_MAX,
               "a full catalog.source_precedence fits a configuration string");
_Static_assert(sizeof("order:") - 1 + STOCKD_ORDER_ID_BYTES_MAX + sizeof(":99:release") - 1 <=
                   STOCKD_ID_BYTES_MAX,
               "an order line's command id fits a command id");
_Static_assert(STOCKD_ORDER_LINES_MAX <= 99, "line numbers have at most two digits");

#endif
