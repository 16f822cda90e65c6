// Counts a process's malloc and free calls, for scripts/poll-counts.sh (a measuring aid, not
// part of the daemon). Built as a shared object and loaded with LD_PRELOAD; the counts live in
// the file named by $MALLOC_COUNT_FILE, mapped shared, so another process reads them while
// this one runs: two little-endian 64-bit numbers, allocations (malloc, calloc, realloc,
// aligned allocations) then frees (free, and realloc to 0 bytes is not told apart).
//   cc -O2 -shared -fPIC -o malloc-count.so scripts/malloc-count.c
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);

static uint64_t* counts; // [0] allocations, [1] frees; null until mapped

__attribute__((constructor)) static void map_counts(void) {
    const char* path = getenv("MALLOC_COUNT_FILE");
    if (path == NULL || *path == '\0') return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (ftruncate(fd, 4096) == 0) {
        void* p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) counts = (uint64_t*)p;
    }
    close(fd);
}

static inline void count(int which) {
    if (counts != NULL) __atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED);
}

void* malloc(size_t n) {
    count(0);
    return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
    count(0);
    return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
    count(0);
    return __libc_realloc(p, n);
}
void free(void* p) {
    if (p != NULL) count(1);
    __libc_free(p);
}
void* memalign(size_t align, size_t n) {
    count(0);
    return __libc_memalign(align, n);
}
void* aligned_alloc(size_t align, size_t n) {
    count(0);
    return __libc_memalign(align, n);
}
int posix_memalign(void** out, size_t align, size_t n) {
    if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
    count(0);
    void* p = __libc_memalign(align, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
