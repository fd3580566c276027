/* json_scan.c - one pass over raw JSON bytes for what cJSON lets through or would choke on.
 *
 * Tracks string and escape state, the open objects and arrays, and the dotted path of the current value,
 * so that the codec can name the field a problem is in before cJSON has parsed anything. Grammar errors
 * it does not look for are left to cJSON. */
#include "domain/json_scan.h"

#include "domain/number.h"

#include <assert.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct scan_frame {
    size_t path_length; /* length of the path before this container's members were appended */
    bool is_object;
    bool expect_key; /* object: the next string is a key */
    uint32_t index;  /* array: index of the current element */
};

struct scanner {
    const unsigned char *bytes;
    size_t length;
    size_t position; /* of the byte being looked at; of the problem once one is found */
    int depth_max;
    int depth; /* open objects and arrays, frames[0 .. depth - 1] */
    struct scan_frame frames[STOCKD_JSON_DEPTH_MAX];
    bool in_key;
    bool cut_short; /* the input ended inside a string */
    char path[STOCKD_JSON_PATH_BYTES_MAX + 1];
    size_t path_length;
};

/* Appends bytes to the path, cutting what does not fit. */
static void path_append(struct scanner *scanner, const char *text, size_t text_length)
{
    size_t room = STOCKD_JSON_PATH_BYTES_MAX - scanner->path_length;
    size_t copied = text_length < room ? text_length : room;
    memcpy(scanner->path + scanner->path_length, text, copied);
    scanner->path_length += copied;
    scanner->path[scanner->path_length] = '\0';
}

/* Cuts the path back to a length it had before. */
static void path_cut(struct scanner *scanner, size_t path_length)
{
    assert(path_length <= scanner->path_length);
    scanner->path_length = path_length;
    scanner->path[path_length] = '\0';
}

/* Appends "[index]" for the current element of an array frame. */
static void path_append_index(struct scanner *scanner, const struct scan_frame *frame)
{
    char text[16];
    int text_length = snprintf(text, sizeof(text), "[%" PRIu32 "]", frame->index);
    assert(text_length > 0 && (size_t)text_length < sizeof(text));
    path_append(scanner, text, (size_t)text_length);
}

/* [0-9] whatever the locale says. */
static bool byte_is_digit(unsigned char byte)
{
    return byte >= '0' && byte <= '9';
}

/* Consumes a run of digits from *position; returns how many there were. */
static size_t digits_skip(const unsigned char *text, size_t length, size_t *position)
{
    size_t start = *position;
    while (*position < length && byte_is_digit(text[*position]))
        (*position)++;
    return *position - start;
}

/* True when text[0 .. length) is a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number_valid(const unsigned char *text, size_t length)
{
    size_t position = 0;
    if (position < length && text[position] == '-') position++;
    if (position < length && text[position] == '0') {
        position++;
    } else if (digits_skip(text, length, &position) == 0) {
        return false;
    }
    if (position < length && text[position] == '.') {
        position++;
        if (digits_skip(text, length, &position) == 0) return false;
    }
    if (position < length && (text[position] == 'e' || text[position] == 'E')) {
        position++;
        if (position < length && (text[position] == '+' || text[position] == '-')) position++;
        if (digits_skip(text, length, &position) == 0) return false;
    }
    return position == length;
}

/* Checks the number token at the current position (a '-' or a digit) and steps over it. */
static enum json_scan_problem scan_number(struct scanner *scanner)
{
    size_t start = scanner->position;
    size_t end = start;
    while (end < scanner->length && strchr("0123456789+-.eE", scanner->bytes[end]) != NULL &&
           scanner->bytes[end] != '\0') {
        end++;
    }
    if (!number_valid(scanner->bytes + start, end - start)) return JSON_SCAN_BAD_NUMBER;
    if (number_json_integer((const char *)scanner->bytes + start, end - start, NULL) == NUMBER_NOT_INTEGER)
        return JSON_SCAN_NOT_INTEGER;
    scanner->position = end;
    return JSON_SCAN_OK;
}

/* Looks at one byte of a string after the opening quote: escapes, NUL and control bytes, the end. Sets
 * *done at the closing quote. Key bytes go into the path. */
static enum json_scan_problem scan_string_byte(struct scanner *scanner, bool *done)
{
    const unsigned char *bytes = scanner->bytes;
    unsigned char byte = bytes[scanner->position];
    if (byte == '\0') return JSON_SCAN_NUL_BYTE;
    if (byte < 0x20) return JSON_SCAN_CONTROL_BYTE;
    if (byte == '"') {
        scanner->position++;
        *done = true;
        return JSON_SCAN_OK;
    }
    if (byte != '\\') {
        if (scanner->in_key) path_append(scanner, byte > 0x20 && byte < 0x7f ? (const char *)&byte : "?", 1);
        scanner->position++;
        return JSON_SCAN_OK;
    }
    /* An escape: the byte after the backslash is looked at here, so "\\u0000" is not mistaken for one. */
    if (scanner->position + 1 >= scanner->length) {
        scanner->position++;
        return JSON_SCAN_OK; /* unterminated: cJSON reports it */
    }
    unsigned char escaped = bytes[scanner->position + 1];
    if (escaped == 'u' && scanner->length - scanner->position >= 6 &&
        memcmp(bytes + scanner->position + 2, "0000", 4) == 0) {
        return JSON_SCAN_NUL_ESCAPE;
    }
    scanner->position++; /* the escaped byte is checked for NUL and control on the next call */
    if (scanner->in_key) path_append(scanner, "?", 1);
    if (escaped >= 0x20) scanner->position++;
    return JSON_SCAN_OK;
}

/* Scans a string from its opening quote to just past its closing quote. A string where an object
 * expects a key becomes the last segment of the path. */
static enum json_scan_problem scan_string(struct scanner *scanner)
{
    struct scan_frame *frame = scanner->depth > 0 ? &scanner->frames[scanner->depth - 1] : NULL;
    scanner->in_key = frame != NULL && frame->is_object && frame->expect_key;
    if (scanner->in_key) {
        path_cut(scanner, frame->path_length);
        if (frame->path_length > 0) path_append(scanner, ".", 1);
    }
    scanner->position++;
    bool done = false;
    while (!done && scanner->position < scanner->length) {
        enum json_scan_problem problem = scan_string_byte(scanner, &done);
        if (problem != JSON_SCAN_OK) return problem;
    }
    scanner->in_key = false;
    scanner->cut_short = !done;
    return JSON_SCAN_OK;
}

/* Opens an object or array, unless depth_max of them are open already. */
static enum json_scan_problem scan_open(struct scanner *scanner, bool is_object)
{
    if (scanner->depth >= scanner->depth_max) return JSON_SCAN_TOO_DEEP;
    struct scan_frame *frame = &scanner->frames[scanner->depth++];
    *frame = (struct scan_frame){.path_length = scanner->path_length, .is_object = is_object};
    frame->expect_key = is_object;
    if (!is_object) path_append_index(scanner, frame);
    return JSON_SCAN_OK;
}

/* Looks at one byte outside strings and numbers: structure, whitespace, NUL and control bytes. */
static enum json_scan_problem scan_structural(struct scanner *scanner)
{
    unsigned char byte = scanner->bytes[scanner->position];
    struct scan_frame *frame = scanner->depth > 0 ? &scanner->frames[scanner->depth - 1] : NULL;
    if (byte == '\0') return JSON_SCAN_NUL_BYTE;
    if (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') return JSON_SCAN_CONTROL_BYTE;
    if (byte == '{' || byte == '[') {
        enum json_scan_problem problem = scan_open(scanner, byte == '{');
        if (problem != JSON_SCAN_OK) return problem;
    } else if ((byte == '}' || byte == ']') && frame != NULL) {
        path_cut(scanner, frame->path_length);
        scanner->depth--;
    } else if (byte == ':' && frame != NULL && frame->is_object) {
        frame->expect_key = false;
    } else if (byte == ',' && frame != NULL) {
        path_cut(scanner, frame->path_length);
        frame->expect_key = frame->is_object;
        if (!frame->is_object) {
            frame->index++;
            path_append_index(scanner, frame);
        }
    }
    scanner->position++;
    return JSON_SCAN_OK;
}

/* Fills *out for a problem at the scanner's position. Returns -1. */
static int scan_report(const struct scanner *scanner, enum json_scan_problem problem,
                       struct json_scan_result *out)
{
    const struct scan_frame *frame = scanner->depth > 0 ? &scanner->frames[scanner->depth - 1] : NULL;
    out->problem = problem;
    out->offset = scanner->position;
    out->in_key = scanner->in_key;
    size_t path_length = scanner->in_key ? frame->path_length : scanner->path_length;
    memcpy(out->path, scanner->path, path_length);
    out->path[path_length] = '\0';
    return -1;
}

/* Contract in json_scan.h. */
int json_scan(const char *bytes, size_t length, int depth_max, struct json_scan_result *out)
{
    assert(bytes != NULL || length == 0);
    assert(depth_max >= 1 && depth_max <= STOCKD_JSON_DEPTH_MAX);
    assert(out != NULL);
    memset(out, 0, sizeof(*out));
    struct scanner scanner = {
        .bytes = (const unsigned char *)bytes, .length = length, .depth_max = depth_max};
    while (scanner.position < length) {
        unsigned char byte = scanner.bytes[scanner.position];
        enum json_scan_problem problem;
        if (byte == '"') {
            problem = scan_string(&scanner);
        } else if (byte == '-' || byte_is_digit(byte)) {
            problem = scan_number(&scanner);
        } else {
            problem = scan_structural(&scanner);
        }
        if (problem != JSON_SCAN_OK) return scan_report(&scanner, problem, out);
    }
    out->cut_short = scanner.cut_short || scanner.depth > 0;
    return 0;
}
