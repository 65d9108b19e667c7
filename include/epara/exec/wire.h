/* The executor's wire protocol (exec/README.md): one message per frame, a fixed
 * header ("EPW1", version, type, payload length, then the envelope: sender, session and
 * sequence number; big-endian), a msgpack payload and an HMAC-SHA256 tag over header +
 * payload under a shared secret. A decoded message has passed the tag check and every
 * field's type and range check; decoding never reads past len. The envelope lets a
 * receiver refuse replayed frames (ep_wire_replay_check): a sender numbers its frames
 * 1, 2, ... within a session (its start time), so a copy of an earlier frame is stale. */
#ifndef EPARA_WIRE_H
#define EPARA_WIRE_H

#include "epara/core/common.h"
#include "epara/exec/msg.h"
#include "epara/policies/policy.h"
#include "epara/core/time.h"

#define EP_WIRE_MAGIC         "EPW1"
#define EP_WIRE_VERSION       5
#define EP_WIRE_HEADER_BYTES  32 /* magic 4, version 2, type 2, length 4, envelope 20 */
#define EP_WIRE_TAG_BYTES     32
#define EP_WIRE_MIN_KEY_BYTES 16
#define EP_WIRE_MAX_PAYLOAD   (1u << 24) /* bytes */
#define EP_WIRE_NAME_MAX      63         /* bytes, excluding the terminating NUL */

typedef enum ep_wire_type {
    EP_WIRE_HELLO = 1, /* node -> controller: who I am */
    EP_WIRE_PLACEMENT, /* controller -> node: the instances to host */
    EP_WIRE_STATE,     /* node -> peers/controller: instance load */
    EP_WIRE_REQUEST,   /* loadgen -> ingress node */
    EP_WIRE_RESULT,    /* node -> loadgen: one per request */
    EP_WIRE_FORWARD,   /* node -> node: a request and where it goes */
    EP_WIRE_BYE,       /* any -> any: leaving */
    EP_WIRE_TIME       /* clock offsets: a question, its answer, or a node's report */
} ep_wire_type;

typedef struct ep_wire_hello {
    char name[EP_WIRE_NAME_MAX + 1]; /* non-empty, NUL-terminated, no inner NUL */
    int node;                        /* node index >= 0 */
    int protocol;                    /* protocol version the node speaks, 1..65535 */
    uint8_t auth[EP_WIRE_TAG_BYTES]; /* opaque credential (e.g. HMAC of a challenge) */
} ep_wire_hello;

typedef struct ep_wire_placement {
    int64_t epoch;          /* >= 0 */
    ep_instance_spec *inst; /* owned (ep_wire_msg_free); n entries */
    int n;                  /* 0..EP_MSG_MAX_INSTANCES */
} ep_wire_placement;

typedef struct ep_wire_bye {
    int node;   /* >= 0, or -1 (not a node: controller, loadgen) */
    int reason; /* reason code, 0..65535 */
} ep_wire_bye;

/* Clock offset estimation (exec/README.md, "Clocks"). A question (t2 = t3 = EP_WIRE_NO_TIME)
 * goes from a node to the controller, or from the loadgen to a node; the answer echoes t1
 * and adds the answerer's trace time on receipt (t2) and on sending (t3). The asker, at t4,
 * takes offset ((t2 - t1) + (t3 - t4)) / 2 with round trip (t4 - t1) - (t3 - t2). A node's
 * question to the controller, copied to the loadgen, also reports the node's current
 * estimate (offset, err) there. Times are trace ns, negative before trace time 0. */
typedef struct ep_wire_time {
    int node;       /* the asker: a node index >= 0, or -1 (the loadgen) */
    int64_t t1;     /* the asker's own clock when it asked */
    int64_t t2, t3; /* the answerer's corrected clock; EP_WIRE_NO_TIME in a question */
    int64_t offset; /* question: the asker's current correction (added to its clock) */
    int64_t err;    /* question: its uncertainty (half the best round trip), >= 0; -1: none */
} ep_wire_time;

#define EP_WIRE_NO_TIME  INT64_MIN
#define EP_WIRE_TIME_MAX (INT64_C(1) << 62) /* |t| below this (146 years of ns) */

typedef struct ep_wire_msg {
    ep_wire_type type;
    union {
        ep_wire_hello hello;
        ep_wire_placement placement;
        ep_msg_state state;
        ep_msg_request request;
        ep_msg_result result;
        ep_msg_forward forward;
        ep_wire_bye bye;
        ep_wire_time time;
    } u;
} ep_wire_msg;

/* Who sent a frame and where it stands in that sender's stream (authenticated with it). */
typedef struct ep_wire_env {
    uint32_t sender;  /* node index, or EP_WIRE_CONTROLLER / EP_WIRE_LOADGEN / EP_WIRE_ANON */
    uint64_t session; /* the sender's incarnation (e.g. its start time in ns); larger = newer */
    uint64_t seq;     /* 1, 2, ... within the session */
} ep_wire_env;

#define EP_WIRE_CONTROLLER UINT32_C(0xfffffff0)
#define EP_WIRE_LOADGEN    UINT32_C(0xfffffff1)
#define EP_WIRE_ANON       UINT32_C(0xffffffff) /* ep_wire_encode: no envelope to check */

/* What a receiver remembers of one sender, to refuse replays (zero-initialize). */
typedef struct ep_wire_replay {
    uint64_t session, seq;
} ep_wire_replay;

/* 0 when env is newer than anything seen from this sender (a later session, or a later
 * seq in the current one) and records it; EP_ERANGE for a replayed or stale frame (nothing
 * recorded). */
int ep_wire_replay_check(ep_wire_replay *r, const ep_wire_env *env);

/* As ep_wire_encode, with the envelope env in the header. */
int ep_wire_encode_env(const ep_wire_msg *m, const ep_wire_env *env, const uint8_t *key,
                       size_t keylen, uint8_t **out, size_t *len);

/* The length of the frame at buf (header, payload and tag, as its header says), where a
 * transport message holds several frames one after another (version 5: a sender's frames
 * to one peer within one loop turn go out together); 0 when buf[0..len) does not begin
 * with a whole frame of this version (too short, another magic or version, a payload
 * above EP_WIRE_MAX_PAYLOAD or past len). Authenticates nothing: decode each frame. */
size_t ep_wire_frame_len(const uint8_t *buf, size_t len);

/* As ep_wire_decode; the authenticated envelope goes to *env (may be NULL) on success. */
int ep_wire_decode_env(const uint8_t *buf, size_t len, const uint8_t *key, size_t keylen,
                       ep_wire_msg *out, ep_wire_env *env, char *err, size_t errlen);

/* Encodes m as one authenticated frame (envelope: EP_WIRE_ANON, session 0, seq 0). key: the shared
 * secret, keylen >= EP_WIRE_MIN_KEY_BYTES (borrowed). On success *out is a malloc'ed frame the
 * caller frees and *len its size. Errors: EP_EINVAL (m violates a limit of this header, a NULL
 * pointer, a short key), EP_ENOMEM. Every frame it produces decodes to an equal message. */
int ep_wire_encode(const ep_wire_msg *m, const uint8_t *key, size_t keylen, uint8_t **out,
                   size_t *len);

/* Frames a raw payload: header for `type`, the payload bytes as given, the tag. For tests
 * and tools; ep_wire_encode is the normal way. Same contract and errors as ep_wire_encode
 * (EP_EINVAL also for plen > EP_WIRE_MAX_PAYLOAD); type is not checked. */
int ep_wire_seal(unsigned type, const uint8_t *payload, size_t plen, const uint8_t *key,
                 size_t keylen, uint8_t **out, size_t *len);

/* Decodes the frame buf[0..len) (borrowed; nothing past len is read). On success fills *out
 * (release with ep_wire_msg_free). Errors, with a message naming the field in err (may be
 * NULL; errlen bytes, always NUL-terminated when errlen > 0): EP_EINVAL "authentication
 * failed" for a bad tag or a short key; EP_EPARSE for a wrong magic or version, a length
 * mismatch, trailing bytes, an unknown type, a wrong msgpack type, an out-of-range value;
 * EP_ENOMEM. *out is written only on success. */
int ep_wire_decode(const uint8_t *buf, size_t len, const uint8_t *key, size_t keylen,
                   ep_wire_msg *out, char *err, size_t errlen);

/* Frees the arrays a decoded message owns and clears them; NULL is a no-op. */
void ep_wire_msg_free(ep_wire_msg *m);

/* 1 when a and b carry the same type and the same field values, else 0. */
int ep_wire_msg_equal(const ep_wire_msg *a, const ep_wire_msg *b);

/* Static name of a message type ("hello", ...), "unknown" for other values. */
const char *ep_wire_type_name(unsigned type);

#endif
