/* catalog.c - normal text, NFC, attribute keys, GTIN check digits and source precedence for catalog data.
 *
 * Pure and bounded: every function reads its input a bounded number of times and writes into the caller's
 * buffer (NFC goes through a code point buffer on the stack). The codec and decide use the checks;
 * stockctl import uses the normalisers on rows from elsewhere. */
#include "domain/catalog.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <utf8proc.h>

#include "domain/codec.h"

/* Unicode's White_Space property (PropList.txt): the code points that count as space when trimming and
 * collapsing. U+FEFF (a byte order mark inside text) is not white space there, and not here. */
static bool code_point_is_space(uint32_t code_point)
{
    return (code_point >= 0x09 && code_point <= 0x0D) || code_point == 0x20 || code_point == 0x85 ||
           code_point == 0xA0 || code_point == 0x1680 || (code_point >= 0x2000 && code_point <= 0x200A) ||
           code_point == 0x2028 || code_point == 0x2029 || code_point == 0x202F || code_point == 0x205F ||
           code_point == 0x3000;
}

/* Controls that are not white space: refused in catalog text, as the codec refuses them in any text. */
static bool code_point_is_control(uint32_t code_point)
{
    return code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F);
}

/* Trims and collapses white space (catalog_text_normalise without NFC). Returns the length, or -1. */
static int text_fold(const char *in, size_t in_bytes, char *out, size_t out_bytes, const char **problem)
{
    assert(in != NULL || in_bytes == 0);
    assert(out != NULL && out_bytes > 0 && problem != NULL);
    const unsigned char *bytes = (const unsigned char *)in;
    size_t length = 0;
    bool space_pending = false; /* white space seen after some text: one U+0020 if more text follows */
    for (size_t index = 0; index < in_bytes;) {
        uint32_t code_point = 0;
        size_t sequence_length = codec_utf8_sequence_decode(bytes + index, in_bytes - index, &code_point);
        if (sequence_length == 0) {
            *problem = "not valid UTF-8";
            return -1;
        }
        if (code_point_is_space(code_point)) {
            space_pending = length > 0;
            index += sequence_length;
            continue;
        }
        if (code_point_is_control(code_point)) {
            *problem = "contains a control character";
            return -1;
        }
        if (length + (space_pending ? 1 : 0) + sequence_length >= out_bytes) {
            *problem = "too long";
            return -1;
        }
        if (space_pending) out[length++] = ' ';
        space_pending = false;
        memcpy(out + length, bytes + index, sequence_length);
        length += sequence_length;
        index += sequence_length;
    }
    out[length] = '\0';
    return (int)length;
}

/* utf8proc's NFC: canonical decomposition, canonical order, canonical composition, never composing what
 * the Unicode stability policy excludes. */
#define CATALOG_NFC_OPTIONS (UTF8PROC_STABLE | UTF8PROC_COMPOSE)

int catalog_text_nfc(const char *text, char *out, size_t out_bytes, const char **problem)
{
    assert(text != NULL && out != NULL && out_bytes > 0 && problem != NULL);
    /* reencode writes UTF-8 (at most 4 bytes a code point) and a NUL over the code points: one spare. */
    utf8proc_int32_t code_points[CATALOG_TEXT_CODE_POINTS_MAX + 1];
    size_t length = strlen(text);
    if (length > CATALOG_TEXT_FOLDED_BYTES_MAX) {
        *problem = "too long";
        return -1;
    }
    utf8proc_ssize_t count =
        utf8proc_decompose((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)length, code_points,
                           CATALOG_TEXT_CODE_POINTS_MAX, CATALOG_NFC_OPTIONS);
    if (count < 0 || count > CATALOG_TEXT_CODE_POINTS_MAX) {
        *problem = count == UTF8PROC_ERROR_INVALIDUTF8 ? "not valid UTF-8" : "too long";
        return -1;
    }
    utf8proc_ssize_t bytes = utf8proc_reencode(code_points, count, CATALOG_NFC_OPTIONS);
    assert(bytes >= 0); /* decompose produced only valid code points */
    if ((size_t)bytes >= out_bytes) {
        *problem = "too long";
        return -1;
    }
    memcpy(out, code_points, (size_t)bytes + 1);
    return (int)bytes;
}

/* White space and NFC commute: no White_Space character composes with anything or carries a combining
 * class, and the two that decompose (U+2000, U+2001) decompose into white space; so the text is folded
 * first, which bounds what NFC reads by the fold buffer rather than by the raw input (a CSV field may
 * hold kilobytes of padding). */
int catalog_text_normalise(const char *in, size_t in_bytes, char *out, size_t out_bytes, const char **problem)
{
    assert(in != NULL || in_bytes == 0);
    assert(out != NULL && out_bytes > 0 && problem != NULL);
    char folded[CATALOG_TEXT_FOLDED_BYTES_MAX + 1];
    if (text_fold(in, in_bytes, folded, sizeof(folded), problem) < 0) return -1;
    return catalog_text_nfc(folded, out, out_bytes, problem);
}

bool catalog_text_is_normal(const char *text)
{
    assert(text != NULL);
    size_t length = strlen(text);
    const unsigned char *bytes = (const unsigned char *)text;
    bool previous_space = true; /* a space at the start is as wrong as two in a row */
    for (size_t index = 0; index < length;) {
        uint32_t code_point = 0;
        size_t sequence_length = codec_utf8_sequence_decode(bytes + index, length - index, &code_point);
        if (sequence_length == 0) return false;
        bool space = code_point_is_space(code_point);
        if (space && (code_point != ' ' || previous_space)) return false;
        if (!space && code_point_is_control(code_point)) return false;
        previous_space = space;
        index += sequence_length;
    }
    return !previous_space || length == 0;
}

static bool key_byte_valid(char byte, bool first)
{
    bool alnum = (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9');
    return alnum || (!first && (byte == '_' || byte == '.' || byte == '-'));
}

bool catalog_key_valid(const char *key)
{
    assert(key != NULL);
    size_t length = strnlen(key, STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1);
    if (length == 0 || length > STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX) return false;
    for (size_t index = 0; index < length; index++) {
        if (!key_byte_valid(key[index], index == 0)) return false;
    }
    return true;
}

int catalog_key_normalise(const char *in, size_t in_bytes,
                          char out[static STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1], const char **problem)
{
    assert(problem != NULL);
    int length =
        catalog_text_normalise(in, in_bytes, out, STOCKD_CATALOG_ATTRIBUTE_KEY_BYTES_MAX + 1, problem);
    if (length < 0) return -1;
    for (int index = 0; index < length; index++) {
        if (out[index] >= 'A' && out[index] <= 'Z') out[index] = (char)(out[index] - 'A' + 'a');
        if (out[index] == ' ') out[index] = '_';
    }
    if (!catalog_key_valid(out)) {
        *problem = length == 0
                       ? "attribute key is empty"
                       : "attribute key must be [a-z0-9_.-] (after lower-casing) starting with a letter "
                         "or digit";
        return -1;
    }
    return length;
}

bool catalog_gtin_valid(const char *text)
{
    assert(text != NULL);
    size_t length = strnlen(text, CATALOG_GTIN_DIGITS + 1);
    if (length != 8 && length != 12 && length != 13 && length != 14) return false;
    /* GS1: from the right, the digits before the check digit weigh 3, 1, 3, 1, ... */
    unsigned sum = 0;
    for (size_t index = 0; index < length; index++) {
        if (text[index] < '0' || text[index] > '9') return false;
        if (index == length - 1) break;
        unsigned digit = (unsigned)(text[index] - '0');
        size_t from_right = length - 1 - index; /* 1 for the digit next to the check digit */
        sum += from_right % 2 == 1 ? 3 * digit : digit;
    }
    unsigned check = (10 - sum % 10) % 10;
    return (unsigned)(text[length - 1] - '0') == check;
}

void catalog_gtin_canonical(const char *gtin, char out[static CATALOG_GTIN_DIGITS + 1])
{
    assert(catalog_gtin_valid(gtin));
    size_t length = strlen(gtin);
    memset(out, '0', CATALOG_GTIN_DIGITS - length);
    memcpy(out + CATALOG_GTIN_DIGITS - length, gtin, length + 1);
}

const char *catalog_attribute_get(const struct catalog_data *data, const char *key)
{
    assert(data != NULL && key != NULL);
    assert(data->attribute_count <= STOCKD_CATALOG_ATTRIBUTES_MAX);
    for (uint32_t index = 0; index < data->attribute_count; index++) {
        if (strcmp(data->attributes[index].key, key) == 0) return data->attributes[index].value;
    }
    return NULL;
}

int catalog_attribute_put(struct catalog_data *data, const char *key, const char *value)
{
    assert(data != NULL && catalog_key_valid(key));
    assert(value != NULL && strlen(value) <= STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX);
    assert(data->attribute_count <= STOCKD_CATALOG_ATTRIBUTES_MAX);
    uint32_t index = 0;
    while (index < data->attribute_count && strcmp(data->attributes[index].key, key) < 0)
        index++;
    struct catalog_attribute *slot = &data->attributes[index];
    if (index == data->attribute_count || strcmp(slot->key, key) != 0) {
        if (data->attribute_count == STOCKD_CATALOG_ATTRIBUTES_MAX) return -1;
        memmove(slot + 1, slot, (data->attribute_count - index) * sizeof(*slot));
        data->attribute_count++;
        memset(slot->key, 0, sizeof(slot->key)); /* every byte set: equal data compare equal bytewise */
        strcpy(slot->key, key);                  /* fits: catalog_key_valid bounds it */
    }
    memset(slot->value, 0, sizeof(slot->value));
    strcpy(slot->value, value); /* fits: asserted above */
    return 0;
}

/* Whether a text of at most max_bytes (in a buffer of max_bytes + 1) is normal: an absent field is "". */
static bool text_field_valid(const char *text, size_t max_bytes)
{
    return strnlen(text, max_bytes + 1) <= max_bytes && catalog_text_is_normal(text);
}

const char *catalog_data_check(const char *name, const struct catalog_data *data, const char **field)
{
    assert(name != NULL && data != NULL && field != NULL);
    static const char normal[] = "must be normalised text: no leading, trailing or repeated white space, no "
                                 "white space but U+0020";
    *field = "data";
    if (!codec_identifier_valid(data->source, STOCKD_CATALOG_SOURCE_BYTES_MAX)) {
        *field = "data.source";
        return "must be 1 to 32 of [A-Za-z0-9._:-] starting with a letter or digit";
    }
    const struct {
        const char *field;
        const char *text;
        size_t max_bytes;
    } texts[] = {
        {"data.name", name, STOCKD_NAME_BYTES_MAX},
        {"data.description", data->description, STOCKD_CATALOG_DESCRIPTION_BYTES_MAX},
        {"data.brand", data->brand, STOCKD_CATALOG_BRAND_BYTES_MAX},
    };
    for (size_t index = 0; index < sizeof(texts) / sizeof(texts[0]); index++) {
        if (!text_field_valid(texts[index].text, texts[index].max_bytes)) {
            *field = texts[index].field;
            return normal;
        }
    }
    *field = "data.attributes";
    if (data->attribute_count > STOCKD_CATALOG_ATTRIBUTES_MAX) return "too many attributes";
    for (uint32_t index = 0; index < data->attribute_count; index++) {
        const struct catalog_attribute *attribute = &data->attributes[index];
        if (!catalog_key_valid(attribute->key))
            return "a key must be 1 to 32 of [a-z0-9_.-] starting with a letter or digit";
        if (index > 0 && strcmp(data->attributes[index - 1].key, attribute->key) >= 0)
            return "keys must be unique";
        if (attribute->value[0] == '\0' ||
            !text_field_valid(attribute->value, STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX))
            return "a value must be non-empty normalised text: no leading, trailing or repeated white space, "
                   "no "
                   "white space but U+0020";
    }
    const char *gtin = catalog_attribute_get(data, CATALOG_GTIN_KEY);
    if (gtin != NULL && !catalog_gtin_valid(gtin)) {
        *field = "data.attributes.gtin";
        return "must be 8, 12, 13 or 14 digits with a valid GS1 check digit";
    }
    return NULL;
}

/* Rewrites one text of bound max_bytes (its buffer holds max_bytes + 1) to NFC in place. */
static const char *text_field_nfc(char *text, size_t max_bytes)
{
    const char *problem = NULL;
    if (catalog_text_nfc(text, text, max_bytes + 1, &problem) >= 0) return NULL;
    return strcmp(problem, "too long") == 0 ? "is longer than its bound once composed (NFC)" : problem;
}

const char *catalog_data_nfc(char name[static STOCKD_NAME_BYTES_MAX + 1], struct catalog_data *data,
                             char *field, size_t field_bytes)
{
    assert(data != NULL && field != NULL && field_bytes > 0);
    assert(data->attribute_count <= STOCKD_CATALOG_ATTRIBUTES_MAX);
    const char *problem = NULL;
    if ((problem = text_field_nfc(name, STOCKD_NAME_BYTES_MAX)) != NULL) {
        snprintf(field, field_bytes, "data.name");
    } else if ((problem = text_field_nfc(data->description, STOCKD_CATALOG_DESCRIPTION_BYTES_MAX)) != NULL) {
        snprintf(field, field_bytes, "data.description");
    } else if ((problem = text_field_nfc(data->brand, STOCKD_CATALOG_BRAND_BYTES_MAX)) != NULL) {
        snprintf(field, field_bytes, "data.brand");
    }
    for (uint32_t index = 0; problem == NULL && index < data->attribute_count; index++) {
        struct catalog_attribute *attribute = &data->attributes[index];
        problem = text_field_nfc(attribute->value, STOCKD_CATALOG_ATTRIBUTE_VALUE_BYTES_MAX);
        if (problem != NULL) snprintf(field, field_bytes, "data.attributes.%s", attribute->key);
    }
    return problem;
}

/* ---- precedence of sources ------------------------------------------------------------------------------
 */

int catalog_precedence_parse(const char *text, struct catalog_precedence *out, char *reason,
                             size_t reason_bytes)
{
    assert(text != NULL && out != NULL && reason != NULL);
    memset(out, 0, sizeof(*out));
    const char *cursor = text + strspn(text, " ");
    if (*cursor == '\0') return 0;
    for (uint32_t position = 1;; position++) {
        size_t length = strcspn(cursor, ",");
        const char *next = cursor + length;
        while (length > 0 && cursor[length - 1] == ' ')
            length--;
        char name[STOCKD_CATALOG_SOURCE_BYTES_MAX + 1];
        if (length == 0 || length > STOCKD_CATALOG_SOURCE_BYTES_MAX) {
            snprintf(reason, reason_bytes, "source %u: must be 1 to %d of [A-Za-z0-9._:-]", position,
                     STOCKD_CATALOG_SOURCE_BYTES_MAX);
            return -1;
        }
        memcpy(name, cursor, length);
        name[length] = '\0';
        if (!codec_identifier_valid(name, STOCKD_CATALOG_SOURCE_BYTES_MAX)) {
            snprintf(reason, reason_bytes,
                     "source %u (%s): must be [A-Za-z0-9._:-] starting with a letter or "
                     "digit",
                     position, name);
            return -1;
        }
        if (catalog_precedence_rank(out, name) < out->count) {
            snprintf(reason, reason_bytes, "source %s is named twice", name);
            return -1;
        }
        if (out->count == STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX) {
            snprintf(reason, reason_bytes, "more than %d sources", STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX);
            return -1;
        }
        memcpy(out->sources[out->count++], name, length + 1);
        if (*next == '\0') return 0;
        cursor = next + 1 + strspn(next + 1, " ");
    }
}

uint32_t catalog_precedence_rank(const struct catalog_precedence *precedence, const char *source)
{
    assert(precedence != NULL && source != NULL);
    assert(precedence->count <= STOCKD_CATALOG_PRECEDENCE_SOURCES_MAX);
    uint32_t rank = 0;
    while (rank < precedence->count && strcmp(precedence->sources[rank], source) != 0)
        rank++;
    return rank;
}

bool catalog_precedence_wins(const struct catalog_precedence *precedence, const char *a, uint64_t a_sequence,
                             const char *b, uint64_t b_sequence)
{
    assert(precedence != NULL && a != NULL && b != NULL);
    uint32_t a_rank = catalog_precedence_rank(precedence, a);
    uint32_t b_rank = catalog_precedence_rank(precedence, b);
    if (a_rank != b_rank) return a_rank < b_rank;
    return a_sequence > b_sequence;
}
