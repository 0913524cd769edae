/* SPDX-License-Identifier: Apache-2.0 */
/* Listening sockets for the HTTP server, from the addresses users write. */
#ifndef PACER_HTTP_LISTEN_H
#define PACER_HTTP_LISTEN_H

#include <stdint.h>

/*
 * Binds and listens on "host:port", "[v6]:port", ":port" or "*:port" (every
 * address, IPv6 serving IPv4 too); port 0 picks a free one. The socket is
 * nonblocking, close-on-exec, SO_REUSEADDR. Returns 0 with the socket and the
 * port bound, PACER_EBADCONFIG for an address that does not parse or resolve,
 * or -errno from bind/listen; a message is logged on error.
 */
int http_listen_open(const char *listen, int *fd_out, uint16_t *port_out);

#endif
