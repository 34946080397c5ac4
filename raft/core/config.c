/*
 * raft/core/config.c — membership changes by joint consensus (§4.3).
 *
 * A server uses the latest configuration in its log, committed or not, as
 * soon as the entry is appended (§4.1); if that entry is truncated away it
 * falls back to the one before.  A change of the voters goes through
 * C_old,new: the leader appends the joint entry, and as soon as it is
 * committed appends C_new (the "leave" entry).  A change of learners only
 * takes one entry.  One change at a time (RAFT_EBUSY).  A leader that is
 * not in C_new keeps leading until C_new is committed, then steps down
 * (§4.2.2).  Entry data is the codec's encoding of struct raft_config.
 */
#include "core.h"
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
config_set(struct raft *r, const struct raft_config *c, raft_index index)
{
	char		line[RAFT_TRACE_LEN];
	size_t		used = 0;

	r->config = *c;
	r->config_index = index;
	if (r->role == RAFT_LEADER)
		progress_sync_config(r);
	if (r->opt.trace == NULL)
		return;
	line[0] = '\0';
	for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS && used < sizeof(line); i++)
	{
		const struct raft_member *m = &c->members[i];
		int			w;

		w = snprintf(line + used, sizeof(line) - used, " %llu%s%s%s",
					 (unsigned long long) m->id,
					 (m->flags & RAFT_VOTER_OLD) ? "o" : "",
					 (m->flags & RAFT_VOTER_NEW) ? "n" : "",
					 (m->flags & (RAFT_VOTER_OLD | RAFT_VOTER_NEW)) ? "" : "l");
		if (w < 0)
			break;
		used += (size_t) w;
	}
	raft_tracef(r, "configuration%s at %llu:%s", c->joint ? " (joint)" : "",
				(unsigned long long) index, line);
}

void
config_on_append(struct raft *r, const struct raft_entry *e)
{
	struct raft_config c;
	int			rv;

	rv = raft_decode_config(e->data.base, e->data.len, &c);
	if (rv != RAFT_OK)
	{
		raft_tracef(r, "ignored an undecodable configuration at %llu: %s",
					(unsigned long long) e->index, raft_strerror(rv));
		return;
	}
	r->has_state = true;
	config_set(r, &c, e->index);
}

/* The configuration in force at index: latest config entry <= index. */
int
config_at(const struct raft *r, raft_index index, struct raft_config *out)
{
	raft_index	i = index;

	if (i > log_last_index(&r->log))
		i = log_last_index(&r->log);
	/* Bounded by the log's length. */
	for (; i > r->log.offset; i--)
	{
		const struct raft_entry *e = log_get(&r->log, i);

		if (e->type == RAFT_ENTRY_CONFIG &&
			raft_decode_config(e->data.base, e->data.len, out) == RAFT_OK)
			return (int) RAFT_OK;
	}
	*out = r->snapshot.config;
	return RAFT_OK;
}

/* Entries >= from were truncated: revert to the configuration before. */
void
config_on_truncate(struct raft *r, raft_index from)
{
	struct raft_config c;
	raft_index	i;

	if (r->config_index < from)
		return;
	for (i = log_last_index(&r->log); i > r->log.offset; i--)
	{
		const struct raft_entry *e = log_get(&r->log, i);

		if (e->type == RAFT_ENTRY_CONFIG &&
			raft_decode_config(e->data.base, e->data.len, &c) == RAFT_OK)
		{
			raft_tracef(r, "reverted the configuration");
			config_set(r, &c, i);
			return;
		}
	}
	raft_tracef(r, "reverted the configuration to the snapshot's");
	config_set(r, &r->snapshot.config, r->snapshot.index);
}

bool
config_pending(const struct raft *r)
{
	return r->config_index > r->commit || r->config.joint;
}

static int
append_config(struct raft *r, const struct raft_config *c, raft_index *index)
{
	size_t		size = raft_encoded_size_config(c);
	uint8_t    *buf;
	int			rv;

	if (size == 0)
		return RAFT_EINVAL;
	buf = malloc(size);
	if (buf == NULL)
		return RAFT_ENOMEM;
	if (raft_encode_config(c, buf, size) != size)
	{
		free(buf);
		return RAFT_EINVAL;
	}
	rv = replication_append_local(r, RAFT_ENTRY_CONFIG, buf, size, index);
	free(buf);
	return rv;
}

/*
 * The leader, once C_old,new is committed, appends C_new (§4.3); once a
 * C_new without it is committed, it steps down (§4.2.2).
 */
void
config_on_commit(struct raft *r)
{
	struct raft_config leave;

	if (r->role != RAFT_LEADER || r->commit < r->config_index)
		return;
	if (r->config.joint)
	{
		memset(&leave, 0, sizeof(leave));
		for (uint32_t i = 0; i < r->config.n && i < RAFT_MAX_MEMBERS; i++)
		{
			const struct raft_member *m = &r->config.members[i];

			if (m->flags == RAFT_VOTER_OLD)
				continue;		/* removed */
			leave.members[leave.n] = *m;
			leave.members[leave.n].flags = m->flags & RAFT_VOTER_NEW;
			leave.n++;
		}
		if (append_config(r, &leave, NULL) != RAFT_OK)
			raft_tracef(r, "could not append the entry leaving the joint "
						"configuration; will retry");
		return;
	}
	if (!raft_config_is_voter(&r->config, r->id))
	{
		raft_tracef(r, "stepping down: not a voter of the committed "
					"configuration");
		/* Tell the others the commit index first. */
		replication_broadcast_append(r);
		become_follower(r, r->term, RAFT_NONE);
	}
}

static struct raft_member *
find_member(struct raft_config *c, raft_id id)
{
	for (uint32_t i = 0; i < c->n; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

static int
apply_change(struct raft_config *c, const struct raft_change *ch)
{
	struct raft_member *m;

	if (ch->id == RAFT_NONE)
		return RAFT_EINVAL;
	m = find_member(c, ch->id);
	switch (ch->kind)
	{
		case RAFT_CHANGE_ADD_LEARNER:
		case RAFT_CHANGE_ADD_VOTER:
			if (m != NULL)
			{
				/* Adding a learner as a voter promotes it. */
				if (ch->kind == RAFT_CHANGE_ADD_VOTER && m->flags == 0)
				{
					m->flags = RAFT_VOTER_NEW;
					return RAFT_OK;
				}
				return RAFT_EDUPLICATE;
			}
			if (c->n >= RAFT_MAX_MEMBERS)
				return RAFT_ETOOMANY;
			if (memchr(ch->addr, '\0', RAFT_ADDR_LEN) == NULL)
				return RAFT_EINVAL;
			m = &c->members[c->n++];
			memset(m, 0, sizeof(*m));
			m->id = ch->id;
			m->flags = ch->kind == RAFT_CHANGE_ADD_VOTER ? RAFT_VOTER_NEW : 0;
			memcpy(m->addr, ch->addr, RAFT_ADDR_LEN);
			return RAFT_OK;
		case RAFT_CHANGE_PROMOTE:
			if (m == NULL)
				return RAFT_EUNKNOWNNODE;
			if (m->flags & RAFT_VOTER_NEW)
				return RAFT_EDUPLICATE;
			m->flags = RAFT_VOTER_NEW;
			return RAFT_OK;
		case RAFT_CHANGE_REMOVE:
			if (m == NULL)
				return RAFT_EUNKNOWNNODE;
			*m = c->members[c->n - 1];
			c->n--;
			return RAFT_OK;
		default:
			return RAFT_EINVAL;
	}
}

static bool
same_voters(const struct raft_config *a, const struct raft_config *b)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (raft_config_is_voter(a, a->members[i].id) !=
			raft_config_is_voter(b, a->members[i].id))
			return false;
	for (uint32_t i = 0; i < b->n; i++)
		if (raft_config_is_voter(a, b->members[i].id) !=
			raft_config_is_voter(b, b->members[i].id))
			return false;
	return true;
}

/* C_old,new: each member flagged with the halves it votes in. */
static int
build_joint(const struct raft_config *old, const struct raft_config *next,
			struct raft_config *joint)
{
	memset(joint, 0, sizeof(*joint));
	joint->joint = true;
	for (uint32_t i = 0; i < next->n; i++)
	{
		struct raft_member m = next->members[i];

		m.flags = 0;
		if (raft_config_is_voter(next, m.id))
			m.flags |= RAFT_VOTER_NEW;
		if (raft_config_is_voter(old, m.id))
			m.flags |= RAFT_VOTER_OLD;
		joint->members[joint->n++] = m;
	}
	for (uint32_t i = 0; i < old->n; i++)
	{
		if (raft_config_find(next, old->members[i].id) != NULL ||
			!raft_config_is_voter(old, old->members[i].id))
			continue;
		if (joint->n >= RAFT_MAX_MEMBERS)
			return RAFT_ETOOMANY;
		joint->members[joint->n] = old->members[i];
		joint->members[joint->n].flags = RAFT_VOTER_OLD;
		joint->n++;
	}
	return RAFT_OK;
}

int
raft_change_config(struct raft *r, const struct raft_change *changes,
				   size_t n, raft_index *index)
{
	struct raft_config next;
	struct raft_config joint;
	int			rv;

	if (index != NULL)
		*index = 0;
	if (changes == NULL || n == 0 || n > RAFT_MAX_MEMBERS)
		return RAFT_EINVAL;
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (config_pending(r))
		return RAFT_EBUSY;
	if (r->transferee != RAFT_NONE)
		return RAFT_ETRANSFER;
	next = r->config;
	for (size_t i = 0; i < n; i++)
	{
		rv = apply_change(&next, &changes[i]);
		if (rv != RAFT_OK)
			return rv;
	}
	if (config_voter_count(&next) == 0)
		return RAFT_EQUORUM;
	raft_tracef(r, "proposing a configuration change of %zu step(s)", n);
	if (same_voters(&r->config, &next))
		return append_config(r, &next, index);
	rv = build_joint(&r->config, &next, &joint);
	if (rv != RAFT_OK)
		return rv;
	return append_config(r, &joint, index);
}
