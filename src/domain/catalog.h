/* catalog.h - the pure rules of catalog data: normal text, NFC, attribute keys, GTIN check digits, the
 * precedence of sources.
 *
 * What an UpdateCatalog command must satisfy (the codec and decide check it) and what stockctl import
 * does to raw rows from other systems before it sends them. No I/O, no allocation, no locale: bytes in,
 * bytes out. Unicode normalisation (NFC) uses utf8proc's tables (a pure library, no I/O), on the stack. */
#ifndef STOCKD_CATALOG_H
#define STOCKD_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include "domain/domain.h"

/* A GTIN in its canonical form: 14 digits, shorter ones (GTIN-8, UPC-A, EAN-13) padded with leading
 * zeros, so that one product's UPC-A and EAN-13 compare equal. */
#define CATALOG_GTIN_DIGITS 14

/* The attribute whose value is checked as a GTIN (EAN-13 and UPC-A are GTINs). */
#define CATALOG_GTIN_KEY "gtin"

/* Folded text is read into a buffer of this many bytes before NFC: the longest catalog text (a 512-byte
 * description) may arrive decomposed, and NFC shrinks text at most 3 times (Hangul: jamo L+V+T, 9 bytes,
 * compose into one 3-byte syllable), so 4 times the longest text is read; longer folded text is refused
 * as too long. */
#define CATALOG_TEXT_FOLDED_BYTES_MAX (4 * STOCKD_CATALOG_DESCRIPTION_BYTES_MAX)

/* Code points of a decomposed text (utf8proc works on UTF-32): NFC text of the longest field decomposes
 * into far fewer (at most 4 code points per 3-byte character), and the buffer is 8 KiB of stack. */
#define CATALOG_TEXT_CODE_POINTS_MAX 2048

/* Normalises free text: Unicode NFC (canonical composition: "e" + U+0301 becomes U+00E9), then drops
 * leading and trailing white space and turns every inner run of white space into one U+0020. White space
 * is Unicode's White_Space property (ASCII space, tab, line breaks, NBSP, U+2000..U+200A, U+3000, ...).
 * Refuses (returns -1 with *problem set to a static message) text that is not well-formed UTF-8, holds
 * another control character, or whose result does not fit out_bytes (which includes the NUL). Returns the
 * result's length. in need not be NUL-terminated. */
int catalog_text_normalise(const char *in, size_t in_bytes, char *out, size_t out_bytes,
                           const char **problem);

/* Writes the NFC form of text (NUL-terminated, well-formed UTF-8) into out. Returns its length, or -1
 * with *problem ("not valid UTF-8", "too long") when text is not UTF-8 or the result does not fit
 * out_bytes (which includes the NUL). out may be text itself: the result is written after it is read. */
int catalog_text_nfc(const char *text, char *out, size_t out_bytes, const char **problem);

/* Rewrites every text of an UpdateCatalog (name, description, brand, attribute values) to NFC in place,
 * so that a client sending decomposed text stores what a client sending composed text stores. Returns
 * NULL, or a static message with *field set to the envelope path of the text that is not UTF-8 or no
 * longer fits its bound once composed ("data.attributes.colour"; the field buffer holds the path). */
const char *catalog_data_nfc(char name[static STOCKD_NAME_BYTES_MAX + 1], struct catalog_data *data,
                             char *field, size_t field_bytes);

/* Whether text (NUL-terminated) is already what catalog_text_normalise makes of it. */
bool catalog_text_is_normal(const char *text);

/* Normalises an attribute key: normal text, ASCII letters lower-cased, spaces turned into '_'. Refuses
 * (-1, *problem) what then is not 1..STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX of [a-z0-9_.-] starting with
 * a letter or digit. Returns the key's length. */
int catalog_key_normalise(const char *in, size_t in_bytes,
                          char out[static STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1], const char **problem);

/* Whether key is a valid attribute key (what catalog_key_normalise returns). */
bool catalog_key_valid(const char *key);

/* Whether text is a GTIN-8, -12, -13 or -14: that many ASCII digits whose last is the GS1 check digit. */
bool catalog_gtin_valid(const char *text);

/* Writes the canonical 14-digit form of a valid GTIN (asserted) into out. */
void catalog_gtin_canonical(const char *gtin, char out[static CATALOG_GTIN_DIGITS + 1]);

/* The value of an attribute of data, or NULL. */
const char *catalog_attribute_get(const struct catalog_data *data, const char *key);

/* Puts key = value into data, replacing the key's value or inserting it in key order. Returns 0, or -1
 * when data already holds STOCKD_CATALOG_ATTRIBUTES_MAX other keys. Both must be valid (asserted). */
int catalog_attribute_put(struct catalog_data *data, const char *key, const char *value);

/* Checks catalog data and the name that goes with it, as UpdateCatalog and CatalogUpdated carry them:
 * source an identifier, texts normal, attributes in strictly ascending key order with valid keys and
 * non-empty normal values, a gtin attribute with a valid check digit. Returns NULL when valid, or a
 * static message with *field set to the envelope path at fault ("data.attributes.gtin"). */
const char *catalog_data_check(const char *name, const struct catalog_data *data, const char **field);

/* The configured order of sources (catalog.source_precedence): sources[0] outranks sources[1], and so on;
 * a source not named ranks below every named one. count 0: no order, the most recent source wins. */
struct catalog_precedence {
    uint32_t count;
    char sources[STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX][STOCKD_CATALOG_SOURCE_BYTES_MAX + 1];
};

/* Parses "erp, pim,web" (a comma-separated list of source identifiers, highest first; spaces around a
 * name are ignored; "" is the empty order) into out. Returns 0, or -1 with a reason (an empty or
 * malformed name, one named twice, more than STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX). */
int catalog_precedence_parse(const char *text, struct catalog_precedence *out, char *reason,
                             size_t reason_bytes);

/* The rank of a source: its index in the list, or precedence->count when it is not named. */
uint32_t catalog_precedence_rank(const struct catalog_precedence *precedence, const char *source);

/* Whether what source a said at sequence a_sequence wins over what source b said at b_sequence: the lower
 * rank wins; at equal rank, the higher sequence (the more recent word). Sequences of one SKU are unique. */
bool catalog_precedence_wins(const struct catalog_precedence *precedence, const char *a, uint64_t a_sequence,
                             const char *b, uint64_t b_sequence);

#endif
