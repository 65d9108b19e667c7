/* The messages of a live testbed's processes (exec/README.md): what a node reports of its
 * instances and the demand it has seen, a request handed from one node (or the load
 * generator) to another, a forwarded request and a request's outcome. Plain data: the live
 * roles (epara/exec/live.h) build and read them, the wire encodes them (epara/exec/wire.h, which
 * checks every field's range as commented here). Arrays a message points to belong to
 * whoever built it (a decoded message: ep_wire_msg_free). */
#ifndef EPARA_MSG_H
#define EPARA_MSG_H

#include "epara/core/common.h"
#include "epara/core/time.h"

#define EP_MSG_NEVER         INT64_C(-1) /* RESULT timestamp of a step that did not happen */
#define EP_MSG_MAX_INSTANCES 4096        /* per PLACEMENT or STATE message */
#define EP_MSG_MAX_SERVICES  64          /* per STATE message */
#define EP_MSG_REASON_MAX    127         /* bytes of a RESULT reason, excluding the NUL */
/* Most bytes of a request's payload or a result's output in one message: a frame holds the
 * whole of it (a 1M-token prompt at 4 bytes a token; a 4 MiB image). Larger requests are
 * not carried (the node records them rejected, "payload above the wire's bound"). */
#define EP_MSG_PAYLOAD_MAX (INT64_C(4) << 20)

/* One instance's load as its node reports it. */
typedef struct ep_msg_inst_state {
    int id;          /* >= 0 */
    int queued;      /* >= 0 */
    int running;     /* >= 0 */
    ep_dur backlog;  /* ns, >= 0 */
    int64_t kv_free; /* tokens, >= 0; -1 for DNN instances */
    int ready;       /* 0 or 1 */
} ep_msg_inst_state;

/* Demand a node has seen as ingress for one service since it started (cumulative). */
typedef struct ep_msg_demand {
    int64_t arrivals; /* >= 0 */
    int64_t sum_in;   /* sum of request inputs (tokens or bytes), >= 0 */
    int64_t sum_out;  /* sum of request outputs (tokens), >= 0 */
} ep_msg_demand;

typedef struct ep_msg_state {
    int node;                /* >= 0 */
    ep_time time;            /* ns, >= 0: when the numbers were taken */
    ep_msg_inst_state *inst; /* owned (ep_wire_msg_free); n entries */
    int n;                   /* 0..EP_MSG_MAX_INSTANCES */
    ep_msg_demand *demand;   /* owned; nsvc entries, one per service in scenario order */
    int nsvc;                /* 0..EP_MSG_MAX_SERVICES */
} ep_msg_state;

typedef struct ep_msg_request {
    uint64_t id;
    int service, ingress, hops; /* >= 0 */
    ep_time arrival, deadline;  /* ns, >= 0 */
    int64_t input, output;      /* tokens or bytes, >= 0 */
    int64_t bytes;              /* payload bytes, >= 0 */
    int64_t stream, frame;      /* >= 0, or -1 (none) */
    ep_dur trace_exec;          /* ns from the trace, >= 0, or -1 (none) */
    /* The request's own bytes when they travel (payload mode, exec/README.md): an image, a
     * prompt's token ids; NULL with payload_len 0 when they do not. A decoded message owns
     * them (ep_wire_msg_free); a message being built borrows them. */
    uint8_t *payload;
    int64_t payload_len; /* 0..EP_MSG_PAYLOAD_MAX */
} ep_msg_request;

typedef struct ep_msg_result {
    uint64_t id;
    int outcome;                         /* an ep_outcome (sim.h), 0..3 */
    char reason[EP_MSG_REASON_MAX + 1];  /* why, when not completed; "" when none; no NUL */
    ep_time dispatch, first_token, done; /* ns, >= 0, or EP_MSG_NEVER */
    int instance, node;                  /* >= 0, or -1 (none) */
    int batch, preemptions, hops;        /* >= 0 */
    /* The response's bytes when they travel (payload mode): a mask, the generated token
     * ids; NULL with output_len 0 when they do not. Owned and borrowed as a request's
     * payload. */
    uint8_t *output;
    int64_t output_len; /* 0..EP_MSG_PAYLOAD_MAX */
} ep_msg_result;

typedef enum ep_msg_target { EP_MSG_TO_INSTANCE, EP_MSG_TO_NODE } ep_msg_target;

typedef struct ep_msg_forward {
    ep_msg_request req;
    ep_msg_target kind;
    int target;         /* instance id or node index, >= 0 */
    ep_time deliver_at; /* ns, >= 0: emulated links (link mode 0): when it reaches the switch,
                           the receiver queueing it down its own link; link mode 2: when it
                           arrives; -1: on receipt */
} ep_msg_forward;

#endif
