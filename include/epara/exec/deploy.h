/* A deployment: where each process of a live testbed listens (exec/README.md, "A lab of real
 * machines"). A text file, one process per line, '#' to the end of a line a comment:
 *
 *   controller 10.0.0.1:7400
 *   loadgen    10.0.0.1:7401
 *   node server-1 10.0.0.2:7402      (a node by its scenario name, or by its index)
 *
 * An address is an IPv4 address or a host name, then ':' and a port in [1, 65535]. Every
 * node of the scenario, the controller and the loadgen appear exactly once, and no two
 * processes share an address and port. */
#ifndef EPARA_DEPLOY_H
#define EPARA_DEPLOY_H

#include <stddef.h>

#include "epara/core/model.h"
#include "epara/exec/live.h"

typedef struct ep_deploy ep_deploy;

/* Bytes of the longest address, "tcp://" + a 253-byte host + ":65535", with its NUL. */
#define EP_DEPLOY_URL_MAX 300

/* Reads deployment text[0 .. len) for scenario sc (name: the file, for messages). Returns 0
 * and *out (free with ep_deploy_free), or EP_EPARSE with "NAME:LINE: problem" in err, or
 * EP_ENOMEM. */
int ep_deploy_parse(const char *text, size_t len, const char *name, const ep_scenario *sc,
                    ep_deploy **out, char *err, size_t errlen);
/* ep_deploy_parse on the file at path (EP_EIO when it cannot be read, path in err). */
int ep_deploy_load(const char *path, const ep_scenario *sc, ep_deploy **out, char *err,
                   size_t errlen);
/* The address a role listens on, "tcp://HOST:PORT" (node: its index, for EP_LIVE_NODE). */
const char *ep_deploy_url(const ep_deploy *d, ep_live_role role, int node);
/* Where the line of a role (node: its index) is, "FILE:LINE", in buf (len bytes); buf. */
const char *ep_deploy_where(const ep_deploy *d, ep_live_role role, int node, char *buf, size_t len);
void ep_deploy_free(ep_deploy *d);

#endif
