/*
 * raft/core/raft.c — the node's life: options, creation and release,
 * bootstrap of a first configuration, load after a restart (§3.8: term,
 * vote and log are the persistent state), campaigns on request and status.
 */
#include "core.h"
#include "codec.h"

#include <stdlib.h>
#include <string.h>

void
raft_options_default(struct raft_options *opt, raft_id id, uint64_t seed)
{
	memset(opt, 0, sizeof(*opt));
	opt->id = id;
	opt->seed = seed;
	opt->election_ticks = 10;
	opt->heartbeat_ticks = 1;
	opt->pre_vote = true;
	opt->check_quorum = true;
	opt->lease_reads = false;
	opt->max_msg_bytes = 1024 * 1024;
	opt->max_inflight = 64;
	opt->max_uncommitted_bytes = 0;
}

static bool
options_valid(const struct raft_options *opt)
{
	return opt->id != RAFT_NONE &&
		opt->heartbeat_ticks >= 1 &&
		opt->election_ticks > opt->heartbeat_ticks &&
		opt->election_ticks <= 1000000 &&
		opt->max_msg_bytes >= 1 &&
		opt->max_inflight >= 1 &&
		(!opt->lease_reads || opt->check_quorum);
}

struct raft *
raft_new(const struct raft_options *opt)
{
	struct raft *r;

	if (opt == NULL || !options_valid(opt))
		return NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->opt = *opt;
	if (r->opt.max_inflight > RAFT_MAX_INFLIGHT)
		r->opt.max_inflight = RAFT_MAX_INFLIGHT;
	r->id = opt->id;
	/* Distinct streams even if the host gives every node the same seed. */
	prng_seed(&r->prng, opt->seed ^ (opt->id * 0x9e3779b97f4a7c15ULL));
	log_init(&r->log);
	r->role = RAFT_FOLLOWER;
	r->prev_role = RAFT_FOLLOWER;
	reset_randomized_timeout(r);
	return r;
}

void
raft_free(struct raft *r)
{
	if (r == NULL)
		return;
	ready_free(r);
	log_free(&r->log);
	snapshot_clear(&r->snapshot);
	free(r);
}

static bool
config_valid(const struct raft_config *cfg)
{
	if (cfg->n == 0 || cfg->n > RAFT_MAX_MEMBERS || cfg->joint)
		return false;
	for (uint32_t i = 0; i < cfg->n; i++)
	{
		if (cfg->members[i].id == RAFT_NONE)
			return false;
		for (uint32_t j = i + 1; j < cfg->n; j++)
			if (cfg->members[i].id == cfg->members[j].id)
				return false;
	}
	return config_voter_count(cfg) > 0;
}

static bool
is_empty(const struct raft *r)
{
	return !r->has_state && r->term == 0 && log_last_index(&r->log) == 0;
}

int
raft_bootstrap(struct raft *r, const struct raft_config *cfg)
{
	struct raft_entry e;
	size_t		size;
	int			rv;

	if (cfg == NULL || !is_empty(r) || !config_valid(cfg))
		return RAFT_EINVAL;
	size = raft_encoded_size_config(cfg);
	memset(&e, 0, sizeof(e));
	e.term = 1;
	e.index = 1;
	e.type = RAFT_ENTRY_CONFIG;
	e.data.base = blob_new(NULL, size);
	if (e.data.base == NULL)
		return RAFT_ENOMEM;
	e.data.len = size;
	if (raft_encode_config(cfg, e.data.base, size) != size)
	{
		blob_unref(e.data.base);
		return RAFT_EINVAL;
	}
	rv = log_append_owned(&r->log, &e);
	if (rv != RAFT_OK)
	{
		blob_unref(e.data.base);
		return rv;
	}
	config_on_append(r, &e);
	r->term = 1;
	/* Entry 1 is the same on every initial member: it is committed. */
	r->commit = 1;
	r->has_state = true;
	return RAFT_OK;
}

int
raft_load(struct raft *r, const struct raft_hard_state *hs,
		  const struct raft_snapshot *snap, const struct raft_entry *entries,
		  size_t n)
{
	raft_index	base = 0;
	raft_term	base_term = 0;
	int			rv;

	if (hs == NULL || !is_empty(r) || (n > 0 && entries == NULL))
		return RAFT_EINVAL;
	if (snap != NULL && snap->index > 0)
	{
		base = snap->index;
		base_term = snap->term;
		if ((snap->data.len > 0 && snap->data.base == NULL) ||
			snap->config.n > RAFT_MAX_MEMBERS)
			return RAFT_EINVAL;
	}
	for (size_t k = 0; k < n; k++)
		if (entries[k].index != base + 1 + k ||
			(k > 0 && entries[k].term < entries[k - 1].term) ||
			entries[k].term > hs->term)
			return RAFT_EINVAL;
	if (base > 0)
	{
		struct raft_snapshot copy = *snap;

		copy.data.base = NULL;
		if (snap->data.len > 0)
		{
			copy.data.base = blob_new(snap->data.base, snap->data.len);
			if (copy.data.base == NULL)
				return RAFT_ENOMEM;
		}
		r->snapshot = copy;
		log_reset(&r->log, base, base_term);
		config_set(r, &snap->config, base);
	}
	rv = log_append_copies(r, entries, n);
	if (rv != RAFT_OK)
	{
		log_reset(&r->log, 0, 0);
		snapshot_clear(&r->snapshot);
		memset(&r->config, 0, sizeof(r->config));
		r->config_index = 0;
		return rv;
	}
	r->log.stable = log_last_index(&r->log);
	r->log.persist_from = r->log.stable + 1;
	r->term = hs->term;
	r->vote = hs->vote;
	r->commit = hs->commit;
	if (r->commit < base)
		r->commit = base;
	if (r->commit > log_last_index(&r->log))
		r->commit = log_last_index(&r->log);
	r->applied = base;
	r->handed_committed = base;
	r->prev_hs = *hs;
	r->has_state = hs->term > 0 || base > 0 || n > 0;
	raft_tracef(r, "loaded term %llu vote %llu commit %llu, log %llu..%llu",
				(unsigned long long) r->term, (unsigned long long) r->vote,
				(unsigned long long) r->commit,
				(unsigned long long) log_first_index(&r->log),
				(unsigned long long) log_last_index(&r->log));
	return RAFT_OK;
}

int
raft_campaign(struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return RAFT_OK;
	if (!raft_promotable(r))
		return RAFT_EUNKNOWNNODE;
	election_start(r, r->opt.pre_vote, false);
	return RAFT_OK;
}

void
raft_get_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->id = r->id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit = r->commit;
	st->applied = r->applied;
	st->first_index = log_first_index(&r->log);
	st->last_index = log_last_index(&r->log);
	st->last_term = log_last_term(&r->log);
	st->snapshot_index = r->snapshot.index;
	st->transferee = r->transferee;
	st->config_pending = config_pending(r);
	st->config = r->config;
	st->elections = r->elections;
	if (r->role != RAFT_LEADER)
		return;
	for (unsigned i = 0; i < r->n_progress; i++)
	{
		const struct raft_progress *p = &r->progress[i];
		struct raft_progress_info *info;

		if (p->departing)
			continue;
		info = &st->progress[st->n_progress++];
		const struct raft_member *m = raft_config_find(&r->config, p->id);

		info->id = p->id;
		info->flags = m != NULL ? m->flags : 0;
		info->state = p->state;
		info->match = p->id == r->id ? r->log.stable : p->match;
		info->next = p->next;
		info->inflight = p->in_count;
		info->recent_active = p->recent_active;
		info->ticks_since_contact = p->ticks_since_contact;
		info->lag_bytes = log_bytes_after(&r->log, info->match);
	}
}
