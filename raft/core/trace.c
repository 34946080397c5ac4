/*
 * raft/core/trace.c — one line of trace through options.trace, formatted
 * into a fixed buffer on the stack (never allocates).  The simulator prints
 * these lines as its readable trace.
 */
#include "core.h"

#include <stdio.h>

void
raft_tracef(struct raft *r, const char *fmt,...)
{
	char		line[RAFT_TRACE_LEN];
	va_list		ap;

	if (r->opt.trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->opt.trace(r->opt.trace_arg, r->id, line);
}
