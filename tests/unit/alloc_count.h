/* alloc_count.h - counts every malloc, calloc and realloc the test's code
 * makes (the test links with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc),
 * so a test can assert that a path allocates nothing, or only so much.
 * Included by one source file per test program. */
#ifndef STUBD_TEST_ALLOC_COUNT_H
#define STUBD_TEST_ALLOC_COUNT_H

#include <stddef.h>

static unsigned long allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

void *__wrap_malloc(size_t size)
{
	allocations++;
	return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	allocations++;
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	allocations++;
	return __real_realloc(p, size);
}

#endif
