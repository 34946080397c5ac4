/*
 * raft/core/quorum.c — majorities (§3.4, §3.6) over a simple configuration
 * or a joint one (§4.3: a decision in C_old,new needs separate majorities
 * of C_old and of C_new).  Also the configuration helpers of raft.h.
 */
#include "core.h"

#include <string.h>

const struct raft_member *
raft_config_find(const struct raft_config *c, raft_id id)
{
	uint32_t	n = c->n <= RAFT_MAX_MEMBERS ? c->n : RAFT_MAX_MEMBERS;

	for (uint32_t i = 0; i < n; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

/* The voter flags that count in c: NEW, plus OLD in a joint configuration. */
static uint8_t
voter_mask(const struct raft_config *c)
{
	return c->joint ? (RAFT_VOTER_NEW | RAFT_VOTER_OLD) : RAFT_VOTER_NEW;
}

bool
raft_config_is_voter(const struct raft_config *c, raft_id id)
{
	const struct raft_member *m = raft_config_find(c, id);

	return m != NULL && (m->flags & voter_mask(c)) != 0;
}

unsigned
config_voter_count(const struct raft_config *c)
{
	unsigned	count = 0;

	for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
		if (c->members[i].flags & voter_mask(c))
			count++;
	return count;
}

static int
find_value(const raft_id *ids, unsigned n, raft_id id)
{
	for (unsigned i = 0; i < n; i++)
		if (ids[i] == id)
			return (int) i;
	return -1;
}

/*
 * The largest index that a majority of the voters with flag has: sort their
 * matches descending and take the one at position n/2.  An empty set agrees
 * to anything (so a simple configuration reads as a joint one whose old
 * half is empty).
 */
static raft_index
majority_index(const struct raft_config *c, uint8_t flag, const raft_id *ids,
			   const raft_index *values, unsigned n)
{
	raft_index	m[RAFT_MAX_MEMBERS];
	unsigned	k = 0;

	for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
	{
		int			pos;

		if ((c->members[i].flags & flag) == 0)
			continue;
		pos = find_value(ids, n, c->members[i].id);
		m[k++] = pos >= 0 ? values[pos] : 0;
	}
	if (k == 0)
		return UINT64_MAX;
	/* Insertion sort, descending: at most RAFT_MAX_MEMBERS values. */
	for (unsigned i = 1; i < k; i++)
	{
		raft_index	v = m[i];
		unsigned	j = i;

		while (j > 0 && m[j - 1] < v)
		{
			m[j] = m[j - 1];
			j--;
		}
		m[j] = v;
	}
	return m[k / 2];
}

raft_index
quorum_committed(const struct raft_config *c, const raft_id *ids,
				 const raft_index *values, unsigned n)
{
	raft_index	new_half = majority_index(c, RAFT_VOTER_NEW, ids, values, n);
	raft_index	old_half;

	if (!c->joint)
		return new_half == UINT64_MAX ? 0 : new_half;
	old_half = majority_index(c, RAFT_VOTER_OLD, ids, values, n);
	if (old_half < new_half)
		new_half = old_half;
	return new_half == UINT64_MAX ? 0 : new_half;
}

static enum vote_result
half_vote_result(const struct raft_config *c, uint8_t flag, const raft_id *ids,
				 const bool *granted, unsigned n)
{
	unsigned	voters = 0,
				yes = 0,
				no = 0;

	for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
	{
		int			pos;

		if ((c->members[i].flags & flag) == 0)
			continue;
		voters++;
		pos = find_value(ids, n, c->members[i].id);
		if (pos < 0)
			continue;
		if (granted[pos])
			yes++;
		else
			no++;
	}
	if (voters == 0)
		return VOTE_WON;
	if (yes > voters / 2)
		return VOTE_WON;
	if (no > voters - (voters / 2 + 1))
		return VOTE_LOST;
	return VOTE_PENDING;
}

enum vote_result
quorum_vote_result(const struct raft_config *c, const raft_id *ids,
				   const bool *granted, unsigned n)
{
	enum vote_result new_half = half_vote_result(c, RAFT_VOTER_NEW, ids,
												 granted, n);
	enum vote_result old_half;

	if (!c->joint)
		return new_half;
	old_half = half_vote_result(c, RAFT_VOTER_OLD, ids, granted, n);
	if (new_half == VOTE_LOST || old_half == VOTE_LOST)
		return VOTE_LOST;
	if (new_half == VOTE_WON && old_half == VOTE_WON)
		return VOTE_WON;
	return VOTE_PENDING;
}

/* §6.2: has a (joint) majority been heard from since the last check? */
bool
quorum_active(const struct raft *r)
{
	raft_id		ids[RAFT_MAX_MEMBERS];
	bool		active[RAFT_MAX_MEMBERS];
	unsigned	n = 0;

	for (unsigned i = 0; i < r->n_progress; i++)
	{
		ids[n] = r->progress[i].id;
		active[n] = r->progress[i].id == r->id || r->progress[i].recent_active;
		n++;
	}
	return quorum_vote_result(&r->config, ids, active, n) == VOTE_WON;
}
