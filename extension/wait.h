/*
 * extension/wait.h — a client backend's side of the request slots: submit
 * a request to the Raft worker and wait for its outcome.
 */
#ifndef PGRAFT_WAIT_H
#define PGRAFT_WAIT_H

#include "postgres.h"

#include "shmem.h"

/*
 * Submits a membership change or leadership transfer and waits until the
 * worker answered.  Returns the index of the entry proposed (0 for a
 * transfer); raises ERROR with the core's reason otherwise.
 */
extern uint64 pgraft_request_change(PgRaftSlotKind kind,
									const struct raft_change *change);

#endif							/* PGRAFT_WAIT_H */
