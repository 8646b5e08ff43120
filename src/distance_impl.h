/*
 * distance_impl.h
 *	  The per-ISA kernel families behind distance.h.
 *
 * Only distance*.c, the unit tests and the kernel benchmark include this:
 * they need to call a given variant directly, whatever DistanceInit() chose
 * on this CPU.  Everything else goes through the pointers in distance.h.
 */
#ifndef VDB_DISTANCE_IMPL_H
#define VDB_DISTANCE_IMPL_H

#include "distance.h"

/*
 * One family of kernels compiled for one instruction set.
 */
typedef struct DistanceVariant
{
	const char *name;			/* "avx512", "avx2" or "scalar" */
	bool		(*supported) (void);	/* can this CPU run it? */
	DistanceKernel l2_squared;
	DistanceKernel inner_product;
	DistanceKernel l1;
	CosinePartsKernel cosine_parts;
	Sq8L2Kernel sq8_l2_squared;
	Sq8DotKernel sq8_dot;
	Sq8IntL2Kernel sq8_int_l2;
} DistanceVariant;

/*
 * The compiled-in families, best first; the last one is the portable C
 * family, which every CPU supports.  DistanceInit() takes the first one
 * whose supported() is true.
 */
extern const DistanceVariant *const DistanceVariants[];
extern const int DistanceVariantCount;

extern const DistanceVariant DistanceVariantScalar;

extern void DistanceUse(const DistanceVariant *v);

#if defined(__x86_64__) && defined(__GNUC__)
#define VDB_HAVE_X86_KERNELS 1
extern const DistanceVariant DistanceVariantAvx2;
extern const DistanceVariant DistanceVariantAvx512;
#endif

#endif							/* VDB_DISTANCE_IMPL_H */
