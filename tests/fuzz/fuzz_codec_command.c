/* fuzz_codec_command.c - libFuzzer target: the command decoders (envelope, POST /v1/commands body, route
 * bodies) on arbitrary bytes.
 *
 * Beyond "no crash, no sanitizer report": whatever a decoder accepts must encode, and the encoding must
 * decode back to the same encoding (what the API produces is what the handler reads). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/codec.h"
#include "domain/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a finding) unless command encodes and its encoding decodes to the same encoding. */
static void round_trip_check(const struct command *command)
{
    char *encoded = codec_command_encode(command);
    if (encoded == NULL) return; /* out of memory: not a finding */
    struct command again;
    struct codec_error error;
    if (codec_command_decode(encoded, strlen(encoded), &again, &error) != 0) {
        fprintf(stderr, "accepted command does not decode after encoding: %s\n%s\n", error.message, encoded);
        abort();
    }
    char *encoded_again = codec_command_encode(&again);
    if (encoded_again != NULL && strcmp(encoded, encoded_again) != 0) {
        fprintf(stderr, "encoding differs after a round trip:\n%s\n%s\n", encoded, encoded_again);
        abort();
    }
    free(encoded_again);
    free(encoded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    struct command command;
    struct codec_error error;
    if (codec_command_decode(json, size, &command, &error) == 0) round_trip_check(&command);
    /* What the API takes from a client (a command id, and no id of the order stage's) the handler reads. */
    if (codec_command_request_decode(json, size, &command, &error) == 0 && command.command_id[0] != '\0' &&
        order_client_id_field(&command) == NULL)
        round_trip_check(&command);
    /* The route bodies: the first byte picks the type and the SKU rule, the rest is the body. */
    if (size == 0) return 0;
    enum command_type type = (enum command_type)(1 + data[0] % (COMMAND_EXPIRE_RESERVATIONS - 1));
    enum codec_body_sku rule = (enum codec_body_sku)((data[0] >> 4) % 3);
    memset(&command, 0, sizeof(command));
    (void)codec_command_body_decode(type, json + 1, size - 1, rule, (data[0] & 0x80) != 0, &command, &error);
    return 0;
}
