/*
 * raft/core/errors.c — messages of the error codes (the X-macro table of
 * raft.h, as in cowsql/raft src/err.h) and names of the roles.  Static
 * strings only: nothing here allocates.
 */
#include "core.h"

static const char *const error_messages[] = {
#define RAFT_ERROR_TEXT_(name, text) text,
	RAFT_ERRORS(RAFT_ERROR_TEXT_)
#undef RAFT_ERROR_TEXT_
};

const char *
raft_strerror(int err)
{
	if (err < 0 || err >= RAFT_ERROR_COUNT_)
		return "unknown error";
	return error_messages[err];
}

const char *
raft_role_name(int role)
{
	switch (role)
	{
		case RAFT_FOLLOWER:
			return "follower";
		case RAFT_PRE_CANDIDATE:
			return "pre-candidate";
		case RAFT_CANDIDATE:
			return "candidate";
		case RAFT_LEADER:
			return "leader";
		default:
			return "unknown";
	}
}
