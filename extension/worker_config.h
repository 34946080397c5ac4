/*
 * extension/worker_config.h — parsing and cross-checking of the pg_raft.*
 * settings: addresses, the initial cluster, timing.
 */
#ifndef PGRAFT_WORKER_CONFIG_H
#define PGRAFT_WORKER_CONFIG_H

#include "postgres.h"

#include "raft.h"

/*
 * Parses a numeric "host:port" (IPv4 "1.2.3.4:5", IPv6 "[::1]:5").  On
 * failure returns false and writes why into err.  host may be NULL.
 */
extern bool pgraft_parse_addr(const char *s, char *host, size_t hostlen,
							  int *port, char *err, size_t errlen);

/*
 * Parses "1=host:port,2=host:port": every member a voter.  The empty string
 * is an empty configuration.  On failure returns false with why in err.
 */
extern bool pgraft_parse_cluster(const char *s, struct raft_config *cfg,
								 char *err, size_t errlen);

/*
 * Checks the settings against each other (node in the initial cluster with
 * the same address, heartbeat shorter than the election timeout, a secret
 * set).  Reports the first problem at elevel, naming the setting; returns
 * false if there was one.
 */
extern bool pgraft_check_settings(int elevel);

/* The cluster id of the transport handshake, from the shared secret. */
extern uint64 pgraft_cluster_id(const char *secret);

#endif							/* PGRAFT_WORKER_CONFIG_H */
