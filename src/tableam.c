/*
 * tableam.c
 *	  The vdb table access method: heap tuples, growth-partitioned placement.
 *
 * (Foundation skeleton: the table AM work item fills this in.)
 */
#include "postgres.h"

#include "vdb.h"

/*
 * Register the table AM's settings.
 */
void
TableamInit(void)
{
}
