/*
 * ivf.c
 *	  The vdb_ivf index access method: handler, options and settings.
 *
 * (Foundation skeleton: the index work item fills this in.)
 */
#include "postgres.h"

#include "vdb.h"

/*
 * Register the index AM's settings.
 */
void
IvfInit(void)
{
}
