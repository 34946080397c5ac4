/*
 * regress/jepsen/check_main.c — jepsen-check: reads a history file and runs
 * every check of checker.c on it.
 *
 *   jepsen-check [--max-states N] HISTORY
 *
 * Exit 0: no anomaly; 1: anomalies; 2: unreadable history, or a register
 * whose search hit the limit (verdict unknown).
 */
#include "checker.h"

#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	long		max_states = 2000000;
	const char *path = NULL;

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--max-states") == 0 && i + 1 < argc)
			max_states = atol(argv[++i]);
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
		{
			fprintf(stderr, "usage: jepsen-check [--max-states N] HISTORY\n");
			return 2;
		}
	}
	if (!path || max_states <= 0)
	{
		fprintf(stderr, "usage: jepsen-check [--max-states N] HISTORY\n");
		return 2;
	}
	FILE	   *f = fopen(path, "r");

	if (!f)
	{
		perror(path);
		return 2;
	}
	JepsenHistory h;
	char		err[256];

	jepsen_history_init(&h);
	if (jepsen_read_file(&h, f, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "%s: %s\n", path, err);
		fclose(f);
		return 2;
	}
	fclose(f);

	int			nkeys = 0;

	for (size_t i = 0; i < h.nops; i++)
		if (h.ops[i].kind != JOP_ADD && h.ops[i].key > nkeys)
			nkeys = h.ops[i].key;

	int			gave_up = 0;
	int			anomalies = jepsen_check_all(&h, nkeys, max_states, stdout, &gave_up);

	jepsen_history_free(&h);
	if (anomalies > 0)
		return 1;
	return gave_up ? 2 : 0;
}
