/*
 * extension/worker_requests.c — the worker's side of the request slots:
 * hands what client backends asked for to the core (proposals, ReadIndex,
 * membership changes, leadership transfers) and answers read states.
 *
 * The read requests taken in one pass share one ReadIndex round: one
 * raft_read_index call (one heartbeat broadcast on the leader, one
 * forwarded request on a follower), whose answer releases them all.  That
 * is safe: the round starts after every one of them arrived, so its read
 * index is at least the commit index when each read began (§6.4).  While
 * a round is in flight, new reads wait in their slots and share the next
 * one, started when it is answered (as etcd's server does): one round per
 * round trip, however many reads.  A round not answered within an election
 * timeout, or one the term or the leader changed under, is taken as lost.
 *
 * A slot is copied and marked TAKEN under the lock, the core is called
 * without it, and the outcome is written back only if the slot still has
 * the same generation (the backend may have given up meanwhile).  Requests
 * that find no leader go back to FILLED and are retried on the next loop;
 * the backend bounds how long it waits.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "pg_raft.h"
#include "shmem.h"
#include "worker.h"

typedef struct TakenRequest
{
	int			slotno;
	uint32		generation;
	PgRaftSlotKind kind;
	struct raft_change change;
	Size		len;
	dsm_handle	payload_dsm;
	char	   *data;

	bool		wants_round;	/* a read waiting for this pass's round */
	uint64		round;			/* ... and that round */

	/* outcome */
	PgRaftSlotState new_state;
	PgRaftOutcome outcome;
	raft_index	index;
	int			sqlerrcode;
	char		errmsg[PGRAFT_ERRMSG_LEN];
	char		errhint[PGRAFT_ERRHINT_LEN];
} TakenRequest;

void
pgraft_worker_recover_slots(void)
{
	int			i;
	bool		woke[PGRAFT_MAX_REQUESTS];

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < PGRAFT_MAX_REQUESTS; i++)
	{
		PgRaftSlot *slot = &pgraft_shared->slots[i];

		woke[i] = false;
		if (slot->state == PGRAFT_SLOT_TAKEN)
		{
			/* a previous worker died while handing it to its core */
			slot->state = PGRAFT_SLOT_DONE;
			slot->outcome = PGRAFT_OUT_UNKNOWN;
			strlcpy(slot->errmsg,
					"The pg_raft worker restarted while proposing the statement; it may or may not be applied.",
					sizeof(slot->errmsg));
			woke[i] = true;
		}
		else if (slot->state == PGRAFT_SLOT_READ_WAIT)
			slot->state = PGRAFT_SLOT_FILLED;	/* ask the new core again */
	}
	LWLockRelease(pgraft_shared->lock);
	for (i = 0; i < PGRAFT_MAX_REQUESTS; i++)
		if (woke[i])
			ConditionVariableBroadcast(&pgraft_shared->slots[i].cv);
}

static void
set_error(TakenRequest *t, int sqlerrcode, const char *msg, const char *hint)
{
	t->new_state = PGRAFT_SLOT_DONE;
	t->outcome = PGRAFT_OUT_ERROR;
	t->sqlerrcode = sqlerrcode;
	strlcpy(t->errmsg, msg, sizeof(t->errmsg));
	strlcpy(t->errhint, hint ? hint : "", sizeof(t->errhint));
}

static void
not_leader_error(TakenRequest *t, raft_id leader, const char *what)
{
	char		msg[PGRAFT_ERRMSG_LEN];
	char		hint[PGRAFT_ERRHINT_LEN];

	snprintf(msg, sizeof(msg), "node %d is not the Raft leader; %s must run on the leader",
			 pgraft_node_id, what);
	if (leader != RAFT_NONE)
		snprintf(hint, sizeof(hint), "The leader is node %llu (see raft.status()).",
				 (unsigned long long) leader);
	else
		snprintf(hint, sizeof(hint), "No leader is known right now; retry shortly.");
	set_error(t, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg, hint);
}

/*
 * A large payload waits in the backend's DSM segment.  If the segment is
 * gone, so is the backend's interest.
 */
static bool
fetch_large_payload(TakenRequest *t)
{
	dsm_segment *seg = dsm_attach(t->payload_dsm);

	if (seg == NULL || dsm_segment_map_length(seg) < t->len)
	{
		if (seg)
			dsm_detach(seg);
		t->new_state = PGRAFT_SLOT_DONE;
		t->outcome = PGRAFT_OUT_NOT_PROPOSED;
		strlcpy(t->errmsg, "the request was withdrawn", sizeof(t->errmsg));
		return false;
	}
	t->data = palloc(t->len);
	memcpy(t->data, dsm_segment_address(seg), t->len);
	dsm_detach(seg);
	return true;
}

/* What a core call's rc means for the request (RAFT_OK: as set). */
static void
set_core_outcome(TakenRequest *t, int rc, raft_id leader)
{
	if (rc == RAFT_OK)
		return;
	if (rc == RAFT_ENOLEADER || rc == RAFT_ETRANSFER)
	{
		t->new_state = PGRAFT_SLOT_FILLED;	/* retried on the next loop */
		return;
	}
	switch (t->kind)
	{
		case PGRAFT_REQ_PROPOSE:
		case PGRAFT_REQ_READ_INDEX:
		case PGRAFT_REQ_READ_LEASE:
			t->new_state = PGRAFT_SLOT_DONE;
			t->outcome = PGRAFT_OUT_NOT_PROPOSED;
			strlcpy(t->errmsg, raft_strerror(rc), sizeof(t->errmsg));
			break;
		case PGRAFT_REQ_CHANGE:
		case PGRAFT_REQ_TRANSFER:
			if (rc == RAFT_ENOTLEADER)
				not_leader_error(t, leader, t->kind == PGRAFT_REQ_CHANGE ?
								 "a membership change" : "a leadership transfer");
			else
				set_error(t, rc == RAFT_EINVAL || rc == RAFT_EUNKNOWNNODE ||
						  rc == RAFT_EDUPLICATE ?
						  ERRCODE_INVALID_PARAMETER_VALUE :
						  ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
						  raft_strerror(rc), NULL);
			break;
	}
}

/* Calls the core for one request; fills in the outcome. */
static void
hand_to_core(PgRaftWorker *w, TakenRequest *t, raft_id leader)
{
	int			rc = RAFT_OK;
	raft_index	index = 0;

	t->new_state = PGRAFT_SLOT_DONE;
	t->outcome = PGRAFT_OUT_OK;
	switch (t->kind)
	{
		case PGRAFT_REQ_PROPOSE:
			rc = raft_propose(w->raft, t->data, t->len, &index);
			if (rc == RAFT_OK)
			{
				t->new_state = PGRAFT_SLOT_PROPOSED;
				t->index = index;
				w->counters.proposals++;
			}
			break;
		case PGRAFT_REQ_READ_LEASE:
			/* the lease if it holds one now (lease.c), else a round */
			if (pgraft_worker_lease(w, &index))
			{
				t->index = index;
				break;
			}
			/* no lease here: a ReadIndex round */
			/* FALLTHROUGH */
		case PGRAFT_REQ_READ_INDEX:
			t->wants_round = true;	/* start_read_round asks the core */
			return;
		case PGRAFT_REQ_CHANGE:
			rc = raft_change_config(w->raft, &t->change, 1, &index);
			if (rc == RAFT_OK)
				t->index = index;
			break;
		case PGRAFT_REQ_TRANSFER:
			rc = raft_transfer_leadership(w->raft, t->change.id);
			break;
	}
	set_core_outcome(t, rc, leader);
}

/*
 * One ReadIndex round for the reads of this pass (see the header); rc of
 * raft_read_index is each one's outcome.
 */
static void
start_read_round(PgRaftWorker *w, TakenRequest *taken, int n,
				 const struct raft_status *st, bool hold)
{
	uint64		round = 0;
	int			rc = RAFT_OK;
	bool		asked = false;
	int			i;

	for (i = 0; i < n; i++)
	{
		TakenRequest *t = &taken[i];

		if (!t->wants_round)
			continue;
		if (hold)
		{
			/* a lease read without a lease: waits for the next round */
			t->new_state = PGRAFT_SLOT_FILLED;
			continue;
		}
		if (!asked)
		{
			round = ++pgraft_shared->next_read_round;
			rc = raft_read_index(w->raft, round);
			asked = true;
			w->counters.read_rounds++;
			if (rc == RAFT_OK)
			{
				w->read_round = round;
				w->read_round_term = st->term;
				w->read_round_leader = st->leader;
				w->read_round_since = GetCurrentTimestamp();
			}
		}
		w->counters.read_requests++;
		t->round = round;
		t->new_state = PGRAFT_SLOT_READ_WAIT;
		set_core_outcome(t, rc, st->leader);
	}
}

/*
 * Whether the last ReadIndex round may still be answered: then new reads
 * wait for the next one (see the header).
 */
static bool
read_round_in_flight(PgRaftWorker *w, const struct raft_status *st)
{
	if (w->read_round == 0)
		return false;
	if (st->term != w->read_round_term || st->leader != w->read_round_leader ||
		TimestampDifferenceExceeds(w->read_round_since, GetCurrentTimestamp(),
								   pgraft_election_timeout_ms))
	{
		w->read_round = 0;		/* lost: its reads time out and ask again */
		return false;
	}
	return true;
}

void
pgraft_worker_take_requests(PgRaftWorker *w)
{
	TakenRequest *taken;
	int			n = 0;
	int			i;
	struct raft_status *st;
	TimestampTz now;
	bool		paused;
	bool		hold_reads;
	bool		have_status;

	/*
	 * Flow control: committed entries wait in this process until the
	 * applier confirms them; past a bound, new proposals from this server
	 * wait in their slots (and give up on their bound) until it catches up.
	 */
	paused = w->pending_bytes > PGRAFT_MAX_PENDING_BYTES;
	st = palloc(sizeof(struct raft_status));
	have_status = hold_reads = false;
	if (w->read_round != 0)
	{
		/* the status only when a round may be in flight: not every pass */
		raft_get_status(w->raft, st);
		have_status = true;
		hold_reads = read_round_in_flight(w, st);
	}

	taken = palloc(sizeof(TakenRequest) * PGRAFT_MAX_REQUESTS);
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	pgraft_shared->intake_paused = paused;
	for (i = 0; i < PGRAFT_MAX_REQUESTS; i++)
	{
		PgRaftSlot *slot = &pgraft_shared->slots[i];
		TakenRequest *t;

		if (slot->state != PGRAFT_SLOT_FILLED)
			continue;
		if (paused && slot->kind == PGRAFT_REQ_PROPOSE)
			continue;
		if (hold_reads && slot->kind == PGRAFT_REQ_READ_INDEX)
			continue;
		t = &taken[n++];
		memset(t, 0, offsetof(TakenRequest, errmsg));
		t->errmsg[0] = t->errhint[0] = '\0';
		t->slotno = i;
		t->generation = slot->generation;
		t->kind = slot->kind;
		t->change = slot->change;
		t->len = slot->len;
		t->data = NULL;
		t->payload_dsm = slot->payload_dsm;
		if (slot->len > 0 && slot->payload_dsm == 0)
		{
			t->data = palloc(slot->len);
			memcpy(t->data, slot->payload, slot->len);
		}
		slot->state = PGRAFT_SLOT_TAKEN;
	}
	LWLockRelease(pgraft_shared->lock);
	if (n == 0)
		return;

	if (!have_status)
		raft_get_status(w->raft, st);
	for (i = 0; i < n; i++)
	{
		if (taken[i].payload_dsm != 0 && !fetch_large_payload(&taken[i]))
			continue;
		hand_to_core(w, &taken[i], st->leader);
	}
	start_read_round(w, taken, n, st, hold_reads);
	raft_get_status(w->raft, st);
	now = GetCurrentTimestamp();

	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		TakenRequest *t = &taken[i];
		PgRaftSlot *slot = &pgraft_shared->slots[t->slotno];

		if (slot->generation != t->generation || slot->state != PGRAFT_SLOT_TAKEN)
			continue;			/* the backend gave up */
		slot->state = t->new_state;
		if (t->new_state == PGRAFT_SLOT_READ_WAIT)
			slot->read_round = t->round;
		else if (t->new_state == PGRAFT_SLOT_PROPOSED)
		{
			slot->index = t->index;
			slot->term = st->term;
			slot->proposed_at = now;
		}
		else if (t->new_state == PGRAFT_SLOT_DONE)
		{
			slot->outcome = t->outcome;
			slot->read_index = t->index;
			slot->sqlerrcode = t->sqlerrcode;
			strlcpy(slot->errmsg, t->errmsg, sizeof(slot->errmsg));
			slot->errdetail[0] = '\0';
			strlcpy(slot->errhint, t->errhint, sizeof(slot->errhint));
		}
	}
	LWLockRelease(pgraft_shared->lock);
	for (i = 0; i < n; i++)
		if (taken[i].new_state == PGRAFT_SLOT_DONE)
			ConditionVariableBroadcast(&pgraft_shared->slots[taken[i].slotno].cv);
}

void
pgraft_worker_answer_reads(PgRaftWorker *w, const struct raft_read_state *reads,
						   uint32 n)
{
	uint32		i;
	int			s;
	bool		woke[PGRAFT_MAX_REQUESTS];

	memset(woke, 0, sizeof(woke));
	for (i = 0; i < n; i++)
		if (w->read_round != 0 && reads[i].ctx >= w->read_round)
		{
			/* the reads held meanwhile start the next round at once */
			w->read_round = 0;
			SetLatch(MyLatch);
		}
	LWLockAcquire(pgraft_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		/* every read of the round (a late answer finds none) */
		for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
		{
			PgRaftSlot *slot = &pgraft_shared->slots[s];

			if (slot->state != PGRAFT_SLOT_READ_WAIT ||
				slot->read_round != reads[i].ctx)
				continue;
			slot->state = PGRAFT_SLOT_DONE;
			slot->outcome = PGRAFT_OUT_OK;
			slot->read_index = reads[i].index;
			woke[s] = true;
		}
	}
	LWLockRelease(pgraft_shared->lock);
	for (s = 0; s < PGRAFT_MAX_REQUESTS; s++)
		if (woke[s])
			ConditionVariableBroadcast(&pgraft_shared->slots[s].cv);
}
