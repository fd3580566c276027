/* fuzz_codec_event.c - libFuzzer target: the event decoder (strict path and compact fast path) on arbitrary
 * bytes.
 *
 * Beyond "no crash": an accepted event encodes, its encoding decodes to the same encoding, and the compact
 * path accepts only what the strict path accepts, and then only the canonical encoding (codec.h's contract of
 * codec_event_decode_compact; it may leave an encoding with escaped strings to the strict path). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    struct event event;
    struct codec_error error;
    bool strict_ok = codec_event_decode(json, size, &event, &error) == 0;
    struct event compact;
    if (codec_event_decode_compact(json, size, &compact) == 0) {
        char *encoded = codec_event_encode(&compact);
        if (!strict_ok ||
            (encoded != NULL && (strlen(encoded) != size || memcmp(encoded, json, size) != 0))) {
            fprintf(stderr, "the compact path accepted what the strict path refuses or is not canonical\n");
            abort();
        }
        free(encoded);
    }
    if (!strict_ok) return 0;
    char *encoded = codec_event_encode(&event);
    if (encoded == NULL) return 0;
    struct event again;
    if (codec_event_decode(encoded, strlen(encoded), &again, &error) != 0) {
        fprintf(stderr, "an accepted event does not decode after encoding:\n%s\n", encoded);
        abort();
    }
    char *encoded_again = codec_event_encode(&again);
    if (encoded_again != NULL && strcmp(encoded, encoded_again) != 0) {
        fprintf(stderr, "encoding differs after a round trip:\n%s\n%s\n", encoded, encoded_again);
        abort();
    }
    free(encoded_again);
    free(encoded);
    return 0;
}
