/*
 * vdb.h
 *	  Things shared by every part of the extension.
 */
#ifndef VDB_H
#define VDB_H

/* Module initialisation, called once from _PG_init (src/vdb.c). */
extern void DistanceInit(void);
extern void TableamInit(void);
extern void IvfInit(void);
extern void WorkerInit(void);
extern void DebugInit(void);

#endif							/* VDB_H */
