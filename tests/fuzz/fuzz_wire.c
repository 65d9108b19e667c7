/* libFuzzer target for the wire decoder (exec/wire.c) under a fixed key: decoding arbitrary
 * bytes returns 0, EP_EPARSE or EP_EINVAL with a message; a decoded message re-encodes to a
 * frame that decodes to an equal message and re-encodes to the same bytes. Aborts otherwise.
 * Each input is decoded twice: as it is (header and tag checks), and re-sealed (the type
 * from bytes 6..7, the payload between the header and the last 32 bytes, a fresh tag) so
 * mutations reach the payload parser despite the tag. Then the input is split as a transport
 * message of several frames (ep_wire_frame_len): every length lies within what is left and
 * each frame decodes or fails as above. */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/exec/wire.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const uint8_t key[] = "epara-fuzz-key-0123456789";

static void
check(int ok)
{
    if (!ok)
        abort();
}

static void
one(const uint8_t *data, size_t size)
{
    /* An exact-size copy so any read past size is an ASan error even under replay. */
    uint8_t *buf = malloc(size ? size : 1);
    check(buf != NULL);
    if (size)
        memcpy(buf, data, size);
    ep_wire_msg m;
    char err[160];
    int rc = ep_wire_decode(buf, size, key, sizeof key - 1, &m, err, sizeof err);
    free(buf);
    check(rc == 0 || rc == EP_EPARSE || rc == EP_EINVAL);
    if (rc) {
        check(memchr(err, '\0', sizeof err) && err[0] != '\0');
        return;
    }
    uint8_t *f1, *f2;
    size_t n1, n2;
    check(ep_wire_encode(&m, key, sizeof key - 1, &f1, &n1) == 0);
    ep_wire_msg m2;
    check(ep_wire_decode(f1, n1, key, sizeof key - 1, &m2, err, sizeof err) == 0);
    check(ep_wire_msg_equal(&m, &m2));
    check(ep_wire_encode(&m2, key, sizeof key - 1, &f2, &n2) == 0);
    check(n1 == n2 && memcmp(f1, f2, n1) == 0);
    free(f1);
    free(f2);
    ep_wire_msg_free(&m);
    ep_wire_msg_free(&m2);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    one(data, size);
    if (size >= EP_WIRE_HEADER_BYTES + EP_WIRE_TAG_BYTES &&
        size - EP_WIRE_HEADER_BYTES - EP_WIRE_TAG_BYTES <= EP_WIRE_MAX_PAYLOAD) {
        unsigned type = (unsigned)data[6] << 8 | data[7];
        uint8_t *f;
        size_t n;
        check(ep_wire_seal(type, data + EP_WIRE_HEADER_BYTES,
                           size - EP_WIRE_HEADER_BYTES - EP_WIRE_TAG_BYTES, key, sizeof key - 1, &f,
                           &n) == 0);
        one(f, n);
        free(f);
    }
    size_t off = 0;
    for (int k = 0; off < size && k < 16; k++) {
        size_t n = ep_wire_frame_len(data + off, size - off);
        if (n == 0)
            break;
        check(n >= EP_WIRE_HEADER_BYTES + EP_WIRE_TAG_BYTES && n <= size - off);
        one(data + off, n);
        off += n;
    }
    return 0;
}
