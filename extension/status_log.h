/*
 * extension/status_log.h — server log lines drawn from the status the Raft
 * worker publishes (status_log.c).
 */
#ifndef PGRAFT_STATUS_LOG_H
#define PGRAFT_STATUS_LOG_H

#include "postgres.h"

#include "raft.h"

/*
 * Called by the worker with every status it publishes: logs at LOG what
 * changed since the previous one (role or leader, configuration, a
 * snapshot the leader sends or a member took), each change once.
 */
extern void pgraft_status_log(const struct raft_status *st);

#endif							/* PGRAFT_STATUS_LOG_H */
